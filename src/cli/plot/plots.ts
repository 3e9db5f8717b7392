// The CLI's figures, drawn pixel by pixel on a Canvas and encoded as PNG:
//   landscapeFigure: an energy heat map on a 2-D grid with point sets (data, model samples) on top;
//   curvesFigure:    line plots sharing a step axis (the loss curve, the energies).
// Inputs are host arrays already read back from the GPU; nothing here touches the device.
// Energies are coloured by colour.ts, as the browser demo's heat map is; axis ticks are d3-array's.
import { ticks } from 'd3-array';
import { energyColour, energyScale, viridis, type RGB } from './colour.js';
import { Canvas, formatTick } from './raster.js';

const INK: RGB = [34, 34, 34];
const GRID: RGB = [225, 225, 225];
const MUTED: RGB = [110, 110, 110];

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Maps data coordinates to pixels inside a box (y up). */
export class Axes {
  constructor(
    readonly box: Box,
    readonly xLim: readonly [number, number],
    readonly yLim: readonly [number, number],
  ) {}

  px(x: number): number {
    return this.box.x + ((x - this.xLim[0]) / (this.xLim[1] - this.xLim[0])) * this.box.w;
  }

  py(y: number): number {
    return this.box.y + this.box.h - ((y - this.yLim[0]) / (this.yLim[1] - this.yLim[0])) * this.box.h;
  }

  /** Ticks, labels, frame and optional grid lines. */
  draw(c: Canvas, opts: { xLabel?: string; yLabel?: string; grid?: boolean; xTickLabels?: boolean } = {}): void {
    const { x, y, w, h } = this.box;
    const xt = ticks(this.xLim[0], this.xLim[1], Math.max(3, Math.round(w / 90)));
    const yt = ticks(this.yLim[0], this.yLim[1], Math.max(3, Math.round(h / 70)));
    if (opts.grid) {
      for (const v of xt) c.rect(Math.round(this.px(v)), y, 1, h, GRID);
      for (const v of yt) c.rect(x, Math.round(this.py(v)), w, 1, GRID);
    }
    for (const v of xt) {
      const p = Math.round(this.px(v));
      c.rect(p, y + h, 1, 5, INK);
      if (opts.xTickLabels !== false) c.text(formatTick(v), p, y + h + 8, INK, { align: 'center' });
    }
    for (const v of yt) {
      const p = Math.round(this.py(v));
      c.rect(x - 5, p, 5, 1, INK);
      c.text(formatTick(v), x - 8, p, INK, { align: 'right', valign: 'middle' });
    }
    c.frame(x - 1, y - 1, w + 2, h + 2, INK);
    if (opts.xLabel) c.text(opts.xLabel, x + w / 2, y + h + 22, INK, { align: 'center' });
    if (opts.yLabel) {
      const widest = Math.max(0, ...yt.map((v) => Canvas.textWidth(formatTick(v))));
      c.text(opts.yLabel, x - widest - 22, y + h / 2, INK, { align: 'center', vertical: true });
    }
  }
}

export interface PointSet {
  /** Interleaved x, y pairs. */
  points: ArrayLike<number>;
  label: string;
  color: RGB;
  radius?: number;
  alpha?: number;
  /** Draw a dark rim first, so the points stand out on any background. */
  outline?: boolean;
}

export interface LandscapeInput {
  /** E on the grid: energy[iy * nx + ix] at (xLim[0] + ix * dx, yLim[0] + iy * dy), both ends included. */
  energy: ArrayLike<number>;
  nx: number;
  ny: number;
  xLim: readonly [number, number];
  yLim: readonly [number, number];
  pointSets?: readonly PointSet[];
  title?: string;
  /**
   * How energies map to colours: 'rank' (default) colours by the energy's rank among the grid's
   * values (histogram equalisation), so shallow wells on a steep landscape still show, with the
   * colour bar labelled by the energies at its quantiles; 'linear' maps [min, 90th percentile]
   * linearly.
   */
  scale?: 'rank' | 'linear';
}

/**
 * The energy landscape: a heat map of E (low energy bright, viridis reversed, so the wells the
 * model learned glow), the point sets on top, a colour bar and a legend.
 */
export function landscapeFigure(o: LandscapeInput): Uint8Array {
  const W = 760;
  const H = 660;
  const c = new Canvas(W, H);
  const box: Box = { x: 72, y: 48, w: 560, h: 560 };
  const ax = new Axes(box, o.xLim, o.yLim);
  const scale = energyScale(o.energy, o.scale ?? 'rank');
  const colourOf = (e: number) => energyColour(scale, e);
  // Each pixel centre samples the grid bilinearly.
  for (let j = 0; j < box.h; j++) {
    const gy = (1 - (j + 0.5) / box.h) * (o.ny - 1);
    const y0 = Math.min(o.ny - 2, Math.max(0, Math.floor(gy)));
    const fy = Math.min(1, Math.max(0, gy - y0));
    for (let i = 0; i < box.w; i++) {
      const gx = ((i + 0.5) / box.w) * (o.nx - 1);
      const x0 = Math.min(o.nx - 2, Math.max(0, Math.floor(gx)));
      const fx = Math.min(1, Math.max(0, gx - x0));
      const at = (xx: number, yy: number) => o.energy[yy * o.nx + xx]!;
      const e =
        (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
      c.blend(box.x + i, box.y + j, colourOf(e));
    }
  }
  // Points, clipped to the plot.
  for (const set of o.pointSets ?? []) {
    const r = set.radius ?? 1.6;
    for (let k = 0; k + 1 < set.points.length; k += 2) {
      const px = ax.px(set.points[k]!);
      const py = ax.py(set.points[k + 1]!);
      if (!(px >= box.x && px < box.x + box.w && py >= box.y && py < box.y + box.h)) continue;
      if (set.outline) c.disk(px, py, r + 1, [20, 20, 20], 0.6 * (set.alpha ?? 1));
      c.disk(px, py, r, set.color, set.alpha ?? 1);
    }
  }
  ax.draw(c, { xLabel: 'x1', yLabel: 'x2' });
  if (o.title) c.text(o.title, box.x + box.w / 2, 18, INK, { align: 'center', scale: 2 });
  // Legend, top left inside the plot.
  const sets = o.pointSets ?? [];
  if (sets.length) {
    const lw = 22 + Math.max(...sets.map((s) => Canvas.textWidth(s.label)));
    c.rect(box.x + 8, box.y + 8, lw + 12, 14 * sets.length + 8, [255, 255, 255], 0.85);
    sets.forEach((s, k) => {
      const cy = box.y + 19 + 14 * k;
      if (s.outline) c.disk(box.x + 20, cy, 4, [20, 20, 20]);
      c.disk(box.x + 20, cy, 3, s.color);
      c.text(s.label, box.x + 30, cy, INK, { valign: 'middle' });
    });
  }
  // Colour bar: low energy at the bottom (bright), labelled with the energies at its quantiles.
  const bar: Box = { x: box.x + box.w + 24, y: box.y, w: 16, h: box.h };
  for (let j = 0; j < bar.h; j++) c.rect(bar.x, bar.y + j, bar.w, 1, viridis(j / (bar.h - 1)));
  c.frame(bar.x - 1, bar.y - 1, bar.w + 2, bar.h + 2, INK);
  for (const q of [0, 0.25, 0.5, 0.75, 1]) {
    const p = Math.round(bar.y + (1 - q) * (bar.h - 1));
    c.rect(bar.x + bar.w, p, 4, 1, INK);
    c.text(formatTick(Number(scale.energyAt(q).toPrecision(3))), bar.x + bar.w + 7, p, INK, { valign: 'middle' });
  }
  c.text('ENERGY', bar.x + bar.w / 2, bar.y - 10, MUTED, { align: 'center' });
  return c.toPNG();
}

export interface Series {
  label: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color: RGB;
  width?: number;
  alpha?: number;
  /** Leave out of the legend. */
  hideLabel?: boolean;
}

export interface Panel {
  series: readonly Series[];
  yLabel?: string;
}

function extent(values: Iterable<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.06;
  return [lo - pad, hi + pad];
}

/** Panels stacked vertically over one shared x axis (the training step). */
export function curvesFigure(panels: readonly Panel[], opts: { title?: string; xLabel?: string } = {}): Uint8Array {
  const W = 760;
  const panelH = 230;
  const gap = 22;
  const top = 48;
  const H = top + panels.length * panelH + (panels.length - 1) * gap + 52;
  const c = new Canvas(W, H);
  const xs = panels.flatMap((p) => p.series.flatMap((s) => Array.from(s.x))).filter(Number.isFinite);
  const xLim: [number, number] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  if (!(xLim[1] > xLim[0])) xLim[1] = xLim[0] + 1;
  panels.forEach((panel, k) => {
    const box: Box = { x: 84, y: top + k * (panelH + gap), w: W - 84 - 24, h: panelH };
    const ax = new Axes(box, xLim, extent(panel.series.flatMap((s) => Array.from(s.y))));
    ax.draw(c, { grid: true, yLabel: panel.yLabel, xTickLabels: k === panels.length - 1, xLabel: k === panels.length - 1 ? opts.xLabel : undefined });
    for (const s of panel.series) {
      const px = Array.from(s.x, (v) => ax.px(v));
      const py = Array.from(s.y, (v) => ax.py(v));
      c.polyline(px, py, s.color, s.width ?? 1.5, s.alpha ?? 1);
    }
    const shown = panel.series.filter((s) => !s.hideLabel);
    if (shown.length) {
      const lw = 30 + Math.max(...shown.map((s) => Canvas.textWidth(s.label)));
      const lx = box.x + box.w - lw - 14;
      c.rect(lx, box.y + 8, lw + 6, 14 * shown.length + 8, [255, 255, 255], 0.85);
      shown.forEach((s, i) => {
        const cy = box.y + 19 + 14 * i;
        c.line(lx + 6, cy + 0.5, lx + 24, cy + 0.5, s.color, 2.5);
        c.text(s.label, lx + 30, cy, INK, { valign: 'middle' });
      });
    }
  });
  if (opts.title) c.text(opts.title, W / 2, 18, INK, { align: 'center', scale: 2 });
  return c.toPNG();
}

/** An exponential moving average with bias correction (what the eye does with a noisy curve). */
export function smooth(values: ArrayLike<number>, beta = 0.9): Float64Array {
  const out = new Float64Array(values.length);
  let m = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      out[i] = NaN;
      continue;
    }
    m = beta * m + (1 - beta) * v;
    n++;
    out[i] = m / (1 - beta ** n);
  }
  return out;
}
