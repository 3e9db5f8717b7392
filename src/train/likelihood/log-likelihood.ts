// logLikelihood: the mean log-density of data under an energy model, in nats,
//
//   mean_x log p(x) = -mean_x E(x) - log Z,
//
// with log Z from annealed importance sampling (ais.ts). The base of the path is by default a
// Gaussian fitted to the data, twice as wide (GaussianNoise.fit, scaleFactor 2), so it covers
// the data's mass and what the model puts near it. The data's mean energy joins AIS's summary in
// the same single readback. The standard error is log Z's (the data term is exact for the given
// data).
import { concat, noGrad, tidy, Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { GaussianNoise } from '../losses/gaussian-noise.js';
import { describe } from '../samplers/options.js';
import { aisTensors, type AnnealedImportanceSamplingOptions } from './ais.js';

export type LogLikelihoodOptions = Omit<AnnealedImportanceSamplingOptions, 'dim' | 'returnLogWeights' | 'returnSamples'>;

export interface LogLikelihoodResult {
  /** mean_x log p(x) over the data, nats per sample. */
  logLikelihood: number;
  /** The AIS estimate of log Z. */
  logZ: number;
  /** The standard error of both (AIS's). */
  standardError: number;
  /** mean_x E(x) over the data. */
  meanEnergy: number;
  effectiveSampleSize: number;
  acceptanceRate: number;
}

/** The mean log-likelihood of data [n, ...dim] under `energy` (nats), by AIS. */
export async function logLikelihood(energy: unknown, data: Tensor, opts: LogLikelihoodOptions = {}): Promise<LogLikelihoodResult> {
  const where = 'logLikelihood';
  if (!(data instanceof Tensor)) throw new Error(`${where}: data must be a Tensor [n, ...dim], got ${describe(data)}`);
  data.assertAlive(where);
  if (data.rank < 2 || data.shape[0]! < 2 || data.dtype !== 'f32') throw new Error(`${where}: data must be an f32 tensor [n >= 2, ...dim], got ${data.dtype} ${fmt(data.shape)}`);
  if (opts === null || typeof opts !== 'object') throw new Error(`${where}: options must be an object, got ${describe(opts)}`);
  for (const k of ['dim', 'returnLogWeights', 'returnSamples']) if (k in opts) throw new Error(`${where}: option '${k}' is set by logLikelihood itself (dim is the data's)`);
  const base = opts.base ?? GaussianNoise.fit(data, { scaleFactor: 2 });
  try {
    const r = aisTensors(energy, { ...opts, base, dim: data.shape.slice(1) });
    r.logWeights.dispose();
    r.samples.dispose();
    const all = noGrad(() => tidy(() => concat([r.summary, (energy as { forward(x: Tensor): Tensor }).forward(data).mean().reshape([1])])));
    r.summary.dispose();
    const [logZ, se, ess, accept, meanE] = await all.data();
    all.dispose();
    return { logLikelihood: -meanE! - logZ!, logZ: logZ!, standardError: se!, meanEnergy: meanE!, effectiveSampleSize: ess!, acceptanceRate: accept! };
  } finally {
    if (base !== opts.base) base.dispose();
  }
}
