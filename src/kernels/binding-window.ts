// Binding windows: how the elementwise, fill, cast, copy and reduce kernels reach buffers larger
// than maxStorageBufferBindingSize (up to maxBufferSize). The work is split into chunks; each
// dispatch binds only the byte range of each buffer its chunk touches (a bind-group entry with
// offset and size, the offset aligned down to minStorageBufferOffsetAlignment) and is told,
// through its uniform, how far the window starts before the data it addresses.
import type { BufferWindow, PooledBuffer, Runtime } from './runtime.js';

/**
 * The most bytes one window binds: maxStorageBufferBindingSize, or less when a test sets
 * `rt.tuning.windowBytes` (so the split paths run on small tensors).
 */
export function windowBytes(rt: Runtime): number {
  const tuned = Number(rt.tuning.windowBytes);
  const w = Number.isFinite(tuned) && tuned > 0 ? Math.min(tuned, rt.maxBindingSize) : rt.maxBindingSize;
  return Math.max(rt.bindingAlignment * 2, Math.floor(w / rt.bindingAlignment) * rt.bindingAlignment);
}

/** Whether a kernel over these buffers, touching `bytes` of the largest, must split its work. */
export function needsWindows(rt: Runtime, bytes: number, ...buffers: readonly PooledBuffer[]): boolean {
  return bytes > windowBytes(rt) || buffers.some((b) => b.size > rt.maxBindingSize);
}

/** A window of `b` covering bytes [start, end): its binding and how many bytes it starts early. */
export function windowAt(rt: Runtime, b: PooledBuffer, start: number, end: number): { arg: BufferWindow; shift: number } {
  const offset = Math.floor(start / rt.bindingAlignment) * rt.bindingAlignment;
  const size = Math.min(b.size - offset, Math.max(4, Math.ceil((end - offset) / 4) * 4));
  return { arg: { of: b, offset, size }, shift: start - offset };
}

/**
 * Splits [0, n) elements into chunks whose every buffer range fits one window and starts on an
 * aligned byte offset: `elementBytes` lists the bytes per element of each buffer a chunk spans
 * in step (4 for f32, 2 for f16); chunk starts are multiples of `granule` elements.
 */
export function elementChunks(rt: Runtime, n: number, elementBytes: readonly number[], granule = 1): [number, number][] {
  const widest = Math.max(...elementBytes);
  let unit = granule;
  while (elementBytes.some((b) => (unit * b) % rt.bindingAlignment !== 0)) unit *= 2;
  const per = Math.floor(windowBytes(rt) / widest / unit) * unit;
  if (per <= 0) throw new Error(`binding windows: ${windowBytes(rt)} bytes cannot hold ${unit} elements of ${widest} bytes`);
  const chunks: [number, number][] = [];
  for (let s = 0; s < n; s += per) chunks.push([s, Math.min(n, s + per)]);
  return chunks;
}

/**
 * The lowest and highest element offsets `sum_d idx_d * strides[d]` over the row-major indices
 * [start, end) of `shape` (strides >= 0): the span of a buffer one chunk of a strided kernel
 * reads or writes.
 */
export function stridedSpan(shape: readonly number[], strides: readonly number[], start: number, end: number): [number, number] {
  return separableSpan(shape, (d, c) => c * strides[d]!, start, end);
}

/**
 * The extremes of `sum_d f(d, idx_d)` over the row-major indices [start, end) of `shape`, for
 * an `f` non-decreasing in idx_d. The range is cut into boxes (a fixed prefix, one dim over a
 * range, the dims after it whole), whose extremes are exact.
 */
export function separableSpan(shape: readonly number[], f: (d: number, c: number) => number, start: number, end: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  const rank = shape.length;
  const inner: number[] = new Array(rank + 1).fill(1);
  const tailMin: number[] = new Array(rank + 1).fill(0);
  const tailMax: number[] = new Array(rank + 1).fill(0);
  for (let d = rank - 1; d >= 0; d--) {
    inner[d] = inner[d + 1]! * shape[d]!;
    tailMin[d] = tailMin[d + 1]! + f(d, 0);
    tailMax[d] = tailMax[d + 1]! + f(d, shape[d]! - 1);
  }
  // Indices [s, e) of the sub-array from dim d on; `base` sums f over the fixed dims before d.
  const visit = (d: number, s: number, e: number, base: number): void => {
    if (s >= e) return;
    if (d === rank) {
      lo = Math.min(lo, base);
      hi = Math.max(hi, base);
      return;
    }
    const size = inner[d + 1]!;
    let a = Math.floor(s / size);
    let b = Math.floor((e - 1) / size);
    if (a === b) return visit(d + 1, s - a * size, e - a * size, base + f(d, a));
    if (s % size !== 0) {
      visit(d + 1, s % size, size, base + f(d, a));
      a++;
    }
    if (e % size !== 0) {
      visit(d + 1, 0, e % size, base + f(d, b));
      b--;
    }
    if (a <= b) {
      lo = Math.min(lo, base + f(d, a) + tailMin[d + 1]!);
      hi = Math.max(hi, base + f(d, b) + tailMax[d + 1]!);
    }
  };
  visit(0, start, end, 0);
  return [lo, hi];
}

/** A window's element shift as a u32 (a negative offset wraps, and the kernel's u32 sums wrap back). */
export function u32(v: number): number {
  return v >>> 0;
}
