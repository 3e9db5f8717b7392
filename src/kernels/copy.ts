// Wrappers for copy.wgsl: strided gathers (permute, expand, slice, concat blocks) and pad_slice.
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import { contiguousStrides, product } from './layout.js';

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
  const params = {
    n,
    rank: v.shape.length,
    src_offset: v.srcOffset,
    dst_offset: v.dstOffset ?? 0,
    shape: v.shape,
    src_strides: v.srcStrides,
    dst_strides: v.dstStrides ?? contiguousStrides(v.shape),
    // pad_slice's fields, unused by gather.
    start: [],
    step: [],
    src_shape: [],
  };
  rt.dispatch(GATHER, [src, dst, params], { workgroups: rt.grid(Math.ceil(n / 256)) });
}

/** Writes `src` (the slice, contiguous) into a zero tensor of `fullShape` at start + k * step per dim. */
export function padSliceKernel(rt: Runtime, src: PooledBuffer, dst: PooledBuffer, fullShape: readonly number[], sliceShape: readonly number[], start: readonly number[], step: readonly number[]): void {
  const n = product(fullShape);
  const params = {
    n,
    rank: fullShape.length,
    src_offset: 0,
    dst_offset: 0,
    shape: fullShape,
    src_strides: contiguousStrides(sliceShape),
    dst_strides: [],
    start,
    step,
    src_shape: sliceShape,
  };
  rt.dispatch(PAD_SLICE, [src, dst, params], { workgroups: rt.grid(Math.ceil(n / 256)) });
}
