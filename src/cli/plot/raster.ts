// A small RGBA rasteriser for the CLI's plots: filled rectangles, anti-aliased disks and thick
// lines, 5x7 bitmap text, and PNG encoding through pngjs. Coordinates are pixels, y down, pixel
// centres at integer + 0.5. Colours come from colour.ts.
import { PNG } from 'pngjs';
import type { RGB } from './colour.js';
import { GLYPH_H, GLYPH_W, glyph } from './font.js';

export class Canvas {
  readonly pixels: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: RGB = [255, 255, 255],
  ) {
    this.pixels = new Uint8Array(width * height * 4);
    this.rect(0, 0, width, height, background);
  }

  /** Blends `color` over the pixel at (x, y) with opacity `alpha` (0..1); outside is ignored. */
  blend(x: number, y: number, color: RGB, alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || !(alpha > 0)) return;
    const i = (y * this.width + x) * 4;
    const a = Math.min(1, alpha);
    const p = this.pixels;
    p[i] = Math.round(p[i]! * (1 - a) + color[0] * a);
    p[i + 1] = Math.round(p[i + 1]! * (1 - a) + color[1] * a);
    p[i + 2] = Math.round(p[i + 2]! * (1 - a) + color[2] * a);
    p[i + 3] = 255;
  }

  rect(x: number, y: number, w: number, h: number, color: RGB, alpha = 1): void {
    const x0 = Math.max(0, Math.floor(x));
    const y0 = Math.max(0, Math.floor(y));
    const x1 = Math.min(this.width, Math.floor(x + w));
    const y1 = Math.min(this.height, Math.floor(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.blend(xx, yy, color, alpha);
  }

  /** An outlined rectangle, one pixel wide, on the pixel edges of [x, x + w) x [y, y + h). */
  frame(x: number, y: number, w: number, h: number, color: RGB): void {
    this.rect(x, y, w, 1, color);
    this.rect(x, y + h - 1, w, 1, color);
    this.rect(x, y, 1, h, color);
    this.rect(x + w - 1, y, 1, h, color);
  }

  /** An anti-aliased filled disk centred at (cx, cy). */
  disk(cx: number, cy: number, r: number, color: RGB, alpha = 1): void {
    for (let y = Math.floor(cy - r - 1); y <= Math.ceil(cy + r + 1); y++)
      for (let x = Math.floor(cx - r - 1); x <= Math.ceil(cx + r + 1); x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        this.blend(x, y, color, alpha * clamp01(r + 0.5 - d));
      }
  }

  /** An anti-aliased line of the given width from (x0, y0) to (x1, y1). */
  line(x0: number, y0: number, x1: number, y1: number, color: RGB, width = 1, alpha = 1): void {
    if (![x0, y0, x1, y1].every(Number.isFinite)) return;
    const half = width / 2;
    const dx = x1 - x0;
    const dy = y1 - y0;
    const len2 = dx * dx + dy * dy;
    const xa = Math.max(0, Math.floor(Math.min(x0, x1) - half - 1));
    const xb = Math.min(this.width - 1, Math.ceil(Math.max(x0, x1) + half + 1));
    const ya = Math.max(0, Math.floor(Math.min(y0, y1) - half - 1));
    const yb = Math.min(this.height - 1, Math.ceil(Math.max(y0, y1) + half + 1));
    for (let y = ya; y <= yb; y++)
      for (let x = xa; x <= xb; x++) {
        const px = x + 0.5 - x0;
        const py = y + 0.5 - y0;
        const t = len2 > 0 ? clamp01((px * dx + py * dy) / len2) : 0;
        const d = Math.hypot(px - t * dx, py - t * dy);
        this.blend(x, y, color, alpha * clamp01(half + 0.5 - d));
      }
  }

  /**
   * A polyline through the points; each pixel is painted once at the strongest coverage any
   * segment gives it, so joints do not darken.
   */
  polyline(xs: ArrayLike<number>, ys: ArrayLike<number>, color: RGB, width = 1.5, alpha = 1): void {
    const cover = new Float32Array(this.width * this.height);
    const half = width / 2;
    for (let i = 1; i < xs.length; i++) {
      const x0 = xs[i - 1]!;
      const y0 = ys[i - 1]!;
      const x1 = xs[i]!;
      const y1 = ys[i]!;
      if (![x0, y0, x1, y1].every(Number.isFinite)) continue;
      const dx = x1 - x0;
      const dy = y1 - y0;
      const len2 = dx * dx + dy * dy;
      const xa = Math.max(0, Math.floor(Math.min(x0, x1) - half - 1));
      const xb = Math.min(this.width - 1, Math.ceil(Math.max(x0, x1) + half + 1));
      const ya = Math.max(0, Math.floor(Math.min(y0, y1) - half - 1));
      const yb = Math.min(this.height - 1, Math.ceil(Math.max(y0, y1) + half + 1));
      for (let y = ya; y <= yb; y++)
        for (let x = xa; x <= xb; x++) {
          const px = x + 0.5 - x0;
          const py = y + 0.5 - y0;
          const t = len2 > 0 ? clamp01((px * dx + py * dy) / len2) : 0;
          const c = clamp01(half + 0.5 - Math.hypot(px - t * dx, py - t * dy));
          const k = y * this.width + x;
          if (c > cover[k]!) cover[k] = c;
        }
    }
    for (let k = 0; k < cover.length; k++) if (cover[k]! > 0) this.blend(k % this.width, Math.floor(k / this.width), color, alpha * cover[k]!);
  }

  /** The pixel width of `s` at `scale`. */
  static textWidth(s: string, scale = 1): number {
    return s.length === 0 ? 0 : (s.length * (GLYPH_W + 1) - 1) * scale;
  }

  /**
   * Draws `s` with its anchor at (x, y): align says which of left/centre/right of the text sits
   * at x, valign which of top/middle/bottom sits at y. `vertical` runs it bottom to top.
   */
  text(
    s: string,
    x: number,
    y: number,
    color: RGB,
    opts: { scale?: number; align?: 'left' | 'center' | 'right'; valign?: 'top' | 'middle' | 'bottom'; vertical?: boolean } = {},
  ): void {
    const scale = opts.scale ?? 1;
    const w = Canvas.textWidth(s, scale);
    const h = GLYPH_H * scale;
    const along = opts.align === 'center' ? -w / 2 : opts.align === 'right' ? -w : 0;
    const across = opts.valign === 'middle' ? -h / 2 : opts.valign === 'bottom' ? -h : 0;
    for (let i = 0; i < s.length; i++) {
      const rows = glyph(s[i]!);
      for (let r = 0; r < GLYPH_H; r++)
        for (let c = 0; c < GLYPH_W; c++) {
          if (!((rows[r]! >> (GLYPH_W - 1 - c)) & 1)) continue;
          const u = Math.round(along) + (i * (GLYPH_W + 1) + c) * scale;
          const v = Math.round(across) + r * scale;
          // Vertical text: u runs up from y, v runs right from x.
          if (opts.vertical) this.rect(x + v, y - u - scale, scale, scale, color);
          else this.rect(x + u, y + v, scale, scale, color);
        }
    }
  }

  /** The image as PNG bytes (RGBA, 8 bits per channel). */
  toPNG(): Uint8Array {
    const png = new PNG({ width: this.width, height: this.height, colorType: 6 });
    png.data = Buffer.from(this.pixels.buffer, this.pixels.byteOffset, this.pixels.byteLength);
    return new Uint8Array(PNG.sync.write(png, { colorType: 6 }));
  }
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** A tick label: short, without float noise (0.30000000000000004 -> 0.3). */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}
