// The player's layout: arranging the panels for the width it is given (three columns, or the two
// grids over the arithmetic), the small grids' font, and the canvases' size. Methods of Player
// (player.js mixes them in); nothing may overlap or leave the root at any width.

const MAX_SIDE_CSS = 540; // largest grid side in CSS px: big on a projector, still fits a laptop
const WIDE_MIN = 860; // below this root width the arithmetic moves under the two grids…
const NARROW_WIDE_MIN = 600; // …unless it would then not fit the screen's height (see layout)
const PRESENTER_WIDE_MIN = 700; // the projector layout keeps one row as long as it can
const PHONE_MAX = 600; // below this root width the controls stick to the screen's bottom
const ARITH_PX = 20; // the arithmetic's font (up to 24 on wide screens): the largest text…
const PRESENTER_ARITH_PX = 28; // …and on a projector (at least 24 px, as the tests demand)
const MIN_MINI_PX = 9; // the small grids never get smaller than this

const layoutMethods = {
  scheduleLayout() {
    if (this.layoutFrame || this.destroyed) return;
    this.layoutFrame = requestAnimationFrame(() => {
      this.layoutFrame = 0;
      if (!this.destroyed) this.layout();
    });
  },

  /** Arrange the panels for the root's width, size the canvases to fit, draw what changes once
   * per trace. Nothing may overlap or leave the root at any width (tests/browser check it). */
  layout() {
    const root = this.root;
    const style = getComputedStyle(root);
    const W = root.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    this.laidOutWidth = root.clientWidth;
    this.dpr = window.devicePixelRatio || 1;
    root.classList.toggle("cp-presenter", this.presenter);
    root.classList.toggle("cp-phone", W < PHONE_MAX);
    const wide = W >= (this.presenter ? PRESENTER_WIDE_MIN : WIDE_MIN);
    this.arrange(W, wide);
    // A laptop or projector with the sidebar open: the arithmetic under the grids would push
    // the controls off the screen; beside them (smaller grids) the player fits the screen.
    if (!wide && W >= NARROW_WIDE_MIN && root.getBoundingClientRect().height > 0.9 * window.innerHeight) {
      this.arrange(W, true);
    }
    this.laidOutWidth = root.clientWidth;
    if (this.hooks) {
      this.hooks.layoutWidth = root.clientWidth;
      this.hooks.layouts += 1;
      this.hooks.layout = this.lastArrangement;
    }
    this.render();
  },

  /** Lay the panels out `wide` (three columns) or not (two grids over the arithmetic). */
  arrange(W, wide) {
    const root = this.root;
    // A little larger on wide screens, where the grids are large too.
    const arith = this.presenter ? PRESENTER_ARITH_PX : Math.round(Math.min(1.2, Math.max(1, W / 1200)) * ARITH_PX);
    root.dataset.layout = wide ? "wide" : "narrow";
    root.style.setProperty("--cp-arith", `${arith}px`);
    const gap = parseFloat(getComputedStyle(this.el.stage).columnGap) || 16;

    // The small grids' widths at the arithmetic's font (their columns are fixed in ch).
    this.setMiniFont(arith);
    this.el.eq.dataset.arrangement = "row";
    const width = (el) => el.getBoundingClientRect().width;
    const [a, b, c] = [width(this.el.patch), width(this.el.kernel), width(this.el.products)];
    const op = width(root.querySelector(".cp-op")) + 2 * 0.5 * arith; // the sign and its gaps
    const left = a + b + op;
    const right = c + op;
    // Three arrangements of "patch ⊙ kernel = products": one row, two rows (patch ⊙ kernel
    // over = products), one grid a row. Each gets the largest font (≤ the arithmetic's) that
    // fits the room across and keeps the grids' height within a budget (a 7×7 kernel in one
    // column would be taller than the screen). The earliest arrangement, in order of
    // preference, within 10% of the best font wins: normally one row (the shortest player),
    // on a projector two rows (narrower, so the grids get the width; the screen has the
    // height), where the font must also reach 24 px.
    const rows = [1, 2, 3];
    const needs = [left + right, Math.max(left, right), Math.max(a, b, c)].map((need) => need * 1.03 + 4);
    const minGrids = Math.max(2 * 150, (this.presenter ? 0.36 : 0.42) * W);
    const room = wide ? W - 2 * gap - minGrids : W;
    const budget = Math.max(220, (wide ? 0.45 : 0.35) * window.innerHeight);
    const gridHeight = this.el.patch.getBoundingClientRect().height / arith; // per px of font
    const across = needs.map((need) => Math.min(arith, (arith * room) / need));
    const fonts = across.map((f, i) => Math.min(f, (budget / rows[i] - 24) / gridHeight));
    const best = Math.max(...fonts);
    const order = this.presenter && wide ? [1, 0, 2] : [0, 1, 2];
    let choice = order.find((i) => fonts[i] >= 0.9 * best && (!this.presenter || fonts[i] >= 24));
    if (choice === undefined) choice = order.find((i) => fonts[i] >= 0.9 * best);
    let mini = fonts[choice];
    if (mini < MIN_MINI_PX) {
      // Too small to read: let the player grow taller (the page scrolls) rather than shrink the
      // numbers further; across, though, nothing may stick out of the frame.
      if (across[choice] < MIN_MINI_PX) choice = across.indexOf(Math.max(...across));
      mini = Math.min(MIN_MINI_PX, across[choice]);
    }
    this.el.eq.dataset.arrangement = ["row", "two", "stack"][choice];
    const calcWidth = wide ? Math.min(room, Math.max(18 * 16, (needs[choice] * mini) / arith)) : W;
    this.setMiniFont(mini);
    // The output's title and colour bar need some room, however small the output is.
    const gridSpace = wide ? W - calcWidth - 2 * gap : W - gap;
    const minOut = Math.min(140, gridSpace / 2);
    const share = this.wp / (this.wp + this.ow);
    const outWidth = Math.max(minOut, Math.floor(gridSpace * (1 - share)));
    const inWidth = Math.floor(gridSpace - outWidth);
    this.el.stage.style.gridTemplateColumns = wide
      ? `${inWidth}px ${Math.floor(calcWidth)}px ${outWidth}px`
      : `${inWidth}px ${outWidth}px`;
    let cssCell = Math.min(inWidth / this.wp, outWidth / this.ow, MAX_SIDE_CSS / Math.max(this.hp, this.wp));
    this.sizeCanvases(cssCell, arith);
    this.fitColumns(wide, W, gap, inWidth, minOut);

    if (this.presenter) {
      // On a projector the whole player must fit the screen: shrink the grids (or, when the
      // arithmetic is the taller column, its small grids) until the root's bottom is in view.
      for (let i = 0; i < 5; i++) {
        const rect = root.getBoundingClientRect();
        const top = Math.min(Math.max(rect.top, 0), 0.3 * window.innerHeight);
        const excess = top + rect.height - (window.innerHeight - 8);
        if (excess <= 0) break;
        const gridsTaller = wide
          ? this.el.inPanel.offsetHeight >= this.el.calc.offsetHeight - 1
          : cssCell * this.hp > 160;
        if (gridsTaller && cssCell * this.dpr > 1) {
          cssCell = Math.max(1 / this.dpr, cssCell - excess / this.hp - 1 / this.dpr);
          this.sizeCanvases(cssCell, arith);
          this.fitColumns(wide, W, gap, inWidth, minOut);
        } else {
          const current = parseFloat(this.el.patch.style.fontSize);
          const calcHeight = this.el.calc.offsetHeight;
          this.setMiniFont(Math.max(MIN_MINI_PX, current * (1 - (excess + 4) / calcHeight)));
        }
      }
    }
    this.lastArrangement = { W, wide, calcWidth, inWidth, cssCell, mini, arrangement: choice, fonts };
  },

  /** Columns as wide as the canvases they hold (their titles get some room too); the width
   * left over goes to the arithmetic, whose written sum then breaks onto fewer lines. */
  fitColumns(wide, W, gap, inWidth, minOut) {
    const inCol = Math.ceil(Math.max((this.wp * this.cell) / this.dpr, Math.min(inWidth, 180)));
    const outCol = Math.ceil(Math.max((this.ow * this.cell) / this.dpr, minOut));
    this.el.stage.style.gridTemplateColumns = wide
      ? `${inCol}px ${Math.floor(W - inCol - outCol - 2 * gap)}px ${outCol}px`
      : `${inCol}px ${Math.floor(W - gap - inCol)}px`;
    this.reserveWrittenHeight();
  },

  /** Keep the written sum's height fixed from window to window: as many lines as its longest
   * possible text takes at this width. Otherwise the player (and the page under it) would jump
   * whenever a sum wraps onto one line more or less while playing. */
  reserveWrittenHeight() {
    const count = this.kh * this.kw;
    const terms = Math.min(count, count > MAX_WRITTEN_TERMS ? SHORT_TERMS : count);
    const widest = "8".repeat(Math.max(1, this.chars.products - 1));
    let longest = Array(terms).fill(widest).join(` +${GLUE}`);
    if (count > MAX_WRITTEN_TERMS) longest += ` ${termsInAll(count)}`;
    const sumChars = Math.max(longestText(this.trace.sums), 2);
    const written = this.el.terms.parentElement;
    const saved = [this.el.terms.textContent, this.el.rel.textContent, this.el.sum.textContent];
    written.style.minHeight = "";
    this.el.terms.textContent = `−${longest}`;
    this.el.rel.textContent = "≈";
    this.el.sum.textContent = "−" + "8".repeat(sumChars - 1);
    written.style.minHeight = `${written.getBoundingClientRect().height}px`;
    [this.el.terms.textContent, this.el.rel.textContent, this.el.sum.textContent] = saved;
  },

  setMiniFont(px) {
    for (const name of ["patch", "kernel", "products"]) this.el[name].style.fontSize = `${px}px`;
  },

  /** Size the four canvases to `cssCell` CSS px per cell and draw the input and the output. */
  sizeCanvases(cssCell, arith) {
    // Whole device pixels per cell keep every cell edge crisp; both grids share the size, so
    // the output looks as much smaller than the input as it is.
    this.cell = Math.max(1, Math.floor(cssCell * this.dpr));
    this.gap = this.cell >= 10 ? Math.max(1, Math.round(this.dpr)) : 0;
    const size = (canvas, rows, cols) => {
      canvas.width = cols * this.cell;
      canvas.height = rows * this.cell;
      canvas.style.width = `${canvas.width / this.dpr}px`;
      canvas.style.height = `${canvas.height / this.dpr}px`;
    };
    size(this.el.inStatic, this.hp, this.wp);
    size(this.el.inOverlay, this.hp, this.wp);
    size(this.el.outStatic, this.oh, this.ow);
    size(this.el.outOverlay, this.oh, this.ow);
    const style = getComputedStyle(this.root);
    this.colours = {
      bg2: style.getPropertyValue("--cp-bg2").trim() || "#f0f2f6",
      border: style.getPropertyValue("--cp-border").trim() || "rgba(49,51,63,0.2)",
      window: style.getPropertyValue("--cp-window").trim() || "#f59e0b",
      pad: style.getPropertyValue("--cp-pad").trim() || "#8b5cf6",
    };
    this.font = style.fontFamily;
    // Numbers in the cells stay smaller than the arithmetic, which is the lesson.
    const cap = Math.floor(0.8 * arith * this.dpr);
    const numbers = this.header.show_numbers;
    this.inFont = numbers ? Math.min(cap, this.fitFont(this.trace.padded)) : 0;
    this.outFont = numbers ? Math.min(cap, this.fitFont(this.trace.sums)) : 0;
    this.drawInput();
    this.painted = 0;
    this.clearOutput();
  },
};
