// The thumbnail grid: buttons (role="radio" in a radiogroup) that wrap to the width, each
// showing its tile of one sprite sheet. A click (or Enter/Space) reports the thumbnail's key as
// a trigger; the arrow keys, Home and End move the focus (one Tab stop: roving tabindex).

const PENDING_MS = 5000; // how long a click's choice stays on screen awaiting the server
const SAFE_URL = /^[A-Za-z0-9_\-./:%?=&]+$/;

class ThumbnailGrid {
  constructor(root) {
    this.root = root;
    this.buttons = [];
    this.items = [];
    this.clicks = 0;
    this.pending = null;
    this.sheet = "";
    this.send = null;
    root.addEventListener("click", (event) => this.onClick(event));
    root.addEventListener("keydown", (event) => this.onKey(event));
  }

  update(data, send) {
    this.send = send;
    const root = this.root;
    this.items = readItems(data);
    root.setAttribute("aria-label", String(data.label || "Pictures"));
    root.style.setProperty("--tn-tile", `${Math.max(24, Number(data.tile) || 56)}px`);
    root.style.setProperty("--tn-cols", String(Math.max(1, data.columns | 0)));
    root.style.setProperty("--tn-rows", String(Math.max(1, data.rows | 0)));
    root.toggleAttribute("data-crisp", Boolean(data.crisp));
    root.toggleAttribute("data-captions", this.items.some((it) => it.caption));
    this.loadSheet(typeof data.sheet === "string" ? data.sheet : "");
    while (this.buttons.length < this.items.length) this.buttons.push(this.makeButton());
    while (this.buttons.length > this.items.length) this.buttons.pop().remove();
    const shown = shownChoice(data.selected ?? null, this.pending, Date.now());
    this.pending = shown.pending;
    this.items.forEach((item, i) => this.fill(this.buttons[i], item, i, data));
    this.mark(shown.chosen);
  }

  makeButton() {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "tn-item";
    b.setAttribute("role", "radio");
    b.dataset.testid = "tn-item";
    const pic = document.createElement("span");
    pic.className = "tn-pic";
    pic.setAttribute("aria-hidden", "true");
    const caption = document.createElement("span");
    caption.className = "tn-caption";
    caption.setAttribute("aria-hidden", "true");
    b.append(pic, caption);
    this.root.append(b);
    return b;
  }

  fill(b, item, i, data) {
    b.dataset.key = item.key;
    b.setAttribute("aria-label", item.name);
    b.title = item.name;
    b.firstChild.style.backgroundPosition = sheetPosition(i, data.columns | 0, data.rows | 0);
    if (b.lastChild.textContent !== item.caption) b.lastChild.textContent = item.caption;
  }

  /** Mark `key` chosen; the Tab stop is the focused thumbnail, else the chosen one. */
  mark(key) {
    const focused = this.buttons.indexOf(this.root.getRootNode().activeElement);
    let stop = focused;
    this.buttons.forEach((b, i) => {
      const chosen = b.dataset.key === key;
      b.setAttribute("aria-checked", chosen ? "true" : "false");
      if (chosen && stop < 0) stop = i;
    });
    stop = Math.max(0, stop);
    this.buttons.forEach((b, i) => {
      b.tabIndex = i === stop ? 0 : -1;
    });
  }

  loadSheet(url) {
    if (url === this.sheet || (url && !SAFE_URL.test(url))) return;
    this.sheet = url;
    const show = (src) => this.root.style.setProperty("--tn-sheet", src ? `url("${src}")` : "none");
    show(url);
    if (!url) return;
    // A run that is replaced at once may drop the file just before the browser asks for it;
    // the next run serves it again: try again a few times.
    let tries = 0;
    const probe = new Image();
    probe.onerror = () => {
      if (this.sheet !== url || tries >= 3) return;
      tries += 1;
      setTimeout(() => {
        if (this.sheet !== url) return;
        const again = `${url}${url.includes("?") ? "&" : "?"}try=${tries}`;
        probe.src = again;
        show(again);
      }, 400 * tries);
    };
    probe.src = url;
  }

  onClick(event) {
    const b = event.target.closest ? event.target.closest(".tn-item") : null;
    if (!b || !this.root.contains(b) || b.dataset.key === undefined) return;
    this.clicks += 1;
    this.pending = { key: b.dataset.key, until: Date.now() + PENDING_MS };
    this.mark(b.dataset.key);
    if (this.send) this.send("pick", pickValue(b.dataset.key, this.clicks));
  }

  onKey(event) {
    const i = this.buttons.indexOf(event.target);
    if (i < 0 || event.altKey || event.ctrlKey || event.metaKey) return;
    const columns = rowLength(this.buttons.map((b) => b.offsetTop));
    const next = moveIndex(i, event.key, this.buttons.length, columns);
    if (next < 0) return;
    event.preventDefault();
    this.buttons.forEach((b, k) => {
      b.tabIndex = k === next ? 0 : -1;
    });
    this.buttons[next].focus();
  }
}

export default function mountThumbnails({ data, parentElement, setTriggerValue }) {
  const root = parentElement.querySelector(".tn-root");
  if (!root) return undefined;
  const grid = (root.__thumbnailGrid ||= new ThumbnailGrid(root));
  grid.update(data || {}, setTriggerValue);
  return undefined;
}
