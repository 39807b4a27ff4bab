// The player's colours: a colour map's anchors interpolated, and text that stays readable on any
// cell (explorer/render.py applies the same rules to the pictures).

/** Colour of t ∈ [0, 1] along evenly spaced anchors, as [r, g, b]. */
function interpolate(anchors, t) {
  const x = Math.min(1, Math.max(0, t)) * (anchors.length - 1);
  const i = Math.min(anchors.length - 2, Math.floor(x));
  const f = x - i;
  const a = anchors[i];
  const b = anchors[i + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f));
}

const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;
/** Write a small grid's cell: its number on its colour. Only what changed is written: while
 * playing, 3·kh·kw cells change every frame, and unchanged writes still cost style work. */
function paintCell(span, text, colour) {
  const background = rgb(colour);
  if (span.textContent !== text) span.textContent = text;
  if (span.dataset.bg !== background) {
    span.dataset.bg = background;
    span.style.background = background;
    span.style.color = textOn(colour);
  }
}

/** WCAG relative luminance of an [r, g, b] colour. */
function luminance(c) {
  const f = (v) => (v <= 10.31 ? v / 3294.6 : Math.pow((v / 255 + 0.055) / 1.055, 2.4));
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
}

// Black or white text, whichever contrasts more with the cell: for any colour one of the two
// reaches 4.58:1 (a softer dark grey would leave mid-grey cells under WCAG's 4.5:1).
const textOn = (c) => {
  const l = luminance(c);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000000" : "#ffffff";
};
