// Moving whole words into and out of a tensor's storage, with no dispatch: GPU-to-GPU copies
// (copyBufferToBuffer, recorded in order with the pending dispatches), host uploads (queue
// writes, ordered after the pending work that uses the tensor) and raw word readbacks. These are
// the primitives the samplers' recorders, the replay buffer, the trainer's step log and the
// optimizers' packed state use to place values at an offset, which no elementwise op expresses
// without a dispatch.
//
// Offsets and counts are in elements (f32 words). The tensors are f32; flag words of u32 bits
// travel in f32 tensors too, and these functions move their bits unchanged.
import { Tensor } from '../../tensor.js';
import { arg, distinct, intArg, sameDevice } from './common.js';

export interface CopyRange {
  /** First element of dst written (default 0). */
  dstOffset?: number;
  /** First element of src read (default 0). */
  srcOffset?: number;
  /** Elements copied (default: from srcOffset to the end of src). */
  count?: number;
}

/**
 * dst[dstOffset .. dstOffset + count) = src[srcOffset .. srcOffset + count), in place on dst: one
 * buffer copy, no dispatch, in order with the work already recorded. Both f32, on one device,
 * in separate storages; dst must not be the result of a recorded op.
 */
export function copyInto_(dst: Tensor, src: Tensor, range: CopyRange = {}): Tensor {
  const op = 'copyInto_';
  arg(op, 'dst', dst, { written: true });
  arg(op, 'src', src);
  const rt = sameDevice(op, { dst, src });
  distinct(op, ['dst', dst], ['src', src]);
  const srcOffset = intArg(op, 'srcOffset', range.srcOffset ?? 0, 0, src.size);
  const dstOffset = intArg(op, 'dstOffset', range.dstOffset ?? 0, 0, dst.size);
  const count = intArg(op, 'count', range.count ?? src.size - srcOffset, 0, src.size - srcOffset);
  if (dstOffset + count > dst.size)
    throw new Error(`${op}: ${count} elements at dstOffset ${dstOffset} run past the end of dst (${dst.describe()}, ${dst.size} elements)`);
  if (count > 0) rt.copy(src.storage.buffer, srcOffset * 4, dst.storage.buffer, dstOffset * 4, count * 4);
  return dst;
}

/**
 * Uploads host values into dst[offset .. offset + data.length), in place, ordered after every
 * dispatch already recorded that uses dst (the pending work is submitted first when it does).
 * A Uint32Array or Int32Array writes its bit patterns (flag words, counters).
 */
export function writeData_(dst: Tensor, data: Float32Array | Uint32Array | Int32Array, offset = 0): Tensor {
  const op = 'writeData_';
  arg(op, 'dst', dst, { written: true });
  if (!(data instanceof Float32Array || data instanceof Uint32Array || data instanceof Int32Array))
    throw new Error(`${op}: data must be a Float32Array, Uint32Array or Int32Array, got ${data === null ? 'null' : typeof data === 'object' ? (data as object).constructor.name : typeof data}`);
  intArg(op, 'offset', offset, 0, dst.size);
  if (offset + data.length > dst.size) throw new Error(`${op}: ${data.length} values at offset ${offset} run past the end of dst (${dst.describe()}, ${dst.size} elements)`);
  if (data.length > 0) dst.device.write(dst.storage.buffer, data, offset * 4);
  return dst;
}

/**
 * Reads `count` words of t from element `offset` as raw bits (one readback, which submits the
 * pending work): for flag words and counters a kernel wrote as u32.
 */
export async function readWords(t: Tensor, offset = 0, count = t.size - offset): Promise<Uint32Array> {
  const op = 'readWords';
  arg(op, 't', t);
  intArg(op, 'offset', offset, 0, t.size);
  intArg(op, 'count', count, 0, t.size - offset);
  return new Uint32Array(await t.device.read(t.storage.buffer, count * 4, offset * 4));
}

/** The same words as f32 values (a view, no copy): for a readback that holds floats and flag bits side by side. */
export function wordsAsFloats(words: Uint32Array): Float32Array {
  return new Float32Array(words.buffer, words.byteOffset, words.length);
}
