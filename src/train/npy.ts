// A reader for NumPy's .npy files (format versions 1.0 to 3.0): the magic "\x93NUMPY", a major
// and minor version, a header length (u16 for 1.x, u32 for 2.x and 3.x), then a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (n, c, h, w), } padded with spaces,
// then the raw array in C order. Only what image data needs: little-endian float32, float64
// and uint8, C order. Pure bytes: no tensors, no file system.
import { fromLittleEndian, littleEndianBytes } from '../nn/float-bits.js';
import { readUintLE, writeUintLE } from './bytes.js';

export type NpyDType = 'f4' | 'f8' | 'u1';

export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  /** The values: Float32Array (f4, f8 narrowed to f32) or Uint8Array (u1). */
  data: Float32Array | Uint8Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
/** descr -> our dtype ('|u1', '<u1' and '=u1' are the same byte). */
const DESCR: Record<string, NpyDType> = { '<f4': 'f4', '<f8': 'f8', '|u1': 'u1', '<u1': 'u1', '=u1': 'u1' };
const BYTES: Record<NpyDType, number> = { f4: 4, f8: 8, u1: 1 };

/** Parses a .npy file's bytes; `name` (the file) goes into every error. */
export function parseNpy(bytes: Uint8Array, name = 'the .npy file'): NpyArray {
  const fail = (msg: string): never => {
    throw new Error(`${name}: ${msg}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('not a .npy file (it does not start with "\\x93NUMPY")');
  const major = bytes[6]!;
  if (major < 1 || major > 3) fail(`.npy format version ${major}.${bytes[7]} is not supported (1.0 to 3.0 are)`);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fail('truncated in its header');
  const headerLen = readUintLE(bytes, 8, lenBytes);
  const start = 8 + lenBytes + headerLen;
  if (start > bytes.length) fail(`truncated: its header says ${headerLen} bytes, the file has ${bytes.length - 8 - lenBytes} after the length`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lenBytes, start));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail(`its header is not a .npy header dict: ${JSON.stringify(header.trim())}`);
  const dtype = DESCR[descr!];
  if (!dtype)
    fail(`dtype '${descr}' is not supported: save the images as little-endian float32 ('<f4'), float64 ('<f8') or uint8 ('|u1'), e.g. np.save(path, x.astype(np.float32))`);
  if (fortran === 'True') fail('is in Fortran order; save a C-order array (np.save(path, np.ascontiguousarray(x)))');
  const shape = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (/^\d+L?$/.test(s) ? Number.parseInt(s, 10) : fail(`its shape (${shapeText}) is not a tuple of integers`)));
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * BYTES[dtype!];
  const have = bytes.length - start;
  if (have < need) fail(`truncated: shape (${shape.join(', ')}) of ${descr} needs ${need} data bytes, the file has ${have}`);
  if (have > need) fail(`has ${have - need} bytes after its (${shape.join(', ')}) ${descr} data (a concatenation of arrays? np.savez files are not read here)`);
  const body = bytes.subarray(start, start + need);
  // Copies: the body's offset need not be aligned for a typed view.
  let data: Float32Array | Uint8Array;
  if (dtype === 'u1') data = body.slice();
  else if (dtype === 'f4') data = fromLittleEndian(body, Float32Array);
  else data = Float32Array.from(fromLittleEndian(body, Float64Array));
  return { dtype: dtype!, shape, data };
}

/** A .npy file's bytes for an array (C order, little-endian, version 1.0): the CLI's sample output. */
export function serializeNpy(data: Float32Array | Uint8Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`serializeNpy: shape [${shape.join(', ')}] holds ${count} values, the data ${data.length}`);
  const descr = data instanceof Uint8Array ? '|u1' : '<f4';
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // Pad with spaces and a newline so that the data start on a 64-byte boundary (NumPy's rule).
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  writeUintLE(out, 8, 2, header.length);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data instanceof Uint8Array ? data : littleEndianBytes(data), total);
  return out;
}
