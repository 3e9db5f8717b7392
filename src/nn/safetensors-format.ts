// The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header of {name: {dtype, shape, data_offsets}} plus an
// optional "__metadata__" map of strings, then the raw little-endian tensor bytes, offsets
// counted from the byte after the header. Pure bytes: no tensors, no GPU, no file system.
// Parsing validates the whole header against the body before any tensor is returned, with the
// reference implementation's rules; serializing writes the bytes the reference writes.
import { fmt } from '../tensor/shape.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, fromLittleEndian, littleEndianBytes } from './float-bits.js';
import { parseJson } from './json.js';

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


/** The element count of a shape, or null where it is not a safe integer (a header that lies). */
function elementCount(shape: readonly number[]): number | null {
  let n = 1;
  for (const d of shape) if (!Number.isSafeInteger((n *= d))) return null;
  return n;
}

export function parseSafetensors(file: Uint8Array): ParsedSafetensors {
  if (file.byteLength < 8) fail(`file is ${file.byteLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(headerLen64);
  if (8 + headerLen > file.byteLength) fail(`header length ${headerLen} runs past the end of the ${file.byteLength}-byte file (truncated?)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + headerLen));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = parseJson(text);
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header must be a JSON object');
  const body = file.subarray(8 + headerLen);
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(`entry '${name}' must be an object of dtype, shape and data_offsets`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string' || !Object.hasOwn(BYTES_PER, e.dtype))
      fail(`tensor '${name}' has unknown dtype ${JSON.stringify(e.dtype)} (known: ${Object.keys(BYTES_PER).join(', ')})`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1])
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)} (want [begin, end] with 0 <= begin <= end)`);
    const dtype = e.dtype as SafetensorsDType;
    const shape = e.shape as number[];
    const [begin, end] = offs as [number, number];
    const count = elementCount(shape);
    if (count === null) fail(`tensor '${name}' has shape ${fmt(shape)}, too many elements to address`);
    const want = count * BYTES_PER[dtype];
    if (end - begin !== want) fail(`tensor '${name}' (${dtype} ${fmt(shape)}) needs ${want} bytes but its data_offsets [${begin}, ${end}] span ${end - begin}`);
    entries.push({ name, dtype, shape, begin, end });
  }
  // Like the reference: in offset order the tensors must tile the body exactly, from byte 0 to
  // its last byte, so no byte is read twice and nothing hides in gaps or after the end.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev = '';
  for (const { name, begin, end } of entries) {
    if (begin < covered) fail(`tensors '${prev}' and '${name}' overlap: '${name}' starts at byte ${begin} but '${prev}' ends at byte ${covered}`);
    if (begin > covered) fail(`tensor '${name}' starts at byte ${begin} but the data before it ends at byte ${covered} (a gap of ${begin - covered} bytes)`);
    if (end > body.byteLength) fail(`tensor '${name}' ends at byte ${end} but the body has ${body.byteLength} bytes (truncated file?)`);
    covered = end;
    prev = name;
  }
  if (covered !== body.byteLength) fail(`the body has ${body.byteLength} bytes but the tensors cover only ${covered} (trailing bytes after the last tensor)`);
  const tensors = new Map<string, RawTensor>();
  for (const { name, dtype, shape, begin, end } of entries) tensors.set(name, { dtype, shape, bytes: body.subarray(begin, end) });
  return { metadata, tensors };
}

/** Decodes a raw tensor's values to f32 (f16 and bf16 widened exactly, bit for bit; f64 rounded). */
export function toFloat32(t: RawTensor): Float32Array {
  const { bytes } = t;
  switch (t.dtype) {
    case 'F32': return fromLittleEndian(bytes, Float32Array);
    case 'F16': return f16ToF32(fromLittleEndian(bytes, Uint16Array));
    case 'BF16': return bf16ToF32(fromLittleEndian(bytes, Uint16Array));
    case 'F64': return Float32Array.from(fromLittleEndian(bytes, Float64Array));
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / BYTES_PER[t.dtype];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'I32': out[i] = dv.getInt32(i * 4, true); break;
      case 'I64': out[i] = Number(dv.getBigInt64(i * 8, true)); break;
      case 'U8': case 'BOOL': out[i] = dv.getUint8(i); break;
      case 'I8': out[i] = dv.getInt8(i); break;
    }
  }
  return out;
}

/** A raw tensor's values as f16 bits: F16 exactly as stored, others rounded to nearest even (F64 by way of f32). */
export function toFloat16Bits(t: RawTensor): Uint16Array {
  return t.dtype === 'F16' ? fromLittleEndian(t.bytes, Uint16Array) : f32ToF16(toFloat32(t));
}

/** The dtypes this library writes. */
export type WritableDType = 'F32' | 'F16' | 'BF16';

export interface TensorEntry {
  dtype: WritableDType;
  shape: readonly number[];
  /** F32: the values. F16 / BF16: the raw bits (Uint16Array), or f32 values to round to nearest even. */
  data: Float32Array | Uint16Array;
}

// The reference sorts tensors by its Dtype enum, which is in increasing alignment order,
// descending, then by name; these are the three dtypes' places in that order.
const DTYPE_RANK: Record<WritableDType, number> = { F16: 0, BF16: 1, F32: 2 };

/** Rust's String order: UTF-8 bytes, which is code point order (not JS's UTF-16 unit order). */
function compareNames(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return (x.done ? 0 : 1) - (y.done ? 0 : 1);
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d) return d;
  }
}

function encodeEntry(name: string, { dtype, shape, data }: TensorEntry): Uint8Array {
  if (!Object.hasOwn(DTYPE_RANK, dtype)) fail(`tensor '${name}': cannot write dtype ${JSON.stringify(dtype)} (writable: F32, F16, BF16)`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
  const count = elementCount(shape);
  if (data.length !== count) fail(`tensor '${name}' has shape ${fmt(shape)} (${count} elements) but ${data.length} values`);
  if (dtype === 'F32') {
    if (!(data instanceof Float32Array)) fail(`tensor '${name}': F32 data must be a Float32Array`);
    return littleEndianBytes(data);
  }
  if (data instanceof Uint16Array) return littleEndianBytes(data);
  if (data instanceof Float32Array) return littleEndianBytes(dtype === 'F16' ? f32ToF16(data) : f32ToBf16(data));
  fail(`tensor '${name}': ${dtype} data must be a Uint16Array of bits or a Float32Array of values`);
}

/**
 * The bytes of a safetensors file, identical to what Python's safetensors writes for the same
 * tensors and metadata: tensors sorted by dtype (F32, BF16, F16), then by name; the header
 * padded with spaces to a multiple of 8 bytes. Metadata keys are written sorted (Python writes
 * its map in hash order, which changes from run to run, so with two or more keys there is no
 * one reference to match).
 */
export function serializeSafetensors(tensors: ReadonlyMap<string, TensorEntry>, metadata?: Record<string, string>): Uint8Array {
  const fields: string[] = [];
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null) fail('metadata must be an object of strings');
    const keys = Object.keys(metadata).sort(compareNames);
    for (const k of keys) if (typeof metadata[k] !== 'string') fail(`metadata '${k}' must be a string, got ${typeof metadata[k]}`);
    // Written by hand, not JSON.stringify(object): objects list integer-like keys ('0') first.
    fields.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  const sorted = [...tensors].sort(([na, a], [nb, b]) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareNames(na, nb));
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const [name, entry] of sorted) {
    if (name === '__metadata__') fail(`'__metadata__' is reserved and cannot name a tensor`);
    const bytes = encodeEntry(name, entry);
    const info = { dtype: entry.dtype, shape: [...entry.shape], data_offsets: [offset, offset + bytes.byteLength] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    bodies.push(bytes);
    offset += bytes.byteLength;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLen = Math.ceil(json.byteLength / 8) * 8; // so the data starts 8-byte aligned
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLen);
  let at = 8 + headerLen;
  for (const b of bodies) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}
