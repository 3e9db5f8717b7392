// Score matching, three ways. For an energy E the model's score is s(x) = -grad_x E(x), and
// Hyvarinen's objective is
//
//   J = E_data[ 1/2 |s(x)|^2 + tr(grad_x s(x)) ] = E_data[ 1/2 |grad E(x)|^2 - tr(hess E(x)) ],
//
// minimised when s is the data's score (up to a constant that does not depend on the model).
//
// - ScoreMatching: J exactly, by double backward. The Hessian's diagonal takes one backward
//   per input dimension; they run as ONE backward over the batch replicated d times (a one-hot
//   seed picks dimension j in copy j), in chunks that bound the replicated batch's size. For
//   small d (2-D toys, tabular data).
// - DenoisingScoreMatching: Vincent's objective. Noise x~ = x + sigma eps; the target score of
//   the noised point is grad log q(x~ | x) = -eps / sigma and the model's is -grad E(x~), so
//     L = E[ 1/2 | -grad E(x~) + eps / sigma |^2 ] = E[ 1/2 | grad E(x~) - eps / sigma |^2 ].
//   (TorchEBM 0.7 matched +grad E against the target, which trains -E: the sign test in
//   test/losses.test.ts catches that.)
// - SlicedScoreMatching: Song et al.'s random projections, one Hessian-vector product per
//   projection (all projections in one backward over the replicated batch):
//     L = E_v[ 1/2 (v . s)^2 + v^T (grad s) v ] = E_v[ 1/2 (v . grad E)^2 - v^T (hess E) v ],
//   whose expectation over v (E[v v^T] = I) is J.
//
// Every loss is a mean over the batch of a sum over dimensions. The graphs they return go back
// through the double backward to the model's parameters; call them inside the step's tidy.
import { eye, grad, noGrad, rand, randn, Tensor } from '../../tensor/index.js';
import { BaseLoss, checkOptionKeys, intOption, numberOption, type LossOutput } from './base.js';
import { describe } from '../samplers/options.js';

/** Elements of one sample. */
const perSample = (x: Tensor) => x.size / x.shape[0]!;

/**
 * grad_x sum E(x) with its graph kept (createGraph), for x a leaf that requires grad: the
 * result depends on x and on the model's parameters, so it can be differentiated again.
 */
function scoreGraph(loss: BaseLoss & { energyOf(x: Tensor): Tensor }, x: Tensor): Tensor {
  return grad((v: Tensor) => loss.energyOf(v).sum(), { createGraph: true })(x);
}

/** A copy of x [b, ...dim] repeated k times as [k * b, ...dim], as a fresh leaf that requires grad. */
function replicate(x: Tensor, k: number): Tensor {
  return noGrad(() => {
    const b = x.shape[0]!;
    const flat = x.reshape([1, x.size]);
    const r = k === 1 ? x.clone() : flat.expand([k, x.size]).reshape([k * b, ...x.shape.slice(1)]);
    if (flat !== r) flat.dispose();
    return r;
  }).requiresGrad_();
}

/** A base with energyOf(x) public to the helpers above (checked like every loss's energy). */
abstract class ScoreLoss extends BaseLoss {
  readonly metricNames: readonly string[] = [];

  energyOf(x: Tensor): Tensor {
    return this.energy(x);
  }

  protected noExtra(neg: Tensor | undefined): void {
    if (neg !== undefined) throw new Error(`${this.name}: score matching uses no negative samples; call compute(x) with the data only`);
  }
}

export interface ScoreMatchingOptions {
  /**
   * Bytes the replicated batch of the Hessian's diagonal may take (default 64 MiB): the d
   * backward passes run in chunks of copies that fit.
   */
  maxReplicaBytes?: number;
}

/** Exact (Hyvarinen) score matching by double backward: mean over x of 1/2 |grad E|^2 - tr(hess E). */
export class ScoreMatching extends ScoreLoss {
  readonly maxReplicaBytes: number;

  constructor(model: unknown, opts: ScoreMatchingOptions = {}) {
    checkOptionKeys('ScoreMatching', opts, ['maxReplicaBytes']);
    super('ScoreMatching', model, undefined);
    this.maxReplicaBytes = numberOption('ScoreMatching', 'maxReplicaBytes', opts.maxReplicaBytes ?? 64 * 2 ** 20, 0, false);
  }

  compute(x: Tensor, neg?: Tensor): LossOutput {
    this.checkBatch(x);
    this.noExtra(neg);
    const b = x.shape[0]!;
    const d = perSample(x);
    // Copies per chunk: each copy is the whole batch.
    const chunk = Math.max(1, Math.min(d, Math.floor(this.maxReplicaBytes / (x.byteLength || 4))));
    let total: Tensor | null = null;
    for (let j0 = 0; j0 < d; j0 += chunk) {
      const k = Math.min(chunk, d - j0);
      const xr = replicate(x, k);
      const g = scoreGraph(this, xr).reshape([k * b, d]);
      // Seed: copy c (rows c*b .. c*b + b - 1) picks dimension j0 + c.
      const pick = noGrad(() => eye(d, d, { device: x.device }).slice(0, j0, j0 + k).reshape([k, 1, d]).expand([k, b, d]).reshape([k * b, d]));
      const gj = g.mul(pick);
      // sum over copies and batch of d g_j / d x_j: the chunk's part of the trace, summed over the batch.
      const h = grad((_xr: Tensor) => gj.sum(), { createGraph: true })(xr).reshape([k * b, d]);
      let part = h.mul(pick).sum().mul(-1 / b);
      if (j0 === 0) {
        // 1/2 |g|^2 from the first chunk (every copy is the same batch): mean over its k * b rows.
        part = part.add(g.square().sum().mul(0.5 / (k * b)));
      }
      total = total ? total.add(part) : part;
    }
    return { loss: total!, metrics: null };
  }
}

export interface DenoisingScoreMatchingOptions {
  /** sigma, the std of the Gaussian noise added to the data (default 0.01). */
  noiseScale?: number;
  /** Seeds the noise call by call; without one, the global generator. */
  seed?: number;
}

/** Denoising score matching (Vincent 2011) with the target score -eps / sigma. */
export class DenoisingScoreMatching extends ScoreLoss {
  readonly noiseScale: number;

  constructor(model: unknown, opts: DenoisingScoreMatchingOptions = {}) {
    checkOptionKeys('DenoisingScoreMatching', opts, ['noiseScale', 'seed']);
    super('DenoisingScoreMatching', model, opts.seed);
    this.noiseScale = numberOption('DenoisingScoreMatching', 'noiseScale', opts.noiseScale ?? 0.01, 0, false);
  }

  compute(x: Tensor, neg?: Tensor): LossOutput {
    this.checkBatch(x);
    this.noExtra(neg);
    const b = x.shape[0]!;
    const sigma = this.noiseScale;
    const eps = randn(x.shape, { seed: this.nextSeed(), device: x.device });
    const noised = noGrad(() => x.add(eps.mul(sigma))).requiresGrad_();
    const g = scoreGraph(this, noised);
    // 1/2 |grad E(x~) - eps / sigma|^2, summed over dims, averaged over the batch.
    const loss = g.sub(eps.mul(1 / sigma)).square().sum().mul(0.5 / b);
    return { loss, metrics: null };
  }
}

export interface SlicedScoreMatchingOptions {
  /** Random projections per data point (default 1). */
  nProjections?: number;
  /** The projections' distribution: 'gaussian' N(0, I) (default) or 'rademacher' (+-1). */
  projection?: 'gaussian' | 'rademacher';
  /** Seeds the projections call by call; without one, the global generator. */
  seed?: number;
}

/** Sliced score matching (Song et al. 2019): Hessian-vector products along random directions. */
export class SlicedScoreMatching extends ScoreLoss {
  readonly nProjections: number;
  readonly projection: 'gaussian' | 'rademacher';

  constructor(model: unknown, opts: SlicedScoreMatchingOptions = {}) {
    checkOptionKeys('SlicedScoreMatching', opts, ['nProjections', 'projection', 'seed']);
    super('SlicedScoreMatching', model, opts.seed);
    this.nProjections = intOption('SlicedScoreMatching', 'nProjections', opts.nProjections ?? 1, 1);
    const p = opts.projection ?? 'gaussian';
    if (p !== 'gaussian' && p !== 'rademacher') throw new Error(`SlicedScoreMatching: projection must be 'gaussian' or 'rademacher', got ${describe(p)}`);
    this.projection = p;
  }

  compute(x: Tensor, neg?: Tensor): LossOutput {
    this.checkBatch(x);
    this.noExtra(neg);
    const b = x.shape[0]!;
    const k = this.nProjections;
    const d = perSample(x);
    const xr = replicate(x, k);
    const seed = this.nextSeed();
    const v = noGrad(() =>
      this.projection === 'gaussian'
        ? randn([k * b, d], { seed, device: x.device })
        : rand([k * b, d], { seed, device: x.device }).step(0.5).mul(2).sub(1),
    );
    const g = scoreGraph(this, xr).reshape([k * b, d]);
    const gv = g.mul(v).sum(1); // v . grad E, per row
    const hv = grad((_xr: Tensor) => gv.sum(), { createGraph: true })(xr).reshape([k * b, d]); // (hess E) v
    const vhv = hv.mul(v).sum();
    const loss = gv.square().sum().mul(0.5).sub(vhv).mul(1 / (k * b));
    return { loss, metrics: null };
  }
}
