// Wrappers for index.wgsl: index_select along the first axis, its adjoint index_add, and the
// in-place row scatter of replay buffers.
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';

const bindings = [
  { name: 'src', kind: 'read-only-storage' },
  { name: 'idx', kind: 'read-only-storage' },
  { name: 'dst', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
] as const;
const SELECT: KernelSpec = { shader: 'index.wgsl', entry: 'select_rows', bindings };
const ADD: KernelSpec = { shader: 'index.wgsl', entry: 'add_rows', bindings };
const SCATTER: KernelSpec = { shader: 'index.wgsl', entry: 'scatter_rows', bindings };

/** dst[i, :] = src[idx[i], :]; dst has idx.length rows. */
export function selectRowsKernel(rt: Runtime, src: PooledBuffer, idx: PooledBuffer, dst: PooledBuffer, nIdx: number, rowSize: number, nSrcRows: number): void {
  const nOut = nIdx * rowSize;
  const params = { n_out: nOut, row_size: rowSize, n_idx: nIdx, n_src_rows: nSrcRows };
  rt.dispatch(SELECT, [src, idx, dst, params], { workgroups: rt.grid(Math.ceil(nOut / 256)) });
}

/** dst[r, :] = sum of src[i, :] over the i with idx[i] == r; dst has nDstRows rows. */
export function addRowsKernel(rt: Runtime, src: PooledBuffer, idx: PooledBuffer, dst: PooledBuffer, nIdx: number, rowSize: number, nDstRows: number): void {
  const nOut = nDstRows * rowSize;
  const params = { n_out: nOut, row_size: rowSize, n_idx: nIdx, n_src_rows: nIdx };
  rt.dispatch(ADD, [src, idx, dst, params], { workgroups: rt.grid(Math.ceil(nOut / 256)) });
}

/** dst[idx[i], :] = src[i, :] for the nIdx rows of src, in place; the idx must be distinct rows of dst. */
export function scatterRowsKernel(rt: Runtime, src: PooledBuffer, idx: PooledBuffer, dst: PooledBuffer, nIdx: number, rowSize: number, nDstRows: number): void {
  const nOut = nIdx * rowSize;
  const params = { n_out: nOut, row_size: rowSize, n_idx: nIdx, n_src_rows: nDstRows };
  rt.dispatch(SCATTER, [src, idx, dst, params], { workgroups: rt.grid(Math.ceil(nOut / 256)) });
}
