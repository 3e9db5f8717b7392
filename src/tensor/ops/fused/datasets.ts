// The toy 2-D datasets' generator as a tensor op (shaders/datasets.wgsl): one dispatch makes a
// whole dataset from Philox, so the same key gives the same points on any device.
import { datasetKernel } from '../../../kernels/datasets.js';
import type { Runtime } from '../../../kernels/runtime.js';
import { Tensor } from '../../tensor.js';
import { finiteArg, intArg } from './common.js';
import { checkKey, type PhiloxKey } from './langevin.js';

export interface ToyDatasetArgs {
  /** The shader's DS_<kind> constant name suffix, e.g. 'eight_gaussians'. */
  kind: string;
  /** Points to make. */
  n: number;
  key: PhiloxKey;
  /** Components, classes or points per side. */
  k: number;
  /** Shuffle the rows (a keyed permutation of [0, n)). */
  shuffle: boolean;
  /** The dataset's float parameters a..d (at most 4), in the order datasets.wgsl reads them. */
  floats: readonly number[];
  /** The additive Gaussian noise's std. */
  noise: number;
}

/** A new [n, 2] tensor of dataset `kind`'s points: one dispatch. */
export function toyDataset(device: Runtime, a: ToyDatasetArgs, label = a.kind): Tensor {
  const op = 'toyDataset';
  if (typeof a.kind !== 'string') throw new Error(`${op}: kind must be a string, got ${typeof a.kind}`);
  intArg(op, 'n', a.n, 1);
  intArg(op, 'k', a.k, 1);
  checkKey(op, a.key);
  if (!Array.isArray(a.floats) || a.floats.length > 4) throw new Error(`${op}: floats must be an array of at most 4 numbers, got ${Array.isArray(a.floats) ? `${a.floats.length}` : typeof a.floats}`);
  a.floats.forEach((f, i) => finiteArg(op, `floats[${i}]`, f));
  finiteArg(op, 'noise', a.noise);
  const out = Tensor.empty(device, [a.n, 2], label);
  try {
    datasetKernel(device, out.storage.buffer, { kind: a.kind, n: a.n, seedLo: a.key.lo, seedHi: a.key.hi, k: a.k, shuffle: a.shuffle, floats: a.floats, noise: a.noise });
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}
