// "Your turn": the player asks for a window's sum, checks the answer and keeps the score (the
// rules are player_state.js's createQuiz; this is their view). Methods of Player (player.js
// mixes them in).

const quizMethods = {
  showScore() {
    const { right, asked, on } = this.quiz;
    this.el.score.hidden = !on && asked === 0;
    this.el.score.textContent = `score ${right} / ${asked}`;
    this.el.score.title = `${right} right out of ${asked} asked`;
  },

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
  },

  /** Moved while quizzing (a step, the scrub bar, the end of a play): ask about that window. */
  askHere() {
    const k = this.state.position - 1;
    if (k >= 0 && k !== this.quiz.window) this.askAt(k);
  },

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
  },

  submitAnswer() {
    const k = this.quiz.window;
    const verdict = this.quiz.answer(this.el.answer.value, this.trace.sums[k]);
    if (verdict === null) {
      if (!this.quiz.revealed) this.el.verdict.textContent = "Type a number, for example 8 or −0.25.";
      return;
    }
    this.answered();
  },

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
  },
};
