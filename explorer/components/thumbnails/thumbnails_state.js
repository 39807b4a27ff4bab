// The thumbnail grid's pure part: keys, the grid's rows, where a tile sits on its sheet, what a
// click reports, which thumbnail shows as chosen. No DOM, no timers: Node runs this file alone
// (tests/test_thumbnails.py). explorer/components/__init__.py puts it in front of
// thumbnails.js; the two are one ES module in the browser, with no build step.

/** The thumbnail the arrow keys (and Home/End) move to from `index` in a grid of `count`
 * thumbnails, `columns` a row; -1 for any other key. Up/Down stay put at the first/last row. */
function moveIndex(index, key, count, columns) {
  if (count <= 0) return -1;
  const cols = Math.max(1, Math.floor(columns) || 1);
  const at = Math.min(Math.max(0, index | 0), count - 1);
  switch (key) {
    case "ArrowRight":
      return Math.min(count - 1, at + 1);
    case "ArrowLeft":
      return Math.max(0, at - 1);
    case "ArrowDown":
      return at + cols < count ? at + cols : at;
    case "ArrowUp":
      return at - cols >= 0 ? at - cols : at;
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return -1;
  }
}

/** How many thumbnails the first row holds, from every thumbnail's top edge in pixels (the
 * browser wraps the grid to its width, so this is what the Up and Down keys step by). */
function rowLength(tops) {
  let n = 0;
  while (n < tops.length && Math.abs(tops[n] - tops[0]) < 1) n += 1;
  return Math.max(1, n);
}

/** CSS background-position of tile `index` on a sheet `columns` × `rows` tiles large, when
 * the sheet is scaled to `columns` × `rows` times the thumbnail (percentages: any size). */
function sheetPosition(index, columns, rows) {
  const col = index % columns;
  const row = Math.floor(index / columns);
  const x = columns > 1 ? (100 * col) / (columns - 1) : 0;
  const y = rows > 1 ? (100 * row) / (rows - 1) : 0;
  return `${x}% ${y}%`;
}

/** The grid's items from the server's data: [{key, name, caption}], dropping malformed ones. */
function readItems(data) {
  const items = data && Array.isArray(data.items) ? data.items : [];
  return items
    .filter((it) => Array.isArray(it) && typeof it[0] === "string" && typeof it[1] === "string")
    .map(([key, name, caption]) => ({ key, name, caption: typeof caption === "string" ? caption : "" }));
}

/** What a click reports to Python: the key, and the click's number in this grid, so two clicks
 * on the same thumbnail are two events. */
function pickValue(key, clicks) {
  return { key: String(key), n: clicks };
}

/** The thumbnail to show as chosen: the server's choice, unless a click is still on its way
 * (`pending`: {key, until}, until a time in ms) and the server has not caught up with it — a
 * run that started before the click must not undo it on the screen. Returns {chosen, pending}. */
function shownChoice(serverChoice, pending, now) {
  if (!pending || pending.until <= now || pending.key === serverChoice) {
    return { chosen: serverChoice, pending: null };
  }
  return { chosen: pending.key, pending };
}
