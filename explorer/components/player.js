// The convolution player's view: it draws what player_state.js decides, and plays back a
// convolution NumPy already computed. explorer/components/__init__.py joins the view's files after
// player_state.js into one ES module: player_payload.js (reading the bytes), player_colours.js,
// then the Player's methods, one idea a file — player_layout.js (sizing), player_grids.js (the
// two canvases), player_arithmetic.js (the written arithmetic and the screen reader's words),
// player_controls.js (buttons, keys, pointer, the play loop, reports to Python) and
// player_quiz.js ("your turn") — and last this file: the Player itself and the entry point.
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

// Icons as inline SVG: emoji media symbols (⏮ ⏸) are missing from many systems' fonts.
const PLAY_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M7 4.5v15l12-7.5z"/></svg>';
const PAUSE_ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6 5h4.5v14H6zM13.5 5H18v14h-4.5z"/></svg>';

// ------------------------------------------------------------------ the player

/** One player of one trace: its state (player_state.js), its elements and its geometry. The
 * methods that draw, lay out and listen are mixed in from the files before this one. */
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

// The player's methods, grouped by idea in the files joined in front of this one. They share the
// player's state (`this`: the trace, the elements, the geometry the layout sets), so they stay
// methods of one object rather than classes of their own.
Object.assign(Player.prototype, layoutMethods, gridMethods, arithmeticMethods, controlMethods, quizMethods);

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
