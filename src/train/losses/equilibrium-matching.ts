// EquilibriumMatchingLoss: TorchEBM's EqM in its explicit-energy form (EqM-E), for a model
// that is a scalar energy E. Along an interpolant between noise x0 ~ N(0, I) (t = 0) and data
// x1 (t = 1), x_t = alpha(t) x1 + sigma(t) x0 with velocity u_t = alpha'(t) x1 + sigma'(t) x0,
// the energy's gradient is matched to the time-invariant target
//
//   target = -u_t c(t),   c(t) = lambda min(1, (1 - t) / (1 - a)),
//   L      = mean over the batch and the elements of (grad_x E(x_t) - target)^2,
//
// so -grad E points along u_t (from noise toward data) with a strength that is constant up to
// t = a (ctThreshold, default 0.8) and decays to zero at the data (t = 1): the data are the
// energy's minima, its equilibria. lambda is ctMultiplier (default 4). The model is not given t
// (EqM is time-invariant). t ~ U(trainEps, 1 - trainEps) per row. grad_x E is taken with
// createGraph, so the loss's backward reaches the parameters through the double backward.
// Gradient descent on E (or Langevin at low temperature) from noise then samples.
import { grad, noGrad, rand, randn, Tensor } from '../../tensor/index.js';
import { deriveSeed } from '../../nn/init.js';
import { BaseInterpolant, CosineInterpolant, LinearInterpolant, VariancePreservingInterpolant } from '../interpolants/index.js';
import { describe } from '../samplers/options.js';
import { BaseLoss, checkOptionKeys, numberOption, type LossOutput } from './base.js';

export const EQM_INTERPOLANTS = ['linear', 'cosine', 'vp'] as const;
export type EqmInterpolantName = (typeof EQM_INTERPOLANTS)[number];

export interface EquilibriumMatchingLossOptions {
  /** The path: 'linear' (default), 'cosine', 'vp', or an interpolant object. */
  interpolant?: EqmInterpolantName | BaseInterpolant;
  /** t is drawn from U(trainEps, 1 - trainEps) (default 0). */
  trainEps?: number;
  /** a: c(t) starts to decay after t = a, in (0, 1) (default 0.8). */
  ctThreshold?: number;
  /** lambda, the target's multiplier (default 4). */
  ctMultiplier?: number;
  /** Seeds the noise and the times call by call; without one, the global generator. */
  seed?: number;
}

const NAME = 'EquilibriumMatchingLoss';
const KEYS = ['interpolant', 'trainEps', 'ctThreshold', 'ctMultiplier', 'seed'];

function interpolantOf(v: unknown): BaseInterpolant {
  if (v === undefined || v === 'linear') return new LinearInterpolant();
  if (v === 'cosine') return new CosineInterpolant();
  if (v === 'vp') return new VariancePreservingInterpolant();
  if (v instanceof BaseInterpolant) return v;
  throw new Error(`${NAME}: interpolant must be one of ${EQM_INTERPOLANTS.join(', ')} or an interpolant object, got ${describe(v)}`);
}

export class EquilibriumMatchingLoss extends BaseLoss {
  readonly metricNames: readonly string[] = [];
  readonly interpolant: BaseInterpolant;
  readonly trainEps: number;
  readonly ctThreshold: number;
  readonly ctMultiplier: number;

  constructor(model: unknown, opts: EquilibriumMatchingLossOptions = {}) {
    checkOptionKeys(NAME, opts, KEYS);
    super(NAME, model, opts.seed);
    this.interpolant = interpolantOf(opts.interpolant);
    this.trainEps = numberOption(NAME, 'trainEps', opts.trainEps ?? 0, 0, true);
    if (this.trainEps >= 0.5) throw new Error(`${NAME}: trainEps must be < 0.5 (t is drawn from [trainEps, 1 - trainEps]), got ${this.trainEps}`);
    const a = numberOption(NAME, 'ctThreshold', opts.ctThreshold ?? 0.8, 0, false);
    if (a >= 1) throw new Error(`${NAME}: ctThreshold must be in (0, 1), got ${a}`);
    this.ctThreshold = a;
    this.ctMultiplier = numberOption(NAME, 'ctMultiplier', opts.ctMultiplier ?? 4, 0, false);
  }

  /** c(t) = lambda min(1, (1 - t) / (1 - a)), elementwise. */
  ct(t: Tensor): Tensor {
    return t.neg().add(1).mul(1 / (1 - this.ctThreshold)).clamp(null, 1).mul(this.ctMultiplier);
  }

  compute(x: Tensor, neg?: Tensor): LossOutput {
    this.checkBatch(x);
    if (neg !== undefined) throw new Error(`${NAME}: equilibrium matching uses no negative samples; call compute(x) with the data only`);
    const b = x.shape[0]!;
    const seed = this.nextSeed();
    const x0 = randn(x.shape, { seed: deriveSeed(seed, 0), device: x.device });
    const e = this.trainEps;
    const t = rand([b], { seed: deriveSeed(seed, 1), low: e, high: 1 - e, device: x.device });
    return { loss: this.lossAt(x, x0, t), metrics: null };
  }

  /**
   * The loss at given noise x0 (x1's shape) and times t [batch]: what compute() draws. For
   * tests and for reproducing a step.
   */
  lossAt(x1: Tensor, x0: Tensor, t: Tensor): Tensor {
    this.checkBatch(x1);
    const { xt, ut } = noGrad(() => this.interpolant.interpolate(x0, x1, t));
    const b = x1.shape[0]!;
    const ones = new Array<number>(x1.rank - 1).fill(1);
    const target = noGrad(() => ut.mul(this.ct(t).reshape([b, ...ones])).neg());
    const leaf = xt.detach().requiresGrad_();
    const g = grad((v: Tensor) => this.energy(v).sum(), { createGraph: true })(leaf);
    return g.sub(target).square().mean();
  }
}
