// Wrapper for datasets.wgsl: one dispatch makes a whole 2-D toy dataset from Philox.
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';

const DATASET: KernelSpec = {
  shader: 'datasets.wgsl',
  preamble: 'philox.wgsl',
  entry: 'main',
  bindings: [
    { name: 'out', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

export interface DatasetKernelArgs {
  /** The shader's DS_<kind> constant name suffix, e.g. 'eight_gaussians'. */
  kind: string;
  n: number;
  seedLo: number;
  seedHi: number;
  /** Components, classes or points per side. */
  k: number;
  /** Shuffle the rows (a keyed permutation of [0, n)). */
  shuffle: boolean;
  /** The dataset's float parameters a..d, and the additive Gaussian noise. */
  floats: readonly number[];
  noise: number;
}

/** The bits of the permutation's domain: even (two Feistel halves), >= 2, 2^bits >= n. */
function permBits(n: number): number {
  const bits = Math.max(2, Math.ceil(Math.log2(Math.max(n, 2))));
  return bits + (bits % 2);
}

/** Writes n points [n, 2] into out. */
export function datasetKernel(rt: Runtime, out: PooledBuffer, a: DatasetKernelArgs): void {
  if (a.floats.length > 4) throw new Error(`datasets.wgsl takes 4 float parameters, got ${a.floats.length}`);
  const f = [...a.floats, 0, 0, 0, 0].slice(0, 4);
  const params = { n: a.n, seed_lo: a.seedLo, seed_hi: a.seedHi, k: a.k, perm_bits: a.shuffle ? permBits(a.n) : 0, a: f[0]!, b: f[1]!, c: f[2]!, d: f[3]!, noise: a.noise };
  rt.dispatch(DATASET, [out, params], {
    overrides: { DATASET: rt.pipelines.constValue(DATASET.shader, `DS_${a.kind}`, DATASET.preamble) },
    workgroups: rt.grid(Math.ceil(a.n / 256)),
  });
}
