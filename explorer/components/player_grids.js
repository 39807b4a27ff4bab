// The player's two large grids, drawn on canvases: the input (with its padding hatched) and the
// output filled up to the position, and over them the window and its output cell. Methods of
// Player (player.js mixes them in); the geometry (cell, gap, dpr) comes from the layout.

const gridMethods = {
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
  },

  cellRect(r, c) {
    return [c * this.cell, r * this.cell, this.cell - this.gap, this.cell - this.gap];
  },

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
  },

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
  },

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
  },

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
  },

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
  },
};
