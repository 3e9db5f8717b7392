// Row scatter for replay buffers (persistent contrastive divergence): the buffer with some rows
// replaced by new ones. WGSL has no scatter that keeps the other rows for free, so this joins
// [buffer; rows] with two buffer copies and gathers every row of the result from the join with
// one indexSelect dispatch; the buffer itself is not modified (a chain that still reads it is safe).
import { noGrad } from '../../tape.js';
import { indexSelect } from '../shape.js';
import { fmt, sameShape } from '../../shape.js';
import { Tensor } from '../../tensor.js';
import { tidy } from '../../scope.js';
import { arg, sameDevice } from './common.js';
import { copyInto_ } from './copy.js';

/**
 * A new tensor equal to `buffer` [size, ...row] except that row indices[i] is rows[i]
 * ([indices.length, ...row]). The indices must be distinct rows of buffer. Off the tape; one
 * dispatch (plus two buffer copies).
 */
export function replaceRows(buffer: Tensor, indices: ArrayLike<number>, rows: Tensor, label = 'replaceRows'): Tensor {
  const op = 'replaceRows';
  arg(op, 'buffer', buffer);
  if (buffer.rank < 1) throw new Error(`${op}: buffer must have a row axis, got a 0-d tensor`);
  const size = buffer.shape[0]!;
  if (indices === null || typeof indices !== 'object' || typeof indices.length !== 'number') throw new Error(`${op}: indices must be an array of row indices`);
  arg(op, 'rows', rows);
  if (!sameShape(rows.shape, [indices.length, ...buffer.shape.slice(1)]))
    throw new Error(`${op}: rows has shape ${fmt(rows.shape)}; ${indices.length} indices into buffer ${fmt(buffer.shape)} need ${fmt([indices.length, ...buffer.shape.slice(1)])}`);
  const rt = sameDevice(op, { buffer, rows });
  // Row r of the result comes from join row map[r]: itself, or size + i where indices[i] = r.
  const map = Uint32Array.from({ length: size }, (_, r) => r);
  const taken = new Uint8Array(size);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    if (!Number.isInteger(r) || r < 0 || r >= size) throw new Error(`${op}: indices[${i}] = ${r} is not a row of buffer ${fmt(buffer.shape)}`);
    if (taken[r]) throw new Error(`${op}: row ${r} appears twice in indices (at ${i} and earlier); each row is replaced once`);
    taken[r] = 1;
    map[r] = size + i;
  }
  return noGrad(() =>
    tidy(() => {
      const joined = Tensor.empty(rt, [size + indices.length, ...buffer.shape.slice(1)], label);
      copyInto_(joined, buffer);
      copyInto_(joined, rows, { dstOffset: buffer.size });
      return indexSelect(joined, map);
    }),
  );
}
