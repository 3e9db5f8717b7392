// Host-side file formats for samples: NumPy's .npy (version 1.0, little-endian float32, C order)
// and CSV with a header row.

/** An .npy file holding `data` as float32 of the given shape. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY v1.0
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // The host is little-endian wherever WebGPU runs; '<f4' says so.
  out.set(body, total);
  return out;
}

/** Reads an .npy of float32 (what encodeNpy writes). */
export function decodeNpy(bytes: Uint8Array): { data: Float32Array; shape: number[] } {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.byteLength < 10 || magic.some((b, i) => bytes[i] !== b)) throw new Error('not an .npy file (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const hlen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) throw new Error(`unsupported .npy header ${header.trim()}`);
  const m = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!m) throw new Error(`.npy header has no shape: ${header.trim()}`);
  const shape = m[1]!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const body = bytes.slice(start + hlen, start + hlen + n * 4);
  if (body.byteLength !== n * 4) throw new Error(`.npy body is ${body.byteLength} bytes, expected ${n * 4}`);
  return { data: new Float32Array(body.buffer, body.byteOffset, n), shape };
}

/** Rows of `cols` values as CSV, with a header x0, x1, ... */
export function encodeCsv(data: Float32Array, cols: number): string {
  const lines = [Array.from({ length: cols }, (_, j) => `x${j}`).join(',')];
  for (let i = 0; i + cols <= data.length; i += cols) lines.push(Array.from(data.subarray(i, i + cols), (v) => String(v)).join(','));
  return `${lines.join('\n')}\n`;
}
