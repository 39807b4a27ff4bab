// The convolution player: plays back, window by window, a convolution NumPy already computed.
//
// It receives explorer/player.py's payload (the padded input, the kernel and the N output sums
// as float64) and never recomputes the convolution: the sums shown are NumPy's. Each window's
// cells are derived from (out_row·stride, out_col·stride) + dilation·(i, j), exactly as
// window_trace does, and each product is shown as value * weight — one IEEE-754 double
// multiplication, correctly rounded in NumPy and in JavaScript alike, so it equals
// trace.products bit for bit (tests/browser/test_player.py checks the texts).
//
// Streamlit calls this module's default export again whenever `data` changes (and on reruns
// that resend the same data) but does not run the previous call's cleanup, so the running
// player is kept on the parent element and stopped here before a new one starts.

const MAGIC = "CNP1";
const MAX_SIDE_CSS = 540; // largest grid side in CSS px: big on a projector, still fits a laptop
const SPEED_MIN = 1; // windows per second at the slow end of the speed slider
const SPEED_MAX = 2000; // at the fast end: ~33 windows per frame at 60 frames/s
// Icons as inline SVG: emoji media symbols (⏮ ⏸) are missing from many systems' fonts.
const PLAY_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M7 4.5v15l12-7.5z"/></svg>';
const PAUSE_ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6 5h4.5v14H6zM13.5 5H18v14h-4.5z"/></svg>';
const REPORT_DELAY_MS = 300; // holding → down steps many times; tell Python once it settles

// ------------------------------------------------------------------ numbers and colours

/** A number as the player writes it; explorer/player.py's format_value follows the same rule:
 * integers as integers, others to 4 decimals without trailing zeros, tiny (< 0.0001) or huge
 * non-integers as 4 significant digits with an exponent. toFixed/toExponential round ties away
 * from zero on the exact binary value; the Python side does the same with Decimal. */
function formatValue(x) {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "∞";
  if (x === -Infinity) return "−∞";
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x); // String(-0) is "0"
  const a = Math.abs(x);
  if (a >= 1e-4 && a < 1e15) return stripZeros(x.toFixed(4));
  const [mantissa, exponent] = x.toExponential(3).split("e");
  return stripZeros(mantissa) + "e" + exponent.replace("+", "");
}

function stripZeros(text) {
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/** Thousands separated, for counters ("window 1,234 of 3,844"). */
function formatCount(n) {
  return n.toLocaleString("en-US");
}

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
// Dark text on light cells, white on dark ones (perceived brightness, ITU-R BT.601 weights).
const textOn = (c) => (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 140 ? "#1f2330" : "#ffffff");

// ------------------------------------------------------------------ payload

/** Read explorer/player.py's bytes: {header, padded, kernel, sums, body}. */
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
  const body = u8.subarray(offset);
  const read = (count) => {
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, true);
    offset += 8 * count;
    return out;
  };
  const [hp, wp] = header.padded;
  const [kh, kw] = header.kernel;
  const [oh, ow] = header.out;
  const padded = read(hp * wp);
  const kernel = read(kh * kw);
  const sums = read(oh * ow);
  return { header, padded, kernel, sums, body };
}

/** Same trace (everything but the start position equal)? Then a rerun changed nothing. */
function sameTrace(a, b) {
  if (!a || !b || a.body.length !== b.body.length) return false;
  const strip = (h) => JSON.stringify({ ...h, start: 0 });
  if (strip(a.header) !== strip(b.header)) return false;
  for (let i = 0; i < a.body.length; i++) if (a.body[i] !== b.body[i]) return false;
  return true;
}

// ------------------------------------------------------------------ the player

class Player {
  constructor(parent, trace, setStateValue, position, playing) {
    this.parent = parent;
    this.trace = trace;
    this.setStateValue = setStateValue;
    this.root = parent.querySelector(".cp-root");
    this.controller = new AbortController(); // removes every listener at once in destroy()
    const h = trace.header;
    [this.hp, this.wp] = h.padded;
    [this.kh, this.kw] = h.kernel;
    [this.oh, this.ow] = h.out;
    this.n = this.oh * this.ow;
    this.position = Math.max(0, Math.min(this.n, position)); // windows done, 0 … N
    this.painted = 0; // output cells currently painted on the fill layer
    this.playing = false;
    this.raf = 0;
    this.reportTimer = 0;
    this.lastReported = null;
    // For tests and bench/bench_player.py: frames drawn, and the JS time spent drawing them.
    this.stats = { frames: 0, renderMs: 0, startedAt: performance.now(), position: this.position, n: this.n };
    window.__convPlayerStats = this.stats;
    window.__convPlayerFormat = formatValue;

    const q = (id) => this.root.querySelector(`[data-testid="${id}"]`);
    this.el = {
      inStatic: this.root.querySelector('[data-layer="in-static"]'),
      inOverlay: this.root.querySelector('[data-layer="in-overlay"]'),
      outStatic: this.root.querySelector('[data-layer="out-static"]'),
      outOverlay: this.root.querySelector('[data-layer="out-overlay"]'),
      inPanel: this.root.querySelector(".cp-in"),
      patch: q("cp-patch"),
      kernel: q("cp-kernel"),
      products: q("cp-products"),
      sum: q("cp-sum"),
      target: q("cp-target"),
      play: q("cp-play"),
      scrub: q("cp-scrub"),
      counter: q("cp-counter"),
      speed: q("cp-speed"),
      speedText: q("cp-speed-text"),
    };
    this.prepareValues();
    this.prepareText();
    this.bindControls();
    this.showPlaying(false);
    this.layout();
    // A new grid size or container width: lay out again, at most once per frame.
    this.resizeObserver = new ResizeObserver(() => {
      if (this.root.clientWidth !== this.laidOutWidth) this.layout();
    });
    this.resizeObserver.observe(this.root);
    if (playing && this.position < this.n) this.play();
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
    this.diverging = this.trace.header.diverging;
  }

  grayOf(v) {
    const g = Math.round((255 * (v - this.inLo)) / this.inSpan);
    return [g, g, g];
  }

  divergingOf(v, max) {
    return interpolate(this.diverging, 0.5 + v / (2 * max));
  }

  prepareText() {
    const h = this.trace.header;
    const p = h.padding;
    const mode = { zeros: "zeros", reflect: "mirrored edge values", replicate: "repeated edge values" };
    const settings = [];
    if (h.stride > 1) settings.push(`stride ${h.stride}`);
    if (h.dilation > 1) settings.push(`dilation ${h.dilation}`);
    const extra = settings.length ? ` · ${settings.join(" · ")}` : "";
    const title = this.root.querySelector('[data-testid="cp-in-title"]');
    title.textContent = p
      ? `Input ${this.hp - 2 * p}×${this.wp - 2 * p}, padded to ${this.hp}×${this.wp}${extra}`
      : `Input ${this.hp}×${this.wp} (no padding)${extra}`;
    this.root.querySelector('[data-testid="cp-pad-legend"]').textContent = p
      ? `padding: ${p} cell${p > 1 ? "s" : ""} of ${mode[h.padding_mode]}`
      : "no padding";
    this.root.querySelector(".cp-swatch-pad").style.display = p ? "" : "none";
    this.root.querySelector('[data-testid="cp-out-title"]').textContent =
      `Output ${this.oh}×${this.ow}`;
    this.root.querySelector('[data-testid="cp-kernel-caption"]').textContent = h.flip
      ? "kernel, rotated 180°"
      : "kernel";
    const stops = this.diverging.map((c, i) => `${rgb(c)} ${(100 * i) / (this.diverging.length - 1)}%`);
    this.root.querySelector(".cp-colourbar").style.background = `linear-gradient(90deg, ${stops.join(",")})`;
    this.root.querySelector('[data-testid="cp-scale-lo"]').textContent = formatValue(-this.sumMax);
    this.root.querySelector('[data-testid="cp-scale-hi"]').textContent = formatValue(this.sumMax);

    // The three small grids: kh×kw spans each, built once; the kernel's never change.
    const fontRem = this.kw <= 3 ? 0.95 : this.kw <= 5 ? 0.8 : 0.65;
    for (const grid of [this.el.patch, this.el.kernel, this.el.products]) {
      grid.replaceChildren(
        ...Array.from({ length: this.kh * this.kw }, () => document.createElement("span")),
      );
      grid.style.gridTemplateColumns = `repeat(${this.kw}, auto)`;
      grid.style.setProperty("--cp-mini-font", `${fontRem}rem`);
    }
    const { kernel } = this.trace;
    this.el.kernel.childNodes.forEach((span, i) => {
      const c = this.divergingOf(kernel[i], this.kernelMax);
      span.textContent = formatValue(kernel[i]);
      span.style.background = rgb(c);
      span.style.color = textOn(c);
    });

    this.el.scrub.max = String(this.n);
    if (!this.root.dataset.speedSet) {
      // Default pace: a whole run in ~40 s, never slower than 1.5 windows a second.
      const speed = Math.min(300, Math.max(1.5, this.n / 40));
      this.el.speed.value = String(Math.round(this.speedToSlider(speed)));
      this.root.dataset.speedSet = "1";
    }
    this.readSpeed();
  }

  speedToSlider(speed) {
    return (100 * Math.log(speed / SPEED_MIN)) / Math.log(SPEED_MAX / SPEED_MIN);
  }

  readSpeed() {
    // Log scale: each step of the slider multiplies the speed by the same factor.
    const t = Number(this.el.speed.value) / 100;
    this.speed = SPEED_MIN * Math.pow(SPEED_MAX / SPEED_MIN, t);
    const shown = this.speed < 10 ? this.speed.toFixed(1) : String(Math.round(this.speed));
    this.el.speedText.textContent = `${shown} windows/s`;
  }

  // ---- controls

  bindControls() {
    const opts = { signal: this.controller.signal };
    const on = (el, type, fn) => el.addEventListener(type, fn, opts);
    const q = (id) => this.root.querySelector(`[data-testid="${id}"]`);
    on(q("cp-start"), "click", () => this.jump(0));
    on(q("cp-back"), "click", () => this.step(-1));
    on(this.el.play, "click", () => this.toggle());
    on(q("cp-forward"), "click", () => this.step(1));
    on(q("cp-end"), "click", () => this.jump(this.n));
    on(this.el.scrub, "input", () => {
      this.pause(false);
      this.setPosition(Number(this.el.scrub.value));
    });
    on(this.el.scrub, "change", () => this.reportSoon());
    on(this.el.speed, "input", () => this.readSpeed());
    on(this.el.outStatic, "click", (e) => this.clickOutput(e));
    on(this.root, "keydown", (e) => this.onKey(e));
  }

  onKey(e) {
    const target = e.composedPath()[0];
    const tag = target && target.tagName;
    // Let a focused slider move itself with the arrows, and a focused button press itself.
    if (tag === "INPUT" && ["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) return;
    if (tag === "BUTTON" && (e.key === " " || e.key === "Enter")) return;
    const actions = {
      " ": () => this.toggle(),
      ArrowLeft: () => this.step(-1),
      ArrowRight: () => this.step(1),
      Home: () => this.jump(0),
      End: () => this.jump(this.n),
    };
    const action = actions[e.key];
    if (action) {
      e.preventDefault(); // no page scrolling while the player has the keyboard
      action();
    }
  }

  clickOutput(e) {
    // Clicking an output cell jumps to the window that computed it.
    const rect = this.el.outStatic.getBoundingClientRect();
    const cellCss = this.cell / this.dpr;
    const r = Math.floor((e.clientY - rect.top) / cellCss);
    const c = Math.floor((e.clientX - rect.left) / cellCss);
    if (r < 0 || c < 0 || r >= this.oh || c >= this.ow) return;
    this.jump(r * this.ow + c + 1);
  }

  toggle() {
    if (this.playing) this.pause(true);
    else this.play();
  }

  play() {
    if (this.playing) return;
    if (this.position >= this.n) this.setPosition(0); // play again from the start
    this.playing = true;
    this.stats.playing = true;
    clearTimeout(this.reportTimer); // no reruns while playing
    this.acc = 1; // show the next window at once, not after a whole interval
    this.lastTime = null;
    this.showPlaying(true);
    this.raf = requestAnimationFrame((t) => this.tick(t));
  }

  pause(report) {
    if (this.playing) {
      this.playing = false;
      this.stats.playing = false;
      cancelAnimationFrame(this.raf);
      this.showPlaying(false);
    }
    if (report) this.reportSoon();
  }

  showPlaying(playing) {
    this.el.play.innerHTML = playing ? PAUSE_ICON : PLAY_ICON;
    this.el.play.setAttribute("aria-label", playing ? "Pause" : "Play");
    this.el.play.dataset.state = playing ? "playing" : "paused";
  }

  step(delta) {
    this.pause(false);
    this.setPosition(this.position + delta);
    this.reportSoon();
  }

  jump(position) {
    this.pause(false);
    this.setPosition(position);
    this.reportSoon();
  }

  tick(now) {
    if (!this.playing) return;
    // A background tab stops frames; don't leap ahead by the whole time away when it returns.
    const dt = this.lastTime === null ? 0 : Math.min(now - this.lastTime, 250) / 1000;
    this.lastTime = now;
    this.acc += dt * this.speed;
    const steps = Math.floor(this.acc);
    if (steps > 0) {
      this.acc -= steps;
      this.setPosition(this.position + steps);
      if (this.position >= this.n) {
        this.pause(true);
        return;
      }
    }
    this.raf = requestAnimationFrame((t) => this.tick(t));
  }

  reportSoon() {
    // Tell Python where we stopped (a rerun then keeps the position); never while playing.
    clearTimeout(this.reportTimer);
    this.reportTimer = setTimeout(() => {
      if (this.playing || this.position === this.lastReported) return;
      this.lastReported = this.position;
      this.setStateValue("position", this.position);
    }, REPORT_DELAY_MS);
  }

  // ---- drawing

  /** Size the canvases to the panel width and draw the layers that change once per trace. */
  layout() {
    this.laidOutWidth = this.root.clientWidth;
    this.dpr = window.devicePixelRatio || 1;
    const panelWidth = Math.max(80, this.el.inPanel.clientWidth);
    const side = Math.min(panelWidth, MAX_SIDE_CSS) * this.dpr;
    // Whole device pixels per cell keep every cell edge crisp; both grids share the size, so
    // the output looks as much smaller than the input as it is.
    this.cell = Math.max(1, Math.floor(Math.min(side / this.wp, side / this.hp)));
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
    this.numbers = this.trace.header.show_numbers;
    this.drawInput();
    this.inFont = this.numbers ? this.fitFont(this.trace.padded) : 0;
    this.outFont = this.numbers ? this.fitFont(this.trace.sums) : 0;
    if (this.inFont) this.drawInput(); // again, now with the numbers
    this.painted = 0;
    this.clearOutput();
    this.render(true);
  }

  /** The largest font (device px) at which every value fits its cell; 0 if too small to read. */
  fitFont(values) {
    const ctx = this.el.inStatic.getContext("2d");
    let size = Math.floor(this.cell * 0.34);
    ctx.font = `${size}px ${this.font}`;
    let widest = 0;
    for (const v of values) widest = Math.max(widest, ctx.measureText(formatValue(v)).width);
    const room = (this.cell - this.gap) * 0.86;
    if (widest > room) size = Math.floor((size * room) / widest);
    return size >= 8 * this.dpr ? size : 0;
  }

  cellRect(r, c) {
    return [c * this.cell, r * this.cell, this.cell - this.gap, this.cell - this.gap];
  }

  drawInput() {
    const ctx = this.el.inStatic.getContext("2d");
    const { padded, header } = this.trace;
    const p = header.padding;
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
          ctx.fillText(formatValue(v), x + w / 2, y + h / 2 + this.inFont * 0.05);
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
    ctx.strokeStyle = this.colours.pad;
    ctx.lineWidth = Math.max(2, Math.round(2 * this.dpr));
    ctx.strokeRect(inner[0] - this.gap / 2, inner[1] - this.gap / 2, inner[2], inner[3]);
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
      for (let k = 0; k < this.n; k++) {
        ctx.fillRect(...this.cellRect(Math.floor(k / this.ow), k % this.ow));
      }
    }
  }

  /** Bring the output's fill layer to `position` done cells, painting only what changed. */
  paintOutput() {
    const ctx = this.el.outStatic.getContext("2d");
    const target = this.position;
    if (target < this.painted) {
      if (this.painted - target > target) {
        this.clearOutput(); // going far back: repaint from empty is cheaper
        this.painted = 0;
      } else {
        ctx.fillStyle = this.colours.bg2;
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
        ctx.fillText(formatValue(sums[k]), x + w / 2, y + h / 2 + this.outFont * 0.05);
      }
    }
    this.painted = target;
  }

  setPosition(position) {
    const p = Math.max(0, Math.min(this.n, Math.round(position)));
    if (p === this.position && this.painted === p) return;
    this.position = p;
    this.render(false);
  }

  /** Draw one frame: the output up to `position`, the window that made its last cell. */
  render(force) {
    const started = performance.now();
    this.paintOutput();
    const k = this.position - 1; // the window just computed; -1 before the first
    const outRow = k >= 0 ? Math.floor(k / this.ow) : -1;
    const outCol = k >= 0 ? k % this.ow : -1;
    const h = this.trace.header;
    const r0 = outRow * h.stride;
    const c0 = outCol * h.stride;
    const d = h.dilation;

    // Overlays: the window's cells on the input, its result's cell on the output.
    const io = this.el.inOverlay.getContext("2d");
    io.clearRect(0, 0, this.el.inOverlay.width, this.el.inOverlay.height);
    const oo = this.el.outOverlay.getContext("2d");
    oo.clearRect(0, 0, this.el.outOverlay.width, this.el.outOverlay.height);
    const line = Math.max(2, Math.round(2 * this.dpr));
    const cells = [];
    if (k >= 0) {
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

      oo.strokeStyle = this.colours.window;
      oo.lineWidth = Math.max(3, Math.round(3 * this.dpr));
      const inset = this.cell >= 12 ? oo.lineWidth / 2 : -oo.lineWidth / 2;
      oo.strokeRect(outCol * this.cell + inset, outRow * this.cell + inset, this.cell - 2 * inset, this.cell - 2 * inset);
    }

    this.renderArithmetic(k, cells, outRow, outCol);
    this.el.scrub.value = String(this.position);
    this.el.counter.textContent = `window ${formatCount(this.position)} of ${formatCount(this.n)}`;
    this.el.counter.dataset.position = String(this.position);
    this.stats.frames += 1;
    this.stats.position = this.position;
    this.stats.cells = cells;
    this.stats.window = k;
    if (force) this.stats.layouts = (this.stats.layouts || 0) + 1;
    this.stats.renderMs += performance.now() - started;
  }

  renderArithmetic(k, cells, outRow, outCol) {
    const patch = this.el.patch.childNodes;
    const products = this.el.products.childNodes;
    const { padded, kernel, sums } = this.trace;
    this.el.patch.classList.toggle("cp-empty", k < 0);
    this.el.products.classList.toggle("cp-empty", k < 0);
    if (k < 0) {
      this.el.sum.textContent = "–";
      this.el.target.textContent = "output[–, –]";
      return;
    }
    for (let t = 0; t < cells.length; t++) {
      const [r, c] = cells[t];
      const v = padded[r * this.wp + c];
      const g = this.grayOf(v);
      patch[t].textContent = formatValue(v);
      patch[t].style.background = rgb(g);
      patch[t].style.color = textOn(g);
      // value * weight: one correctly rounded double multiplication, as NumPy's products.
      const product = v * kernel[t];
      const pc = this.divergingOf(product, this.productMax);
      products[t].textContent = formatValue(product);
      products[t].style.background = rgb(pc);
      products[t].style.color = textOn(pc);
    }
    this.el.sum.textContent = formatValue(sums[k]); // NumPy's sum, not re-added here
    this.el.target.textContent = `output[${outRow}, ${outCol}]`;
  }

  destroy() {
    this.playing = false;
    cancelAnimationFrame(this.raf);
    clearTimeout(this.reportTimer);
    this.controller.abort();
    this.resizeObserver.disconnect();
  }
}

// ------------------------------------------------------------------ entry point

export default function mountConvPlayer({ data, parentElement, setStateValue }) {
  const trace = parsePayload(data);
  const previous = parentElement.__convPlayer;
  let player = previous;
  if (previous && sameTrace(previous.trace, trace)) {
    previous.setStateValue = setStateValue; // a rerun with the same numbers: keep playing
  } else {
    let position = trace ? trace.header.start : 0;
    let playing = false;
    if (previous) {
      // New numbers for the same player (another kernel, say): carry on from where it was.
      position = previous.position;
      playing = previous.playing;
      previous.destroy();
    }
    player = trace ? new Player(parentElement, trace, setStateValue, position, playing) : null;
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
