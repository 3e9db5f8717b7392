// The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header of {name: {dtype, shape, data_offsets}} plus an
// optional "__metadata__" map of strings, then the raw little-endian tensor bytes. Parsing
// validates the whole header against the body before any tensor is returned.

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32' | 'I64' | 'U8' | 'I8' | 'BOOL';

const BYTES_PER: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8, U8: 1, I8: 1, BOOL: 1 };

/** Headers larger than this are rejected (the reference implementation's limit is 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface RawTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** The tensor's bytes, a view into the file. */
  bytes: Uint8Array;
}

export interface ParsedSafetensors {
  metadata: Record<string, string>;
  tensors: Map<string, RawTensor>;
}

function fail(msg: string): never {
  throw new Error(`safetensors: ${msg}`);
}

export function parseSafetensors(file: Uint8Array): ParsedSafetensors {
  if (file.byteLength < 8) fail(`file is ${file.byteLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (8 + headerLen > file.byteLength) fail(`header length ${headerLen} runs past the end of the ${file.byteLength}-byte file (truncated?)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header must be a JSON object');
  const body = file.subarray(8 + headerLen);
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, RawTensor>();
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`entry '${name}' must be an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in BYTES_PER)) fail(`tensor '${name}' has unknown dtype ${JSON.stringify(e.dtype)} (known: ${Object.keys(BYTES_PER).join(', ')})`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[0] > offs[1])
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    const [begin, end] = offs as [number, number];
    const dtype = e.dtype as SafetensorsDType;
    const shape = e.shape as number[];
    const want = shape.reduce((a, b) => a * b, 1) * BYTES_PER[dtype];
    if (end - begin !== want) fail(`tensor '${name}' (${dtype} [${shape.join(', ')}]) needs ${want} bytes but its offsets span ${end - begin}`);
    if (end > body.byteLength) fail(`tensor '${name}' ends at byte ${end} but the body has ${body.byteLength} bytes (truncated file?)`);
    spans.push([begin, end, name]);
    tensors.set(name, { dtype, shape, bytes: body.subarray(begin, end) });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++)
    if (spans[i]![0] < spans[i - 1]![1]) fail(`tensors '${spans[i - 1]![2]}' and '${spans[i]![2]}' overlap in the body`);
  return { metadata, tensors };
}

/** Decodes a raw tensor's values to f32 (f16 and bf16 widened exactly). */
export function toFloat32(t: RawTensor): Float32Array {
  const { bytes } = t;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / BYTES_PER[t.dtype];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'F32': out[i] = dv.getFloat32(i * 4, true); break;
      case 'F64': out[i] = dv.getFloat64(i * 8, true); break;
      case 'F16': out[i] = halfToFloat(dv.getUint16(i * 2, true)); break;
      case 'BF16': out[i] = new Float32Array(new Uint32Array([dv.getUint16(i * 2, true) << 16]).buffer)[0]!; break;
      case 'I32': out[i] = dv.getInt32(i * 4, true); break;
      case 'I64': out[i] = Number(dv.getBigInt64(i * 8, true)); break;
      case 'U8': case 'BOOL': out[i] = dv.getUint8(i); break;
      case 'I8': out[i] = dv.getInt8(i); break;
    }
  }
  return out;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
