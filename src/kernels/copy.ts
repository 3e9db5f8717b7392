// Wrappers for copy.wgsl: strided gathers (permute, expand, slice, concat blocks) and pad_slice.
import type { KernelSpec } from './pipeline-cache.js';
import type { BufferWindow, PooledBuffer, Runtime } from './runtime.js';
import { contiguousStrides, product } from './layout.js';
import { elementChunks, needsWindows, separableSpan, stridedSpan, u32, windowAt, windowBytes } from './binding-window.js';

const bindings = [
  { name: 'src', kind: 'read-only-storage' },
  { name: 'dst', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
] as const;
const GATHER: KernelSpec = { shader: 'copy.wgsl', entry: 'gather', bindings };
const PAD_SLICE: KernelSpec = { shader: 'copy.wgsl', entry: 'pad_slice', bindings };

export interface StridedView {
  shape: readonly number[];
  srcStrides: readonly number[];
  srcOffset: number;
  /** Where each element goes in dst; contiguous over `shape` when omitted. */
  dstStrides?: readonly number[];
  dstOffset?: number;
}

/** dst[dstOffset + idx . dstStrides] = src[srcOffset + idx . srcStrides] for every idx in shape. */
export function gatherKernel(rt: Runtime, src: PooledBuffer, dst: PooledBuffer, v: StridedView): void {
  const n = product(v.shape);
  const dstStrides = v.dstStrides ?? contiguousStrides(v.shape);
  const params = {
    n,
    rank: v.shape.length,
    src_offset: v.srcOffset,
    dst_offset: v.dstOffset ?? 0,
    base: 0,
    shape: v.shape,
    src_strides: v.srcStrides,
    dst_strides: dstStrides,
    // pad_slice's fields, unused by gather.
    start: [],
    step: [],
    src_shape: [],
  };
  if (!needsWindows(rt, n * 4, src, dst)) {
    rt.dispatch(GATHER, [src, dst, params], { workgroups: rt.grid(Math.ceil(n / 256)) });
    return;
  }
  // Over one binding: chunks of the index space, each binding the spans of src and dst it touches.
  for (const [s, e] of stridedChunks(rt, n, 'copy', [
    { shape: v.shape, strides: v.srcStrides, offset: v.srcOffset },
    { shape: v.shape, strides: dstStrides, offset: v.dstOffset ?? 0 },
  ])) {
    const [ws, wd] = [spanWindow(rt, src, v.shape, v.srcStrides, v.srcOffset, s, e), spanWindow(rt, dst, v.shape, dstStrides, v.dstOffset ?? 0, s, e)];
    const chunk = { ...params, n: e - s, base: s, src_offset: u32(v.srcOffset - ws.offset / 4), dst_offset: u32((v.dstOffset ?? 0) - wd.offset / 4) };
    rt.dispatch(GATHER, [ws, wd, chunk], { workgroups: rt.grid(Math.ceil((e - s) / 256)) });
  }
}

/** Writes `src` (the slice, contiguous) into a zero tensor of `fullShape` at start + k * step per dim. */
export function padSliceKernel(rt: Runtime, src: PooledBuffer, dst: PooledBuffer, fullShape: readonly number[], sliceShape: readonly number[], start: readonly number[], step: readonly number[]): void {
  const n = product(fullShape);
  const params = {
    n,
    rank: fullShape.length,
    src_offset: 0,
    dst_offset: 0,
    base: 0,
    shape: fullShape,
    src_strides: contiguousStrides(sliceShape),
    dst_strides: [],
    start,
    step,
    src_shape: sliceShape,
  };
  if (!needsWindows(rt, n * 4, src, dst)) {
    rt.dispatch(PAD_SLICE, [src, dst, params], { workgroups: rt.grid(Math.ceil(n / 256)) });
    return;
  }
  // Over one binding: chunks of the output, each binding the span of the slice it reads. The
  // slice element read at a full index, clamped into the slice, is non-decreasing in each
  // coordinate, which bounds that span.
  const sliceStrides = contiguousStrides(sliceShape);
  const clamped = (d: number, c: number) => Math.min(sliceShape[d]! - 1, Math.max(0, Math.floor((c - start[d]!) / step[d]!))) * sliceStrides[d]!;
  for (const [s, e] of elementChunks(rt, n, [4])) {
    const [lo, hi] = separableSpan(fullShape, clamped, s, e);
    const ws = windowAt(rt, src, lo * 4, (hi + 1) * 4).arg;
    if (ws.size > windowBytes(rt)) throw new Error(tooWide(rt, 'slice gradient', ws.size));
    const chunk = { ...params, n: e - s, base: s, src_offset: u32(-ws.offset / 4) };
    rt.dispatch(PAD_SLICE, [ws, windowAt(rt, dst, s * 4, e * 4).arg, chunk], { workgroups: rt.grid(Math.ceil((e - s) / 256)) });
  }
}

interface StridedOperand {
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
}

/** A window of `b` over the elements a chunk [s, e) of a strided view touches. */
function spanWindow(rt: Runtime, b: PooledBuffer, shape: readonly number[], strides: readonly number[], offset: number, s: number, e: number): BufferWindow {
  const [lo, hi] = stridedSpan(shape, strides, s, e);
  return windowAt(rt, b, (offset + lo) * 4, (offset + hi + 1) * 4).arg;
}

/**
 * Chunks of [0, n) whose span in every operand fits one window: aligned chunks, halved where a
 * strided operand (a permute) spreads one over too wide a span, down to 1/64 of a full chunk;
 * past that the copy is refused by name.
 */
function stridedChunks(rt: Runtime, n: number, what: string, operands: readonly StridedOperand[]): [number, number][] {
  const limit = windowBytes(rt) - rt.bindingAlignment;
  const full = elementChunks(rt, n, [4]);
  const per = full[0] ? full[0][1] - full[0][0] : n;
  const smallest = Math.max(1, Math.floor(per / 64));
  const fits = (s: number, e: number) => operands.every((o) => {
    const [lo, hi] = stridedSpan(o.shape, o.strides, s, e);
    return (hi - lo + 1) * 4 <= limit;
  });
  const chunks: [number, number][] = [];
  for (let s = 0; s < n; ) {
    let len = Math.min(per, n - s);
    while (!fits(s, s + len)) {
      if (len <= smallest) {
        const wide = Math.max(...operands.map((o) => { const [lo, hi] = stridedSpan(o.shape, o.strides, s, s + len); return (hi - lo + 1) * 4; }));
        throw new Error(tooWide(rt, what, wide));
      }
      len = Math.max(smallest, Math.floor(len / 2));
    }
    chunks.push([s, s + len]);
    s += len;
  }
  return chunks;
}

function tooWide(rt: Runtime, what: string, bytes: number): string {
  return (
    `${rt.currentOp ?? what}: a ${what} over a buffer larger than one binding reads a ${bytes}-byte span for one chunk of its output (a transpose-like layout), ` +
    `over this device's maxStorageBufferBindingSize of ${rt.maxBindingSize} bytes; such copies cannot be split. Use smaller tensors.`
  );
}
