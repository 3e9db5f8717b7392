// Row scatter for replay buffers (persistent contrastive divergence): rows of a buffer replaced
// by new ones. scatterRows_ writes them in place with one dispatch that touches only the batch's
// rows, so a step costs its batch whatever the buffer's size (a 10,000-image buffer is 31 MB; the
// earlier join-and-gather rewrote all of it every step). replaceRows is the same on a copy.
import { withIndexBuffer } from '../shape.js';
import { scatterRowsKernel } from '../../../kernels/index-rows.js';
import { fmt, sameShape, sizeOf } from '../../shape.js';
import { Tensor } from '../../tensor.js';
import { noGrad } from '../../tape.js';
import { arg, distinct, sameDevice } from './common.js';

/** Checks the indices against `size` rows (integers, in range, distinct) and returns them as u32. */
function rowIndices(op: string, indices: ArrayLike<number>, size: number, bufferShape: readonly number[]): Uint32Array {
  if (indices === null || typeof indices !== 'object' || typeof indices.length !== 'number') throw new Error(`${op}: indices must be an array of row indices`);
  const idx = new Uint32Array(indices.length);
  const taken = new Uint8Array(size);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= size) throw new Error(`${op}: indices[${i}] = ${r} is not a row of buffer ${fmt(bufferShape)}`);
    if (taken[r]) throw new Error(`${op}: row ${r} appears twice in indices (at ${i} and earlier); each row is replaced once`);
    taken[r] = 1;
    idx[i] = r;
  }
  return idx;
}

/**
 * Writes rows[i] ([indices.length, ...row]) into row indices[i] of `buffer` [size, ...row], in
 * place, and returns buffer. The indices must be distinct rows of buffer. Off the tape; one
 * dispatch, ordered after every recorded op that reads buffer.
 */
export function scatterRows_(buffer: Tensor, indices: ArrayLike<number>, rows: Tensor): Tensor {
  const op = 'scatterRows_';
  arg(op, 'buffer', buffer, { written: true });
  if (buffer.rank < 1) throw new Error(`${op}: buffer must have a row axis, got a 0-d tensor`);
  const size = buffer.shape[0]!;
  const idx = rowIndices(op, indices, size, buffer.shape);
  arg(op, 'rows', rows);
  if (!sameShape(rows.shape, [idx.length, ...buffer.shape.slice(1)]))
    throw new Error(`${op}: rows has shape ${fmt(rows.shape)}; ${idx.length} indices into buffer ${fmt(buffer.shape)} need ${fmt([idx.length, ...buffer.shape.slice(1)])}`);
  const rt = sameDevice(op, { buffer, rows });
  distinct(op, ['buffer', buffer], ['rows', rows]);
  const rowSize = sizeOf(buffer.shape.slice(1));
  if (idx.length && rowSize) withIndexBuffer(rt, idx, (b) => scatterRowsKernel(rt, rows.buffer, b, buffer.buffer, idx.length, rowSize, size));
  return buffer;
}

/**
 * A new tensor equal to `buffer` [size, ...row] except that row indices[i] is rows[i]
 * ([indices.length, ...row]); buffer itself is unchanged. The indices must be distinct rows of
 * buffer. Off the tape; a copy and one scatter dispatch.
 */
export function replaceRows(buffer: Tensor, indices: ArrayLike<number>, rows: Tensor, label = 'replaceRows'): Tensor {
  const op = 'replaceRows';
  arg(op, 'buffer', buffer);
  if (buffer.rank < 1) throw new Error(`${op}: buffer must have a row axis, got a 0-d tensor`);
  rowIndices(op, indices, buffer.shape[0]!, buffer.shape);
  arg(op, 'rows', rows);
  if (!sameShape(rows.shape, [indices.length, ...buffer.shape.slice(1)]))
    throw new Error(`${op}: rows has shape ${fmt(rows.shape)}; ${indices.length} indices into buffer ${fmt(buffer.shape)} need ${fmt([indices.length, ...buffer.shape.slice(1)])}`);
  const rt = sameDevice(op, { buffer, rows });
  return noGrad(() => {
    const out = Tensor.empty(rt, buffer.shape, label);
    if (out.size) rt.copy(buffer.buffer, 0, out.buffer, 0, buffer.byteLength);
    try {
      return scatterRows_(out, indices, rows);
    } catch (e) {
      out.dispose();
      throw e;
    }
  });
}
