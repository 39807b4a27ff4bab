// The player's controls: buttons, sliders, keys and the pointer, the play loop, and reporting
// where it stopped back to Python. Methods of Player (player.js mixes them in); what each
// action does to the position and pace is player_state.js's.

const REPORT_DELAY_MS = 300; // holding → down steps many times; tell Python once it settles

const controlMethods = {
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
    // In presenter mode the player takes a clicker's keys from anywhere on the page, without a
    // click on it first. The page's document, and the parent's when the player runs in a frame
    // of the same origin (a parent of another origin cannot be read: then only our own).
    for (const doc of pageDocuments()) on(doc, "keydown", (e) => this.onPageKey(e));
    on(this.el.quizToggle, "click", () => this.setQuiz(!this.quiz.on));
    on(this.el.quizForm, "submit", (e) => {
      e.preventDefault();
      this.submitAnswer();
    });
    on(q("cp-reveal"), "click", () => {
      if (this.quiz.giveUp()) this.answered();
    });
    on(q("cp-next"), "click", () => this.askAt(this.quiz.randomWindow(), true));
  },

  onKey(e) {
    const target = e.composedPath()[0] || {};
    const action = keyAction(e.key, { tag: target.tagName, type: target.type });
    if (!action) return;
    e.preventDefault(); // no page scrolling while the player has the keyboard
    this.apply(action);
  },

  /** A key pressed anywhere on the page: in presenter mode, what a clicker asks (see
   * pageKeyAction); never a key the player itself, or a control of the page, has taken. */
  onPageKey(e) {
    if (!this.presenter || this.destroyed || e.defaultPrevented || !this.root.isConnected) return;
    const path = e.composedPath();
    if (path.includes(this.root)) return; // the player's own listener has it
    const target = path[0] || {};
    const described = {
      tag: target.tagName,
      type: target.type,
      role: target.getAttribute ? target.getAttribute("role") : null,
      editable: Boolean(target.isContentEditable),
    };
    const action = pageKeyAction(e.key, described, e.ctrlKey || e.altKey || e.metaKey);
    if (!action) return;
    e.preventDefault(); // Space and PageDown would scroll the page
    this.apply(action);
  },

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
  },

  /** After the state changed: draw, and tell Python where we are once things settle. */
  moved(changed, report) {
    if (changed || !this.state.playing) this.render();
    if (this.quiz.on && !this.state.playing && this.state.preview === null) this.askHere();
    if (report || !this.state.playing) this.reportSoon();
  },

  cellAt(canvas, e, rows, cols) {
    const rect = canvas.getBoundingClientRect();
    const cellCss = this.cell / this.dpr;
    const r = Math.floor((e.clientY - rect.top) / cellCss);
    const c = Math.floor((e.clientX - rect.left) / cellCss);
    return r < 0 || c < 0 || r >= rows || c >= cols ? null : [r, c];
  },

  clickOutput(e) {
    // Clicking an output cell jumps to the window that computed it.
    const cell = this.cellAt(this.el.outStatic, e, this.oh, this.ow);
    if (cell) this.jumpTo(cell[0] * this.ow + cell[1] + 1);
  },

  clickInput(e) {
    // Clicking (or tapping) an input cell jumps to the window centred there.
    const cell = this.cellAt(this.el.inStatic, e, this.hp, this.wp);
    if (cell) this.jumpTo(windowCentredAt(this.header, cell[0], cell[1]) + 1);
  },

  jumpTo(position) {
    this.state.hover(null);
    this.moved(this.state.jump(position) || true, true);
  },

  hoverInput(e) {
    // As on Setosa's image-kernels page: the window centred on the pointer, with its
    // arithmetic, while the pointer is there; the paused position comes back when it leaves.
    // Not while playing (the animation owns the screen), nor while a question waits.
    if (this.state.playing || (this.quiz.on && !this.quiz.revealed)) return;
    const cell = this.cellAt(this.el.inStatic, e, this.hp, this.wp);
    const k = cell ? windowCentredAt(this.header, cell[0], cell[1]) : null;
    if (this.state.hover(k)) this.render();
  },

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
  },

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
  },

  showSpeed() {
    this.el.speedText.textContent = speedText(this.state.speed);
    this.el.speed.setAttribute("aria-valuetext", speedText(this.state.speed));
    this.el.speed.value = String(Math.round(speedToSlider(this.state.speed)));
  },
};

/** The documents whose keys a presenting player hears: its own, and its parent's when it runs
 * in a frame the browser lets it read (the same origin). */
function pageDocuments() {
  const docs = [document];
  try {
    if (window.parent && window.parent !== window && window.parent.document) docs.push(window.parent.document);
  } catch (_) {
    // another origin's page: its keys are not ours to hear
  }
  return docs;
}
