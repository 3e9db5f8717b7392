// Drawing: the energy landscape as a heat map (low energy bright, as a density would be), the
// data and the Langevin samples over it, and the loss curve. Energies arrive as one Float32Array
// from one batched forward on the GPU; everything here is plain 2-D canvas work. The colours are
// the CLI's (src/cli/plot/colour.ts), so the page and the CLI's landscape.png agree.
import { energyColour, energyScale, viridis } from '../src/cli/plot/colour.js';

/** The square [-extent, extent]^2 the landscape is drawn over. */
export interface View {
  extent: number;
}

/** The grid's points, row by row from the top (y = +extent) down: [n * n, 2], x fastest. */
export function gridPoints(n: number, view: View): Float32Array {
  const pts = new Float32Array(n * n * 2);
  const { extent } = view;
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) {
      const k = 2 * (r * n + c);
      pts[k] = -extent + ((c + 0.5) / n) * 2 * extent;
      pts[k + 1] = extent - ((r + 0.5) / n) * 2 * extent;
    }
  return pts;
}

/** RGBA pixels of an n x n energy grid: low energy yellow, high energy dark, by rank on the grid. */
export function energyPixels(e: Float32Array, n: number): Uint8ClampedArray<ArrayBuffer> {
  const scale = energyScale(e);
  const px = new Uint8ClampedArray(n * n * 4);
  for (let i = 0; i < n * n; i++) {
    const [r, g, b] = energyColour(scale, e[i]!);
    px.set([r, g, b, 255], 4 * i);
  }
  return px;
}

/** The legend bar's CSS gradient: the heat map's colours from low energy (left) to high. */
export function legendGradient(stops = 9): string {
  const colours = Array.from({ length: stops }, (_, i) => `rgb(${viridis(1 - i / (stops - 1)).join(', ')})`);
  return `linear-gradient(to right, ${colours.join(', ')})`;
}

/** Canvas coordinates of point (x, y) in the view. */
function toCanvas(x: number, y: number, size: number, view: View): [number, number] {
  return [((x + view.extent) / (2 * view.extent)) * size, ((view.extent - y) / (2 * view.extent)) * size];
}

export interface Scene {
  /** E on gridPoints(gridSize, view), row-major. */
  energies: Float32Array;
  gridSize: number;
  view: View;
  /** Data points, [x0, y0, x1, y1, ...]. */
  data: Float32Array;
  /** Langevin samples, [x0, y0, ...]. */
  samples: Float32Array;
  showData: boolean;
  showSamples: boolean;
}

const scratch = typeof document !== 'undefined' ? document.createElement('canvas') : null;

/** Draws the landscape scaled up to the canvas, then the points over it. */
export function drawScene(canvas: HTMLCanvasElement, s: Scene): void {
  const ctx = canvas.getContext('2d')!;
  const size = canvas.width;
  scratch!.width = s.gridSize;
  scratch!.height = s.gridSize;
  scratch!.getContext('2d')!.putImageData(new ImageData(energyPixels(s.energies, s.gridSize), s.gridSize, s.gridSize), 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(scratch!, 0, 0, size, size);
  const dots = (pts: Float32Array, fill: string, r: number) => {
    ctx.fillStyle = fill;
    ctx.beginPath();
    for (let i = 0; i + 1 < pts.length; i += 2) {
      const [cx, cy] = toCanvas(pts[i]!, pts[i + 1]!, size, s.view);
      if (cx < -r || cy < -r || cx > size + r || cy > size + r) continue;
      ctx.moveTo(cx + r, cy);
      ctx.arc(cx, cy, r, 0, 2 * Math.PI);
    }
    ctx.fill();
  };
  if (s.showData) dots(s.data, 'rgba(255, 255, 255, 0.55)', 1.6);
  if (s.showSamples) dots(s.samples, 'rgba(255, 64, 64, 0.9)', 2.2);
}

/** The loss curve (and a zero line where the range crosses zero). */
export function drawCurve(canvas: HTMLCanvasElement, values: readonly number[]): void {
  const ctx = canvas.getContext('2d')!;
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = '#15171c';
  ctx.fillRect(0, 0, w, h);
  const v = values.filter(Number.isFinite);
  if (v.length < 2) return;
  let lo = Math.min(...v);
  let hi = Math.max(...v);
  if (hi - lo < 1e-9) ((lo -= 1), (hi += 1));
  const y = (val: number) => h - 4 - ((val - lo) / (hi - lo)) * (h - 8);
  if (lo < 0 && hi > 0) {
    ctx.strokeStyle = '#444a55';
    ctx.beginPath();
    ctx.moveTo(0, y(0));
    ctx.lineTo(w, y(0));
    ctx.stroke();
  }
  ctx.strokeStyle = '#7fd1ff';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  values.forEach((val, i) => {
    const x = (i / (values.length - 1)) * (w - 2) + 1;
    if (i === 0) ctx.moveTo(x, y(val));
    else ctx.lineTo(x, y(val));
  });
  ctx.stroke();
}
