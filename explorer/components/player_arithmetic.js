// The player's words and the lesson: the titles and legends written once per trace, the window's
// arithmetic (patch ⊙ kernel = products, then the sum written out) drawn each frame, and the
// screen reader's account of it. Methods of Player (player.js mixes them in).

const SPEAK_DELAY_MS = 250; // holding → down steps many times; speak once the player settles

/** The longest text among the numbers `values` would be written as (characters). */
function longestText(values) {
  let longest = 1;
  for (const v of values) longest = Math.max(longest, displayValue(v).length);
  return longest;
}

/** "rows 2 to 4, columns 5 to 7" for window k: where the window lies, in words. */
function windowSpan(player, k) {
  const [r0, c0] = windowOrigin(player.header, k);
  const d = player.header.dilation;
  const r1 = r0 + d * (player.kh - 1);
  const c1 = c0 + d * (player.kw - 1);
  return `rows ${r0} to ${r1}, columns ${c0} to ${c1}`;
}

const arithmeticMethods = {
  prepareText() {
    const h = this.header;
    const p = h.padding;
    const mode = { zeros: "zeros", reflect: "mirrored edge values", replicate: "repeated edge values" };
    const settings = [];
    if (h.stride > 1) settings.push(`stride ${h.stride}`);
    if (h.dilation > 1) settings.push(`dilation ${h.dilation}`);
    const extra = settings.length ? ` · ${settings.join(" · ")}` : "";
    this.inSize = p ? `${this.hp - 2 * p}×${this.wp - 2 * p}, padded to ${this.hp}×${this.wp}` : `${this.hp}×${this.wp}`;
    const q = (id) => this.root.querySelector(`[data-testid="${id}"]`);
    q("cp-in-title").textContent = p ? `Input ${this.inSize}${extra}` : `Input ${this.hp}×${this.wp} (no padding)${extra}`;
    q("cp-pad-legend").textContent = p ? `padding: ${p} cell${p > 1 ? "s" : ""} of ${mode[h.padding_mode]}` : "no padding";
    this.root.querySelector(".cp-key-pad").style.display = p ? "" : "none";
    q("cp-out-title").textContent = `Output ${this.oh}×${this.ow}`;
    q("cp-kernel-caption").textContent = h.flip ? "kernel, rotated 180°" : "kernel";
    const stops = this.diverging.map((c, i) => `${rgb(c)} ${(100 * i) / (this.diverging.length - 1)}%`);
    this.root.querySelector(".cp-colourbar").style.background = `linear-gradient(90deg, ${stops.join(",")})`;
    q("cp-scale-lo").textContent = displayValue(-this.sumMax);
    q("cp-scale-hi").textContent = displayValue(this.sumMax);

    // The three small grids: kh×kw spans each, built once; the kernel's never change.
    for (const name of ["patch", "kernel", "products"]) {
      const grid = this.el[name];
      grid.replaceChildren(...Array.from({ length: this.kh * this.kw }, () => document.createElement("span")));
      grid.style.gridTemplateColumns = `repeat(${this.kw}, calc(${this.chars[name]}ch + 0.7em))`;
    }
    const { kernel } = this.trace;
    this.el.kernel.childNodes.forEach((span, i) => {
      const c = this.divergingOf(kernel[i], this.kernelMax);
      span.textContent = displayValue(kernel[i]);
      span.style.background = rgb(c);
      span.style.color = textOn(c);
    });

    this.root.classList.toggle("cp-long-sums", this.kh * this.kw > MAX_WRITTEN_TERMS);
    this.el.scrub.max = String(this.n);
    this.el.speed.value = String(Math.round(speedToSlider(this.state.speed)));
    this.showSpeed();
    this.showScore();
  },

  renderArithmetic(k, cells, outRow, outCol, asking) {
    const patch = this.el.patch.childNodes;
    const products = this.el.products.childNodes;
    const { padded, kernel, sums } = this.trace;
    const hovering = this.state.preview !== null;
    this.el.calcTitle.textContent = asking
      ? "Your turn: this window"
      : hovering
        ? "The window under the pointer"
        : "This window";
    this.el.patch.classList.toggle("cp-empty", k < 0);
    this.el.products.classList.toggle("cp-empty", k < 0);
    this.el.products.classList.toggle("cp-hidden", asking);
    if (k < 0) {
      this.el.terms.textContent = "press play, or step";
      this.el.rel.textContent = "→";
      this.el.sum.textContent = "–";
      this.el.note.textContent = "";
      this.el.target.textContent = "output[–, –]";
      return;
    }
    const values = new Float64Array(cells.length);
    for (let t = 0; t < cells.length; t++) {
      const [r, c] = cells[t];
      const v = padded[r * this.wp + c];
      const g = this.grayOf(v);
      paintCell(patch[t], displayValue(v), g);
      // value * weight: one correctly rounded double multiplication, as NumPy's products.
      const product = v * kernel[t];
      values[t] = product;
      const pc = asking ? [240, 242, 246] : this.divergingOf(product, this.productMax);
      paintCell(products[t], asking ? "?" : displayValue(product), pc);
    }
    if (asking) {
      const count = cells.length;
      const marks = Array(Math.min(count, MAX_WRITTEN_TERMS)).fill("?").join(` +${GLUE}`);
      this.el.terms.textContent = count > MAX_WRITTEN_TERMS ? `${marks} ${termsInAll(count)}` : marks;
      this.el.rel.textContent = "=";
      this.el.sum.textContent = "?";
      this.el.note.textContent = "";
    } else {
      const written = writtenSum(values, sums[k]); // NumPy's sum, not re-added here
      this.el.terms.textContent = written.terms;
      this.el.rel.textContent = written.relation;
      this.el.sum.textContent = written.total;
      this.el.note.textContent = written.note ? `(${written.note})` : "";
    }
    this.el.target.textContent = `output[${outRow}, ${outCol}]`;
  },

  /** The screen reader's account of the window shown, once the player settles (not per frame
   * while playing: a live region read 60 times a second says nothing). */
  speakSoon(k, outRow, outCol, asking) {
    clearTimeout(this.speakTimer);
    const playing = this.state.playing;
    this.speakTimer = setTimeout(() => {
      let text;
      if (playing) text = "Playing.";
      else if (k < 0) text = `Window 0 of ${formatCount(this.n)}: nothing computed yet.`;
      else {
        const where = `Window ${formatCount(k + 1)} of ${formatCount(this.n)}, output row ${outRow} column ${outCol}`;
        text = asking ? `${where}: your turn, what is the sum?` : `${where}: sum = ${displayValue(this.trace.sums[k])}`;
        if (this.state.preview !== null) text = `Under the pointer: ${text}`;
      }
      if (this.el.live.textContent !== text) this.el.live.textContent = text;
      const done = this.state.position;
      this.el.inStatic.setAttribute(
        "aria-label",
        k < 0
          ? `The input, ${this.inSize}.`
          : `The input, ${this.inSize}; the window covers ${windowSpan(this, k)}.`,
      );
      // The last cell computed, with its value: the output's text alternative (its picture
      // cannot be read out), hidden while it is a question's answer.
      const last = done > 0 && !asking ? ` The last, output[${Math.floor((done - 1) / this.ow)}, ${(done - 1) % this.ow}], is ${displayValue(this.trace.sums[done - 1])}.` : "";
      this.el.outStatic.setAttribute("aria-label", `The output, ${this.oh}×${this.ow}: ${formatCount(done)} of ${formatCount(this.n)} cells computed.${last}`);
    }, playing ? 0 : SPEAK_DELAY_MS);
  },
};
