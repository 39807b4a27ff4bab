// The convolution player's pure part: numbers, pace, keys, the play state and the quiz.
//
// No DOM, no timers, no `window`: everything here is a function of its arguments, so Node runs
// it as it is (tests/test_player.py loads this file alone and drives it with scripted ticks and
// keys). explorer/components/__init__.py puts this file in front of player.js (the drawing);
// the two are one ES module in the browser, with no build step.
//
// Vocabulary. N windows, numbered 0…N−1 in output order (row-major). The *position* is how many
// windows are done (0…N): at position p the output shows p cells and the player shows window
// p − 1 (none at 0).

// ------------------------------------------------------------------ numbers

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

/** formatValue with a real minus sign (U+2212), as every number on screen is written. */
function displayValue(x) {
  return formatValue(x).replace(/-/g, "−");
}

/** Thousands separated, for counters ("window 1,234 of 3,844"). */
function formatCount(n) {
  return n.toLocaleString("en-US");
}

// Sums of more products than this are shortened; explorer/player.py has the same constants.
const MAX_WRITTEN_TERMS = 9;
const SHORT_TERMS = 6;
const GLUE = "\u00a0"; // no-break space: an operator stays on the line of its number

/** "+ … (49 terms in all)", unbreakable: a shortened sum's tail stays in one piece. */
function termsInAll(count) {
  return `+ … (${count} terms in all)`.replace(/ /g, GLUE);
}

/** Does formatValue(x) read back as x (to 1e-9 relative)? Then "=" is honest, else "≈". */
function writtenExactly(x) {
  if (!Number.isFinite(x)) return true;
  return Math.abs(Number(formatValue(x)) - x) <= 1e-9 * Math.abs(x);
}

/** A window's sum written out term by term: {terms, relation, total, note}; the line on screen
 * is terms, relation and total joined by no-break spaces (the result never starts a line). Mirrors explorer/player.py's written_sum (tests compare
 * the two): subtraction as "− 12", never "+ −12"; over MAX_WRITTEN_TERMS terms, the nonzero
 * ones only (and a note), or the first SHORT_TERMS nonzero ones and "+ … (49 terms in all)".
 * `total` is NumPy's sum, passed in: adding here in another order could change the last bit. */
function writtenSum(products, total) {
  const values = Array.from(products);
  const count = values.length;
  let shown = values;
  let note = "";
  let tail = "";
  if (count > MAX_WRITTEN_TERMS) {
    const nonzero = values.filter((v) => v !== 0);
    if (nonzero.length > 0 && nonzero.length <= MAX_WRITTEN_TERMS) {
      shown = nonzero;
      const zeros = count - nonzero.length;
      note = `the ${zeros} zero product${zeros > 1 ? "s" : ""} left out`;
    } else {
      shown = (nonzero.length ? nonzero : values).slice(0, SHORT_TERMS);
      tail = " " + termsInAll(count);
    }
  }
  const parts = [displayValue(shown[0])];
  for (const v of shown.slice(1)) parts.push(`${v < 0 ? "−" : "+"}${GLUE}${displayValue(Math.abs(v))}`);
  const exact = values.every(writtenExactly) && writtenExactly(total);
  return { terms: parts.join(" ") + tail, relation: exact ? "=" : "≈", total: displayValue(total), note };
}

// ------------------------------------------------------------------ where a window sits

/** Top-left cell (row, column of the padded input) of window k: (out_row·stride,
 * out_col·stride); tap (i, j) lies a further dilation·(i, j) away. */
function windowOrigin(header, k) {
  const ow = header.out[1];
  return [Math.floor(k / ow) * header.stride, (k % ow) * header.stride];
}

/** The window whose centre is nearest cell (row, col) of the padded input: the one shown while
 * the pointer is over that cell. Mirrors explorer/player.py's window_centred_at. */
function windowCentredAt(header, row, col) {
  const [kh, kw] = header.kernel;
  const [oh, ow] = header.out;
  const s = header.stride;
  const d = header.dilation;
  const nearest = (cell, taps, count) =>
    Math.min(Math.max(Math.floor((cell - (d * (taps - 1)) / 2) / s + 0.5), 0), count - 1);
  return nearest(row, kh, oh) * ow + nearest(col, kw, ow);
}

// ------------------------------------------------------------------ pace

const SPEED_MIN = 0.5; // windows per second at the slow end of the speed slider
const SPEED_MAX = 3000; // at the fast end: 40,000 windows in ~13 s, ~50 windows a frame
const RUN_SECONDS = 15; // a default run lasts about this long, whatever its window count
const MAX_FRAME_GAP_S = 0.25; // a background tab stops frames: never leap ahead by more

/** The default pace: a whole run in about RUN_SECONDS, within the slider's range (a run of a
 * handful of windows then takes a few seconds, one of 40,000 about 13). */
function defaultSpeed(n) {
  return Math.min(SPEED_MAX, Math.max(SPEED_MIN, n / RUN_SECONDS));
}

/** Speed ↔ slider position (0…100) on a log scale: each step multiplies the speed alike. */
function speedToSlider(speed) {
  return (100 * Math.log(speed / SPEED_MIN)) / Math.log(SPEED_MAX / SPEED_MIN);
}

function sliderToSpeed(value) {
  return SPEED_MIN * Math.pow(SPEED_MAX / SPEED_MIN, Math.min(100, Math.max(0, value)) / 100);
}

function speedText(speed) {
  return `${speed < 10 ? speed.toFixed(1) : formatCount(Math.round(speed))} windows/s`;
}

// ------------------------------------------------------------------ keys

/** The action a key press asks for, or null. `target` describes the focused element ({tag,
 * type}): typing in the quiz's number box is typing, a focused slider moves itself with the
 * arrows and Home/End, a focused button presses itself with Space/Enter. */
function keyAction(key, target = {}) {
  const tag = (target.tag || "").toUpperCase();
  const type = (target.type || "").toLowerCase();
  if (tag === "INPUT" && type !== "range") return null;
  if (tag === "INPUT" && ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"].includes(key)) return null;
  if (tag === "BUTTON" && (key === " " || key === "Enter")) return null;
  const actions = {
    " ": "toggle",
    ArrowLeft: "back",
    ArrowRight: "forward",
    PageUp: "back", // a presenter's clicker: "previous"
    PageDown: "forward", // … and "next"
    Home: "start",
    End: "end",
    "-": "slower",
    "+": "faster",
    "=": "faster",
  };
  return actions[key] || null;
}

// The keys a presenter's clicker (or a teacher at the laptop) sends, and what they ask for when
// the player listens to the whole page (presenter mode): step, play/pause, jump.
const PAGE_KEYS = {
  " ": "toggle",
  ArrowLeft: "back",
  ArrowRight: "forward",
  PageUp: "back",
  PageDown: "forward",
  Home: "start",
  End: "end",
};
const NAVIGATION_KEYS = ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"];
// Where every key is the user's own: typing, or a control that reads keys itself.
const TYPING_TYPES = ["", "text", "number", "search", "email", "password", "tel", "url", "date", "time", "datetime-local", "month", "week"];
const OWN_KEYS_ROLES = ["textbox", "searchbox", "combobox", "spinbutton", "listbox", "option", "menu", "menuitem", "radio", "radiogroup", "tab", "tablist", "grid", "gridcell", "tree", "treeitem"];

/** The action a key pressed anywhere on the page asks of a presenting player, or null.
 * `target` describes the element with the keyboard ({tag, type, role, editable}) and
 * `modifiers` whether Ctrl, Alt or Meta was held. The page's own controls keep their keys:
 * nothing while the user types (a text or number box, a select, an editable area, a combo or
 * list box, radio buttons, tabs, a grid), a focused slider keeps the arrows, Home/End and
 * PageUp/PageDown, a focused button, check box or link keeps Space. */
function pageKeyAction(key, target = {}, modifiers = false) {
  if (modifiers || !(key in PAGE_KEYS)) return null;
  const tag = (target.tag || "").toUpperCase();
  const type = (target.type || "").toLowerCase();
  const role = (target.role || "").toLowerCase();
  if (target.editable || tag === "TEXTAREA" || tag === "SELECT" || OWN_KEYS_ROLES.includes(role)) return null;
  if (tag === "INPUT" && (TYPING_TYPES.includes(type) || type === "radio" || type === "file")) return null;
  const slider = role === "slider" || (tag === "INPUT" && type === "range");
  if (slider && NAVIGATION_KEYS.includes(key)) return null;
  const pressable = ["BUTTON", "A", "SUMMARY"].includes(tag) || role === "button" || role === "link"
    || role === "switch" || role === "checkbox" || (tag === "INPUT" && ["checkbox", "button", "submit", "reset"].includes(type));
  if (pressable && key === " ") return null;
  return PAGE_KEYS[key];
}

// ------------------------------------------------------------------ the play state

/** The player's state without its drawing: position, playing, pace, the hovered window.
 *
 * Every method returns true when what is shown changed (the view then draws a frame).
 * `tick(dt)` advances a playing player by dt seconds of wall time; the first tick after
 * play() shows the next window at once, the rest keep the pace. */
function createPlayerState({ n, position = 0, speed = null }) {
  const clamp = (p) => Math.max(0, Math.min(n, Math.round(p)));
  const state = {
    n,
    position: clamp(position),
    playing: false,
    speed: speed && speed > 0 ? speed : defaultSpeed(n),
    speedChosen: Boolean(speed && speed > 0), // the user's choice outlives a new trace
    preview: null, // the window under the pointer, shown instead of position − 1
    acc: 0, // windows owed by elapsed time, not yet shown

    /** The window shown: the hovered one, else the last one done (−1 for none). */
    shownWindow() {
      return this.preview !== null ? this.preview : this.position - 1;
    },

    setPosition(p) {
      const before = this.position;
      this.position = clamp(p);
      return this.position !== before;
    },

    play() {
      if (this.playing || n === 0) return false;
      if (this.position >= n) this.position = 0; // play again from the start
      this.playing = true;
      this.preview = null;
      this.acc = 1; // the next window at once, not after a whole interval
      return true;
    },

    pause() {
      if (!this.playing) return false;
      this.playing = false;
      return true;
    },

    toggle() {
      return this.playing ? this.pause() : this.play();
    },

    step(delta) {
      this.pause();
      return this.setPosition(this.position + delta);
    },

    jump(p) {
      this.pause();
      return this.setPosition(p);
    },

    tick(dt) {
      if (!this.playing) return false;
      this.acc += Math.min(Math.max(dt, 0), MAX_FRAME_GAP_S) * this.speed;
      const steps = Math.floor(this.acc);
      if (steps <= 0) return false;
      this.acc -= steps;
      this.setPosition(this.position + steps);
      if (this.position >= n) this.playing = false; // the end: stop there
      return true;
    },

    /** Set the pace; `chosen` marks the user's own choice (kept across traces). */
    setSpeed(value, chosen = true) {
      this.speed = Math.min(SPEED_MAX, Math.max(SPEED_MIN, value));
      if (chosen) this.speedChosen = true;
      return false;
    },

    /** Slower/faster by one tenth of the slider, as the - and + keys do. */
    nudgeSpeed(steps) {
      return this.setSpeed(sliderToSpeed(speedToSlider(this.speed) + 10 * steps));
    },

    /** Show window k while the pointer is over it (null: back to the position). Ignored while
     * playing: the animation owns the screen then. */
    hover(k) {
      if (this.playing && k !== null) return false;
      const before = this.preview;
      this.preview = k === null ? null : Math.max(0, Math.min(n - 1, k));
      return this.preview !== before;
    },

    /** Apply a key's action (see keyAction); true when what is shown changed. */
    act(action) {
      switch (action) {
        case "toggle":
          return this.toggle();
        case "back":
          return this.step(-1);
        case "forward":
          return this.step(1);
        case "start":
          return this.jump(0);
        case "end":
          return this.jump(n);
        case "slower":
          return this.nudgeSpeed(-1);
        case "faster":
          return this.nudgeSpeed(1);
        default:
          return false;
      }
    },
  };
  return state;
}

// ------------------------------------------------------------------ "your turn"

/** A 32-bit hash of a string (FNV-1a): the quiz's seed from the trace's fingerprint. */
function hashText(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mulberry32: a small seeded generator of floats in [0, 1); the same seed, the same run. */
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A typed answer as a number: a real minus or a comma decimal (as some keyboards type) are
 * read too; NaN when it is not a number. */
function parseAnswer(text) {
  const cleaned = String(text).trim().replace(/−/g, "-").replace(",", ".");
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(cleaned)) return NaN;
  return Number(cleaned);
}

/** Is `answer` the sum as the player displays it? Right when it is written the same once
 * rounded as the player rounds (4 decimals), so typing the shown value, or more digits of the
 * exact one, counts; fewer decimals than shown do not. */
function answerIsRight(answer, sum) {
  if (!Number.isFinite(answer)) return false;
  const shown = Number(formatValue(sum));
  return formatValue(answer) === formatValue(sum) || Math.abs(answer - shown) <= 1e-9 * Math.max(1, Math.abs(shown));
}

/** The quiz: which window is asked, whether its sum is revealed, the running score.
 * `seedText` (the trace's fingerprint) makes the random windows repeatable per trace. */
function createQuiz({ n, seedText = "", right = 0, asked = 0 }) {
  const random = seededRandom(hashText(seedText));
  return {
    on: false,
    window: -1, // the window asked about (−1: none)
    revealed: true,
    verdict: null, // null, or {right, answer} for the window asked
    right,
    asked,

    /** A random window to ask about, never the one just asked when there is a choice. */
    randomWindow() {
      if (n <= 1) return 0;
      let k;
      do k = Math.floor(random() * n);
      while (k === this.window);
      return k;
    },

    /** Ask about window k: its sum is hidden until an answer comes. */
    ask(k) {
      this.window = k;
      this.revealed = false;
      this.verdict = null;
    },

    /** Check an answer to the window asked; counted once per question (then revealed).
     * Returns the verdict, or null when there is nothing to answer or `text` is no number. */
    answer(text, sum) {
      if (!this.on || this.window < 0 || this.revealed) return null;
      const value = parseAnswer(text);
      if (Number.isNaN(value)) return null;
      const right = answerIsRight(value, sum);
      this.asked += 1;
      if (right) this.right += 1;
      this.revealed = true;
      this.verdict = { right, answer: value };
      return this.verdict;
    },

    /** Show the working without answering (counted as asked, not right). */
    giveUp() {
      if (!this.on || this.window < 0 || this.revealed) return false;
      this.asked += 1;
      this.revealed = true;
      this.verdict = { right: false, answer: null };
      return true;
    },
  };
}
