// Drawing: the energy landscape as a heat map (low energy bright, as a density would be), the
// data and the Langevin samples over it, and the loss curve. Energies arrive as one Float32Array
// from one batched forward on the GPU; everything here is plain 2-D canvas work.

/** Viridis, sampled at 9 stops (matplotlib's), dark blue (0) to yellow (1). */
const VIRIDIS: readonly [number, number, number][] = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

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

/** The energy range the colours span: the minimum to a high quantile, so a few huge values far from the data do not wash out the rest. */
export function energyRange(e: Float32Array, quantile = 0.95): [number, number] {
  const finite = Array.from(e).filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return [0, 1];
  const lo = finite[0]!;
  const hi = finite[Math.min(finite.length - 1, Math.floor(quantile * (finite.length - 1)))]!;
  return [lo, hi > lo ? hi : lo + 1e-6];
}

/** RGBA pixels of an n x n energy grid: low energy yellow, high energy dark. */
export function energyPixels(e: Float32Array, n: number): Uint8ClampedArray<ArrayBuffer> {
  const [lo, hi] = energyRange(e);
  const px = new Uint8ClampedArray(n * n * 4);
  for (let i = 0; i < n * n; i++) {
    const [r, g, b] = viridis(1 - (e[i]! - lo) / (hi - lo));
    px.set([r, g, b, 255], 4 * i);
  }
  return px;
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
