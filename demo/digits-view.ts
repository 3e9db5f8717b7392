// Drawing for the digits mode: the 64 display chains as an 8 x 8 grid of 28 x 28 greyscale tiles
// (pixels in [-1, 1] -> 0..255, digits white on black as MNIST stores them), and the digit
// classifier's class histogram as ten bars.

export const GRID_COLS = 8;
const SIDE = 28;
/** Screen pixels per image pixel, and the gap between tiles. */
const SCALE = 2;
const GAP = 2;

/** The canvas side the grid needs: 8 tiles of 56 px with 2 px gaps around them. */
export const GRID_PX = GRID_COLS * SIDE * SCALE + (GRID_COLS + 1) * GAP;

/** Draws images [n, 1, 28, 28] (flat, values in [-1, 1]) as a grid, row by row. */
export function drawDigitGrid(canvas: HTMLCanvasElement, pixels: Float32Array, n: number): void {
  if (canvas.width !== GRID_PX || canvas.height !== GRID_PX) ((canvas.width = GRID_PX), (canvas.height = GRID_PX));
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(GRID_PX, GRID_PX);
  const out = img.data;
  // The gaps: a dark blue-grey, so a black tile's edge shows.
  for (let i = 0; i < out.length; i += 4) ((out[i] = 34), (out[i + 1] = 40), (out[i + 2] = 52), (out[i + 3] = 255));
  const px = SIDE * SIDE;
  for (let k = 0; k < Math.min(n, GRID_COLS * GRID_COLS, Math.floor(pixels.length / px)); k++) {
    const x0 = GAP + (k % GRID_COLS) * (SIDE * SCALE + GAP);
    const y0 = GAP + Math.floor(k / GRID_COLS) * (SIDE * SCALE + GAP);
    for (let r = 0; r < SIDE; r++)
      for (let c = 0; c < SIDE; c++) {
        const v = pixels[k * px + r * SIDE + c]!;
        const g = Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255) : 255;
        for (let dy = 0; dy < SCALE; dy++)
          for (let dx = 0; dx < SCALE; dx++) {
            const o = ((y0 + r * SCALE + dy) * GRID_PX + x0 + c * SCALE + dx) * 4;
            out[o] = out[o + 1] = out[o + 2] = g;
          }
      }
  }
  ctx.putImageData(img, 0, 0);
}

/** The classifier's class histogram (fractions per digit 0..9) as bars, the uniform 10% dashed. */
export function drawHistogram(canvas: HTMLCanvasElement, histogram: readonly number[] | null): void {
  const ctx = canvas.getContext('2d')!;
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = '#0c0e12';
  ctx.fillRect(0, 0, w, h);
  const label = 12;
  const top = Math.max(0.2, ...(histogram ?? [0]));
  const bw = w / 10;
  ctx.font = '10px system-ui, sans-serif';
  ctx.textAlign = 'center';
  for (let d = 0; d < 10; d++) {
    const f = histogram?.[d] ?? 0;
    const bh = ((h - label - 4) * f) / top;
    ctx.fillStyle = '#7fd1ff';
    ctx.fillRect(d * bw + 3, h - label - bh, bw - 6, bh);
    ctx.fillStyle = '#8a93a3';
    ctx.fillText(String(d), d * bw + bw / 2, h - 2);
  }
  const y = h - label - ((h - label - 4) * 0.1) / top;
  ctx.strokeStyle = '#8a93a3';
  ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.moveTo(0, y);
  ctx.lineTo(w, y);
  ctx.stroke();
  ctx.setLineDash([]);
}
