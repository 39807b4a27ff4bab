// The convolution player's view: it draws what player_state.js (joined in front of this file by
// explorer/components/__init__.py) decides, and plays back a convolution NumPy already computed.
//
// It receives explorer/player.py's payload (the padded input, the kernel and the N output sums
// as float64) and never recomputes the convolution: the sums shown are NumPy's. Each window's
// cells are derived from (out_row·stride, out_col·stride) + dilation·(i, j), exactly as
// window_trace does, and each product is shown as value * weight — one IEEE-754 double
// multiplication, correctly rounded in NumPy and in JavaScript alike, so it equals
// trace.products bit for bit (the browser tests compare every window's texts with NumPy's).
//
// Streamlit calls this module's default export again whenever `data` changes (and on reruns
// that resend the same data) but does not run the previous call's cleanup, so the running
// player is kept on the parent element: the same trace (same trace_id) keeps it, untouched;
// a new trace stops it and builds a new one.

const MAGIC = "CNP1";
const MAX_SIDE_CSS = 540; // largest grid side in CSS px: big on a projector, still fits a laptop
const WIDE_MIN = 860; // below this root width the arithmetic moves under the two grids…
const NARROW_WIDE_MIN = 600; // …unless it would then not fit the screen's height (see layout)
const PRESENTER_WIDE_MIN = 700; // the projector layout keeps one row as long as it can
const PHONE_MAX = 600; // below this root width the controls stick to the screen's bottom
const ARITH_PX = 20; // the arithmetic's font (up to 24 on wide screens): the largest text…
const PRESENTER_ARITH_PX = 28; // …and on a projector (at least 24 px, as the tests demand)
const MIN_MINI_PX = 9; // the small grids never get smaller than this
const REPORT_DELAY_MS = 300; // holding → down steps many times; tell Python once it settles
const SPEAK_DELAY_MS = 250; // the same for the screen reader's live region
// Icons as inline SVG: emoji media symbols (⏮ ⏸) are missing from many systems' fonts.
const PLAY_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M7 4.5v15l12-7.5z"/></svg>';
const PAUSE_ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6 5h4.5v14H6zM13.5 5H18v14h-4.5z"/></svg>';

// ------------------------------------------------------------------ colours

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

// ------------------------------------------------------------------ payload

/** Read explorer/player.py's bytes: {header, padded, kernel, sums}. */
function parsePayload(data) {
  if (!data) return null;
  const u8 = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (u8.length < 8 || String.fromCharCode(...u8.subarray(0, 4)) !== MAGIC) {
    throw new Error("conv_player: the data is not a player payload");
  }
  // The Uint8Array may be a view at any offset into a protobuf buffer, so read the doubles
  // through a DataView (little-endian, unaligned reads allowed) rather than a Float64Array.
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const headerLength = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(8, 8 + headerLength)));
  let offset = 8 + headerLength;
  const read = (count) => {
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, true);
    offset += 8 * count;
    return out;
  };
  const [hp, wp] = header.padded;
  const [kh, kw] = header.kernel;
  const [oh, ow] = header.out;
  return { header, padded: read(hp * wp), kernel: read(kh * kw), sums: read(oh * ow) };
}

/** The longest text among the numbers `values` would be written as (characters). */
function longestText(values) {
  let longest = 1;
  for (const v of values) longest = Math.max(longest, displayValue(v).length);
  return longest;
}

// ------------------------------------------------------------------ the player

class Player {
  constructor(parent, trace, setStateValue, memo) {
    this.parent = parent;
    this.trace = trace;
    this.setStateValue = setStateValue;
    this.memo = memo; // lives on the parent element: outlasts this player (a chosen speed)
    this.root = parent.querySelector(".cp-root");
    this.controller = new AbortController(); // removes every listener at once in destroy()
    const h = trace.header;
    this.header = h;
    [this.hp, this.wp] = h.padded;
    [this.kh, this.kw] = h.kernel;
    [this.oh, this.ow] = h.out;
    this.n = this.oh * this.ow;
    const speed = memo.chosenSpeed ?? h.speed;
    this.state = createPlayerState({ n: this.n, position: h.start, speed });
    this.quiz = createQuiz({ n: this.n, seedText: h.trace_id, right: h.score[0], asked: h.score[1] });
    this.painted = 0; // output cells currently painted on the fill layer
    this.raf = 0;
    this.lastTime = null;
    this.reportTimer = 0;
    this.speakTimer = 0;
    this.lastReported = JSON.stringify({ trace: h.trace_id, position: h.start, speed: h.speed });
    this.presenter = Boolean(h.presenter);
    this.hooks = null;

    const q = (id) => this.root.querySelector(`[data-testid="${id}"]`);
    this.el = {
      inStatic: this.root.querySelector('[data-layer="in-static"]'),
      inOverlay: this.root.querySelector('[data-layer="in-overlay"]'),
      outStatic: this.root.querySelector('[data-layer="out-static"]'),
      outOverlay: this.root.querySelector('[data-layer="out-overlay"]'),
      stage: this.root.querySelector(".cp-stage"),
      inPanel: q("cp-in"),
      calc: q("cp-calc"),
      outPanel: q("cp-out"),
      calcTitle: q("cp-calc-title"),
      eq: this.root.querySelector(".cp-eq"),
      patch: q("cp-patch"),
      kernel: q("cp-kernel"),
      products: q("cp-products"),
      terms: q("cp-terms"),
      rel: q("cp-rel"),
      sum: q("cp-sum"),
      note: q("cp-note"),
      target: q("cp-target"),
      play: q("cp-play"),
      scrub: q("cp-scrub"),
      counter: q("cp-counter"),
      speed: q("cp-speed"),
      speedText: q("cp-speed-text"),
      live: q("cp-live"),
      quizForm: q("cp-quiz"),
      answer: q("cp-answer"),
      verdict: q("cp-verdict"),
      quizToggle: q("cp-quiz-toggle"),
      score: q("cp-score"),
    };
    this.setHooks(h.test_hooks);
    if (this.hooks) this.hooks.constructions += 1;
    this.prepareValues();
    this.prepareText();
    this.bindControls();
    this.layout();
    // A new container width, or a new window height (the layout fits the screen's height):
    // lay out again, once per frame at most.
    this.layoutFrame = 0;
    this.resizeObserver = new ResizeObserver(() => {
      if (this.root.clientWidth !== this.laidOutWidth) this.scheduleLayout();
    });
    this.resizeObserver.observe(this.root);
    const opts = { signal: this.controller.signal };
    window.addEventListener("resize", () => this.scheduleLayout(), opts);
    // Widths are measured in the page's font: measure again once it has loaded.
    if (document.fonts && document.fonts.status !== "loaded") document.fonts.ready.then(() => this.scheduleLayout());
  }

  scheduleLayout() {
    if (this.layoutFrame || this.destroyed) return;
    this.layoutFrame = requestAnimationFrame(() => {
      this.layoutFrame = 0;
      if (!this.destroyed) this.layout();
    });
  }

  /** Expose window.__playerTest for the browser tests and the bench — only when asked. */
  setHooks(on) {
    if (!on) {
      this.hooks = null;
      return;
    }
    const hooks = testHooks();
    Object.assign(hooks, {
      format: formatValue,
      writtenSum,
      windowCentredAt: (r, c) => windowCentredAt(this.header, r, c),
      snapshot: () => ({
        position: this.state.position,
        playing: this.state.playing,
        speed: this.state.speed,
        speedChosen: this.state.speedChosen,
        preview: this.state.preview,
        n: this.n,
        quiz: { on: this.quiz.on, window: this.quiz.window, revealed: this.quiz.revealed, right: this.quiz.right, asked: this.quiz.asked },
      }),
    });
    this.hooks = hooks;
  }

  /** The same trace came again with other view options (a rerun): apply them in place. */
  update(header) {
    this.setHooks(header.test_hooks);
    const [right, asked] = header.score;
    if (asked > this.quiz.asked) {
      // Python knows a newer score (another player of this session counted it).
      this.quiz.right = right;
      this.quiz.asked = asked;
      this.showScore();
    }
    if (Boolean(header.presenter) !== this.presenter) {
      this.presenter = Boolean(header.presenter);
      this.layout();
    }
  }

  // ---- one-off preparation per trace

  prepareValues() {
    const { padded, kernel, sums } = this.trace;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of padded) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.inLo = lo;
    this.inSpan = hi > lo ? hi - lo : 1;
    const maxAbs = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    // Diverging colours are symmetric about 0 over all the sums, so white always means 0.
    this.sumMax = maxAbs(sums) || 1;
    this.kernelMax = maxAbs(kernel) || 1;
    this.productMax = this.kernelMax * (maxAbs(padded) || 1);
    this.diverging = this.header.diverging;

    // The small grids' columns are as wide as their longest number ever gets, so the grids
    // keep their size from window to window (no jumping) and the layout can be computed once.
    const distinct = [...new Set(padded)];
    let productChars;
    if (distinct.length * kernel.length <= 60_000) {
      productChars = 1;
      for (const w of kernel) for (const v of distinct) productChars = Math.max(productChars, displayValue(v * w).length);
    } else {
      // Too many to write out: sign, integer digits of the largest product, 4 decimals.
      productChars = 1 + String(Math.floor(this.productMax)).length + 5;
    }
    this.chars = { patch: longestText(distinct), kernel: longestText(kernel), products: productChars };
  }

  grayOf(v) {
    const g = Math.round((255 * (v - this.inLo)) / this.inSpan);
    return [g, g, g];
  }

  divergingOf(v, max) {
    return interpolate(this.diverging, 0.5 + v / (2 * max));
  }

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
  }

  showSpeed() {
    this.el.speedText.textContent = speedText(this.state.speed);
    this.el.speed.setAttribute("aria-valuetext", speedText(this.state.speed));
    this.el.speed.value = String(Math.round(speedToSlider(this.state.speed)));
  }

  showScore() {
    const { right, asked, on } = this.quiz;
    this.el.score.hidden = !on && asked === 0;
    this.el.score.textContent = `score ${right} / ${asked}`;
    this.el.score.title = `${right} right out of ${asked} asked`;
  }

  // ---- controls

  bindControls() {
    const opts = { signal: this.controller.signal };
    const on = (el, type, fn) => el.addEventListener(type, fn, opts);
    const q = (id) => this.root.querySelector(`[data-testid="${id}"]`);
    on(q("cp-start"), "click", () => this.apply("start"));
    on(q("cp-back"), "click", () => this.apply("back"));
    on(this.el.play, "click", () => this.apply("toggle"));
    on(q("cp-forward"), "click", () => this.apply("forward"));
    on(q("cp-end"), "click", () => this.apply("end"));
    on(this.el.scrub, "input", () => this.moved(this.state.jump(Number(this.el.scrub.value)), false));
    on(this.el.scrub, "change", () => this.reportSoon());
    on(this.el.speed, "input", () => {
      this.state.setSpeed(sliderToSpeed(Number(this.el.speed.value)));
      this.memo.chosenSpeed = this.state.speed;
      this.el.speedText.textContent = speedText(this.state.speed);
      this.el.speed.setAttribute("aria-valuetext", speedText(this.state.speed));
    });
    on(this.el.speed, "change", () => this.reportSoon());
    on(this.el.outStatic, "click", (e) => this.clickOutput(e));
    on(this.el.inStatic, "click", (e) => this.clickInput(e));
    on(this.el.inStatic, "mousemove", (e) => this.hoverInput(e));
    on(this.el.inStatic, "mouseleave", () => this.moved(this.state.hover(null), false));
    on(this.root, "keydown", (e) => this.onKey(e));
    on(this.el.quizToggle, "click", () => this.setQuiz(!this.quiz.on));
    on(this.el.quizForm, "submit", (e) => {
      e.preventDefault();
      this.submitAnswer();
    });
    on(q("cp-reveal"), "click", () => {
      if (this.quiz.giveUp()) this.answered();
    });
    on(q("cp-next"), "click", () => this.askAt(this.quiz.randomWindow(), true));
  }

  onKey(e) {
    const target = e.composedPath()[0] || {};
    const action = keyAction(e.key, { tag: target.tagName, type: target.type });
    if (!action) return;
    e.preventDefault(); // no page scrolling while the player has the keyboard
    this.apply(action);
  }

  /** Do what a button or key asks (see keyAction) and show it. */
  apply(action) {
    if (action === "slower" || action === "faster") {
      this.state.act(action);
      this.memo.chosenSpeed = this.state.speed;
      this.showSpeed();
      this.reportSoon();
      return;
    }
    const changed = this.state.act(action);
    if (this.state.playing) this.startLoop();
    this.moved(changed, true);
  }

  /** After the state changed: draw, and tell Python where we are once things settle. */
  moved(changed, report) {
    if (changed || !this.state.playing) this.render();
    if (this.quiz.on && !this.state.playing && this.state.preview === null) this.askHere();
    if (report || !this.state.playing) this.reportSoon();
  }

  cellAt(canvas, e, rows, cols) {
    const rect = canvas.getBoundingClientRect();
    const cellCss = this.cell / this.dpr;
    const r = Math.floor((e.clientY - rect.top) / cellCss);
    const c = Math.floor((e.clientX - rect.left) / cellCss);
    return r < 0 || c < 0 || r >= rows || c >= cols ? null : [r, c];
  }

  clickOutput(e) {
    // Clicking an output cell jumps to the window that computed it.
    const cell = this.cellAt(this.el.outStatic, e, this.oh, this.ow);
    if (cell) this.jumpTo(cell[0] * this.ow + cell[1] + 1);
  }

  clickInput(e) {
    // Clicking (or tapping) an input cell jumps to the window centred there.
    const cell = this.cellAt(this.el.inStatic, e, this.hp, this.wp);
    if (cell) this.jumpTo(windowCentredAt(this.header, cell[0], cell[1]) + 1);
  }

  jumpTo(position) {
    this.state.hover(null);
    this.moved(this.state.jump(position) || true, true);
  }

  hoverInput(e) {
    // As on Setosa's image-kernels page: the window centred on the pointer, with its
    // arithmetic, while the pointer is there; the paused position comes back when it leaves.
    // Not while playing (the animation owns the screen), nor while a question waits.
    if (this.state.playing || (this.quiz.on && !this.quiz.revealed)) return;
    const cell = this.cellAt(this.el.inStatic, e, this.hp, this.wp);
    const k = cell ? windowCentredAt(this.header, cell[0], cell[1]) : null;
    if (this.state.hover(k)) this.render();
  }

  startLoop() {
    cancelAnimationFrame(this.raf);
    clearTimeout(this.reportTimer); // no reruns while playing
    this.lastTime = null;
    const frame = (now) => {
      if (!this.state.playing) return;
      const dt = this.lastTime === null ? 0 : (now - this.lastTime) / 1000;
      this.lastTime = now;
      if (this.state.tick(dt)) this.render();
      if (this.state.playing) {
        this.raf = requestAnimationFrame(frame);
      } else {
        this.moved(true, true); // reached the end
      }
    };
    this.raf = requestAnimationFrame(frame);
  }

  reportSoon() {
    // Tell Python where we stopped and the pace the user chose (a rerun then keeps both, and
    // a reopened page opens there); never while playing: a rerun per frame would be absurd.
    clearTimeout(this.reportTimer);
    this.reportTimer = setTimeout(() => {
      if (this.state.playing) return;
      const view = {
        trace: this.header.trace_id,
        position: this.state.position,
        speed: this.state.speedChosen ? this.state.speed : null,
      };
      const text = JSON.stringify(view);
      if (text === this.lastReported) return;
      this.lastReported = text;
      this.setStateValue("view", view);
    }, REPORT_DELAY_MS);
  }

  // ---- "your turn"

  setQuiz(on) {
    this.quiz.on = on;
    this.el.quizToggle.setAttribute("aria-pressed", String(on));
    this.el.quizForm.hidden = !on;
    this.root.classList.toggle("cp-quizzing", on);
    if (on) {
      this.state.pause();
      this.state.hover(null);
      // The window the teacher paused on, else a random one (seeded by the trace).
      const k = this.state.position > 0 ? this.state.position - 1 : this.quiz.randomWindow();
      this.askAt(k, true);
    } else {
      this.quiz.window = -1;
      this.render();
    }
    this.showScore();
  }

  /** Moved while quizzing (a step, the scrub bar, the end of a play): ask about that window. */
  askHere() {
    const k = this.state.position - 1;
    if (k >= 0 && k !== this.quiz.window) this.askAt(k);
  }

  /** Ask about window k; `focus`: put the keyboard in the answer box (when the student asked
   * for a question, not when the teacher steps through windows with the arrow keys). */
  askAt(k, focus = false) {
    this.quiz.ask(k);
    this.state.jump(k + 1);
    this.el.answer.value = "";
    this.el.verdict.textContent = "";
    this.el.verdict.dataset.right = "";
    this.render();
    this.reportSoon();
    if (focus) this.el.answer.focus({ preventScroll: true });
  }

  submitAnswer() {
    const k = this.quiz.window;
    const verdict = this.quiz.answer(this.el.answer.value, this.trace.sums[k]);
    if (verdict === null) {
      if (!this.quiz.revealed) this.el.verdict.textContent = "Type a number, for example 8 or −0.25.";
      return;
    }
    this.answered();
  }

  /** The answer is in (or the student asked to see it): say so, show the working, report. */
  answered() {
    const { verdict, window: k } = this.quiz;
    const sum = displayValue(this.trace.sums[k]);
    let text;
    if (verdict.answer === null) text = `The sum is ${sum}: here is the working.`;
    else if (verdict.right) text = `Right: ${displayValue(verdict.answer)} is the sum (${sum}).`;
    else text = `Not quite: you wrote ${displayValue(verdict.answer)}, the sum is ${sum}. The working is above.`;
    this.el.verdict.textContent = text;
    this.el.verdict.dataset.right = String(verdict.right);
    this.showScore();
    this.render();
    this.setStateValue("score", { right: this.quiz.right, asked: this.quiz.asked });
  }

  // ---- layout

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
  }

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
  }

  /** Columns as wide as the canvases they hold (their titles get some room too); the width
   * left over goes to the arithmetic, whose written sum then breaks onto fewer lines. */
  fitColumns(wide, W, gap, inWidth, minOut) {
    const inCol = Math.ceil(Math.max((this.wp * this.cell) / this.dpr, Math.min(inWidth, 180)));
    const outCol = Math.ceil(Math.max((this.ow * this.cell) / this.dpr, minOut));
    this.el.stage.style.gridTemplateColumns = wide
      ? `${inCol}px ${Math.floor(W - inCol - outCol - 2 * gap)}px ${outCol}px`
      : `${inCol}px ${Math.floor(W - gap - inCol)}px`;
    this.reserveWrittenHeight();
  }

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
  }

  setMiniFont(px) {
    for (const name of ["patch", "kernel", "products"]) this.el[name].style.fontSize = `${px}px`;
  }

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
  }

  /** The largest font (device px) at which every value fits its cell; 0 if too small to read. */
  fitFont(values) {
    const ctx = this.el.inStatic.getContext("2d");
    let size = Math.floor(this.cell * 0.34);
    ctx.font = `${size}px ${this.font}`;
    let widest = 0;
    for (const v of new Set(values)) widest = Math.max(widest, ctx.measureText(displayValue(v)).width);
    const room = (this.cell - this.gap) * 0.86;
    if (widest > room) size = Math.floor((size * room) / widest);
    return size >= 8 * this.dpr ? size : 0;
  }

  // ---- drawing

  cellRect(r, c) {
    return [c * this.cell, r * this.cell, this.cell - this.gap, this.cell - this.gap];
  }

  drawInput() {
    const ctx = this.el.inStatic.getContext("2d");
    const { padded } = this.trace;
    const p = this.header.padding;
    ctx.fillStyle = this.colours.border;
    ctx.fillRect(0, 0, this.el.inStatic.width, this.el.inStatic.height);
    if (this.inFont) {
      ctx.font = `${this.inFont}px ${this.font}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
    }
    for (let r = 0; r < this.hp; r++) {
      for (let c = 0; c < this.wp; c++) {
        const v = padded[r * this.wp + c];
        const colour = this.grayOf(v);
        const [x, y, w, h] = this.cellRect(r, c);
        ctx.fillStyle = rgb(colour);
        ctx.fillRect(x, y, w, h);
        if (this.inFont) {
          ctx.fillStyle = textOn(colour);
          ctx.fillText(displayValue(v), x + w / 2, y + h / 2 + this.inFont * 0.05);
        }
      }
    }
    if (p > 0) this.hatchPadding(ctx, p);
  }

  /** Hatch the padding ring and outline the original image, so the added cells stand out. */
  hatchPadding(ctx, p) {
    const W = this.el.inStatic.width;
    const H = this.el.inStatic.height;
    const inner = [p * this.cell, p * this.cell, (this.wp - 2 * p) * this.cell, (this.hp - 2 * p) * this.cell];
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, 0, W, H);
    ctx.rect(inner[0] + inner[2], inner[1], -inner[2], inner[3]); // reversed: a hole (nonzero rule)
    ctx.clip();
    ctx.fillStyle = "rgba(139, 92, 246, 0.28)";
    ctx.fillRect(0, 0, W, H);
    ctx.strokeStyle = this.colours.pad;
    ctx.globalAlpha = 0.75;
    ctx.lineWidth = Math.max(1, this.dpr * 1.2);
    const spacing = Math.max(4 * this.dpr, Math.min(this.cell / 2, 10 * this.dpr));
    ctx.beginPath();
    for (let k = -H; k < W; k += spacing) {
      ctx.moveTo(k, H);
      ctx.lineTo(k + H, 0);
    }
    ctx.stroke();
    ctx.restore();
    if (inner[2] > 0 && inner[3] > 0) {
      ctx.strokeStyle = this.colours.pad;
      ctx.lineWidth = Math.max(2, Math.round(2 * this.dpr));
      ctx.strokeRect(inner[0] - this.gap / 2, inner[1] - this.gap / 2, inner[2], inner[3]);
    }
  }

  clearOutput() {
    const ctx = this.el.outStatic.getContext("2d");
    const W = this.el.outStatic.width;
    const H = this.el.outStatic.height;
    ctx.fillStyle = this.colours.border;
    ctx.fillRect(0, 0, W, H);
    ctx.fillStyle = this.colours.bg2;
    if (this.gap === 0) {
      ctx.fillRect(0, 0, W, H);
    } else {
      for (let k = 0; k < this.n; k++) ctx.fillRect(...this.cellRect(Math.floor(k / this.ow), k % this.ow));
    }
  }

  /** Bring the output's fill layer to `target` done cells, painting only what changed. */
  paintOutput(target) {
    const ctx = this.el.outStatic.getContext("2d");
    if (target < this.painted) {
      if (this.painted - target > target) {
        this.clearOutput(); // going far back: repaint from empty is cheaper
        this.painted = 0;
      } else {
        for (let k = target; k < this.painted; k++) {
          const [x, y, w, h] = this.cellRect(Math.floor(k / this.ow), k % this.ow);
          ctx.fillStyle = this.colours.border;
          ctx.fillRect(x, y, this.cell, this.cell);
          ctx.fillStyle = this.colours.bg2;
          ctx.fillRect(x, y, w, h);
        }
        this.painted = target;
        return;
      }
    }
    if (this.outFont) {
      ctx.font = `${this.outFont}px ${this.font}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
    }
    const { sums } = this.trace;
    for (let k = this.painted; k < target; k++) {
      const colour = this.divergingOf(sums[k], this.sumMax);
      const [x, y, w, h] = this.cellRect(Math.floor(k / this.ow), k % this.ow);
      ctx.fillStyle = rgb(colour);
      ctx.fillRect(x, y, w, h);
      if (this.outFont) {
        ctx.fillStyle = textOn(colour);
        ctx.fillText(displayValue(sums[k]), x + w / 2, y + h / 2 + this.outFont * 0.05);
      }
    }
    this.painted = target;
  }

  /** Draw one frame: the output up to the position, the window shown and its arithmetic. */
  render() {
    const started = performance.now();
    const state = this.state;
    const k = state.shownWindow(); // −1 before the first window
    // A question's answer is the window's output cell: leave it unpainted until answered.
    const asking = this.quiz.on && !this.quiz.revealed && k === this.quiz.window;
    this.paintOutput(asking ? state.position - 1 : state.position);
    const [r0, c0] = k >= 0 ? windowOrigin(this.header, k) : [-1, -1];
    const outRow = k >= 0 ? Math.floor(k / this.ow) : -1;
    const outCol = k >= 0 ? k % this.ow : -1;
    const cells = this.drawOverlays(k, r0, c0, outRow, outCol);
    this.renderArithmetic(k, cells, outRow, outCol, asking);

    this.el.scrub.value = String(state.position);
    const counter = `window ${formatCount(state.position)} of ${formatCount(this.n)}`;
    this.el.counter.textContent = counter;
    this.el.counter.dataset.position = String(state.position);
    this.el.scrub.setAttribute("aria-valuetext", counter);
    const playing = state.playing;
    if (this.el.play.dataset.state !== (playing ? "playing" : "paused")) {
      this.el.play.innerHTML = playing ? PAUSE_ICON : PLAY_ICON;
      this.el.play.setAttribute("aria-label", playing ? "Pause" : "Play");
      this.el.play.dataset.state = playing ? "playing" : "paused";
    }
    this.speakSoon(k, outRow, outCol, asking);
    if (this.hooks) {
      Object.assign(this.hooks, { position: state.position, window: k, cells, playing, n: this.n });
      this.hooks.frames += 1;
      this.hooks.renderMs += performance.now() - started;
      this.hooks.fonts = { input: this.inFont / this.dpr, output: this.outFont / this.dpr };
    }
  }

  /** The window's cells on the input, its output cell on the output; returns the cells. */
  drawOverlays(k, r0, c0, outRow, outCol) {
    const io = this.el.inOverlay.getContext("2d");
    io.clearRect(0, 0, this.el.inOverlay.width, this.el.inOverlay.height);
    const oo = this.el.outOverlay.getContext("2d");
    oo.clearRect(0, 0, this.el.outOverlay.width, this.el.outOverlay.height);
    const cells = [];
    if (k < 0) return cells;
    const d = this.header.dilation;
    const line = Math.max(2, Math.round(2 * this.dpr));
    io.fillStyle = "rgba(245, 158, 11, 0.28)";
    io.strokeStyle = this.colours.window;
    io.lineWidth = line;
    for (let i = 0; i < this.kh; i++) {
      for (let j = 0; j < this.kw; j++) {
        const r = r0 + d * i;
        const c = c0 + d * j;
        cells.push([r, c]);
        io.fillRect(c * this.cell, r * this.cell, this.cell - this.gap, this.cell - this.gap);
        if (d > 1) io.strokeRect(c * this.cell + line / 2, r * this.cell + line / 2, this.cell - line, this.cell - line);
      }
    }
    // The span the (possibly dilated) kernel covers, outlined as one box.
    const spanH = (d * (this.kh - 1) + 1) * this.cell;
    const spanW = (d * (this.kw - 1) + 1) * this.cell;
    io.lineWidth = Math.max(3, Math.round(3 * this.dpr));
    if (d > 1) io.setLineDash([4 * this.dpr, 3 * this.dpr]);
    io.strokeRect(c0 * this.cell + io.lineWidth / 2, r0 * this.cell + io.lineWidth / 2, spanW - io.lineWidth, spanH - io.lineWidth);
    io.setLineDash([]);

    if (this.state.preview !== null && k >= this.painted) {
      // A window ahead of the position, under the pointer: show its result in its cell too,
      // as Setosa's image-kernels page does (the fill layer keeps only the windows done).
      const colour = this.divergingOf(this.trace.sums[k], this.sumMax);
      const [x, y, w, h] = this.cellRect(outRow, outCol);
      oo.fillStyle = rgb(colour);
      oo.fillRect(x, y, w, h);
      if (this.outFont) {
        oo.font = `${this.outFont}px ${this.font}`;
        oo.textAlign = "center";
        oo.textBaseline = "middle";
        oo.fillStyle = textOn(colour);
        oo.fillText(displayValue(this.trace.sums[k]), x + w / 2, y + h / 2 + this.outFont * 0.05);
      }
    }
    oo.strokeStyle = this.colours.window;
    oo.lineWidth = Math.max(3, Math.round(3 * this.dpr));
    const inset = this.cell >= 12 ? oo.lineWidth / 2 : -oo.lineWidth / 2;
    oo.strokeRect(outCol * this.cell + inset, outRow * this.cell + inset, this.cell - 2 * inset, this.cell - 2 * inset);
    return cells;
  }

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
  }

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
  }

  destroy() {
    this.destroyed = true;
    cancelAnimationFrame(this.layoutFrame);
    this.state.pause();
    cancelAnimationFrame(this.raf);
    clearTimeout(this.reportTimer);
    clearTimeout(this.speakTimer);
    this.controller.abort();
    this.resizeObserver.disconnect();
  }
}

/** "rows 2 to 4, columns 5 to 7" for window k: where the window lies, in words. */
function windowSpan(player, k) {
  const [r0, c0] = windowOrigin(player.header, k);
  const d = player.header.dilation;
  const r1 = r0 + d * (player.kh - 1);
  const c1 = c0 + d * (player.kw - 1);
  return `rows ${r0} to ${r1}, columns ${c0} to ${c1}`;
}

// ------------------------------------------------------------------ entry point

/** The test hooks' object (created on first use): counters, and what the player shows. */
function testHooks() {
  return (window.__playerTest ||= { calls: 0, constructions: 0, frames: 0, renderMs: 0, layouts: 0 });
}

export default function mountConvPlayer({ data, parentElement, setStateValue }) {
  const trace = parsePayload(data);
  if (trace && trace.header.test_hooks) testHooks().calls += 1; // every call, kept player or not
  const memo = (parentElement.__convPlayerMemo ||= { chosenSpeed: null });
  const previous = parentElement.__convPlayer;
  let player = previous;
  if (previous && trace && previous.header.trace_id === trace.header.trace_id) {
    // A rerun with the same numbers: keep the player as it is (playing or not), only take
    // the new callback and view options.
    previous.setStateValue = setStateValue;
    previous.update(trace.header);
  } else {
    // New numbers (another image, kernel or setting): a new player, at the trace's start and
    // default pace — unless the user chose a pace, which memo keeps.
    if (previous) previous.destroy();
    player = trace ? new Player(parentElement, trace, setStateValue, memo) : null;
    parentElement.__convPlayer = player;
  }
  // Streamlit keeps only the latest call's cleanup, but a call overtaken by a newer one may
  // have its cleanup run at once: only the call that owns the player may stop it.
  const owner = {};
  parentElement.__convPlayerOwner = owner;
  return () => {
    if (player && parentElement.__convPlayerOwner === owner) {
      player.destroy();
      parentElement.__convPlayer = null;
    }
  };
}
