// Image grids for image EBM runs (samples.png, buffer.png, chain.png): a batch of [C, H, W]
// images in the data's range, tiled row by row with a gutter, each pixel scaled up so a 28x28
// digit is legible. One channel is drawn grey, three as RGB; anything else is refused.
import { Canvas } from './raster.js';

export interface ImageGridOptions {
  /** Images per row (default: the square root of the count, rounded up). */
  cols?: number;
  /** The data's range: lo is drawn black, hi white; values outside are clamped. */
  range?: readonly [number, number];
  /** Each image pixel becomes scale x scale PNG pixels (default 2). */
  scale?: number;
  /** Gutter between images, in PNG pixels (default 2). */
  gap?: number;
}

/**
 * Tiles `n` images of `shape` [C, H, W] held in `pixels` (NCHW order) into one PNG.
 * Non-finite pixels are drawn red, so a diverged chain is visible rather than black.
 */
export function imageGridPng(pixels: Float32Array, shape: readonly [number, number, number], n: number, o: ImageGridOptions = {}): Uint8Array {
  const [c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new Error(`imageGridPng: images must have 1 or 3 channels, got shape [${shape.join(', ')}]`);
  if (!(n > 0) || pixels.length < n * c * h * w)
    throw new Error(`imageGridPng: ${n} images of [${shape.join(', ')}] need ${n * c * h * w} values, got ${pixels.length}`);
  const cols = o.cols ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const scale = o.scale ?? 2;
  const gap = o.gap ?? 2;
  const [lo, hi] = o.range ?? [-1, 1];
  const canvas = new Canvas(cols * (w * scale + gap) + gap, rows * (h * scale + gap) + gap, [40, 40, 40]);
  const level = (v: number): number => Math.round(255 * Math.min(1, Math.max(0, (v - lo) / (hi - lo))));
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const x0 = gap + (i % cols) * (w * scale + gap);
    const y0 = gap + Math.floor(i / cols) * (h * scale + gap);
    const base = i * c * plane;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const at = (ch: number) => pixels[base + ch * plane + y * w + x]!;
        const values = c === 1 ? [at(0), at(0), at(0)] : [at(0), at(1), at(2)];
        const rgb = values.every(Number.isFinite) ? ([level(values[0]!), level(values[1]!), level(values[2]!)] as const) : ([220, 30, 30] as const);
        canvas.rect(x0 + x * scale, y0 + y * scale, scale, scale, rgb);
      }
  }
  return canvas.toPNG();
}
