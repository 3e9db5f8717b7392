// NoiseContrastiveEstimation: Gutmann & Hyvarinen's NCE with TorchEBM's conventions. The model
// density is log p_m(x) = -E(x) + c with c a learned scalar (c -> -log Z at the optimum), and a
// logistic classifier tells data from nu times as many draws of a known noise p_n:
//
//   h(u) = -E(u) + c - log nu - log p_n(u)
//   L    = mean_data softplus(-h(x)) + nu mean_noise softplus(h(y)),
//
// (softplus(-h) = -log sigmoid(h), the logistic loss). No sampling chain: the negatives are
// the noise's draws, seeded call by call. The noise is a GaussianNoise, by default N(0, I) as
// TorchEBM's; GaussianNoise.fit(data) gives one fitted to the data, which NCE needs to learn
// anything where the data is far from N(0, I).
//
// c is a Parameter of the loss (`parameters()`): give it to the optimizer with the model's. Its
// value is part of the loss's state (stateDict().logNormalizer), so a resumed run has it.
import { Parameter } from '../../nn/parameter.js';
import { concat, noGrad, tensor, Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { describe } from '../samplers/options.js';
import { BaseLoss, checkOptionKeys, numberOption, type LossOutput, type LossStateDict } from './base.js';
import { GaussianNoise } from './gaussian-noise.js';

export interface NoiseContrastiveEstimationOptions {
  /** The noise distribution (default N(0, I)); see GaussianNoise.fit. */
  noise?: GaussianNoise;
  /** nu, noise draws per data point (default 1). */
  noiseRatio?: number;
  /** Whether c is trained (default true); otherwise it stays at initialC. */
  learnableC?: boolean;
  /** c's starting value (default 0). */
  initialC?: number;
  /** Seeds the noise draws call by call; without one, the global generator. */
  seed?: number;
}

const NAME = 'NoiseContrastiveEstimation';
const KEYS = ['noise', 'noiseRatio', 'learnableC', 'initialC', 'seed'];

export class NoiseContrastiveEstimation extends BaseLoss {
  /** Mean energy of the data, of the noise draws, and c (the learned -log Z). */
  readonly metricNames = ['posEnergy', 'negEnergy', 'c'] as const;
  readonly noise: GaussianNoise;
  readonly noiseRatio: number;
  readonly learnableC: boolean;
  /** c, the model's log-normaliser (log p_m = -E + c): a Parameter [1]. */
  readonly c: Parameter;
  /** Whether the noise was made here (and so is freed by dispose()). */
  private readonly ownNoise: boolean;

  constructor(model: unknown, opts: NoiseContrastiveEstimationOptions = {}) {
    checkOptionKeys(NAME, opts, KEYS);
    super(NAME, model, opts.seed);
    if (opts.noise !== undefined && !(opts.noise instanceof GaussianNoise)) throw new Error(`${NAME}: noise must be a GaussianNoise (GaussianNoise.fit(data) fits one), got ${describe(opts.noise)}`);
    this.noiseRatio = numberOption(NAME, 'noiseRatio', opts.noiseRatio ?? 1, 0, false);
    if (opts.learnableC !== undefined && typeof opts.learnableC !== 'boolean') throw new Error(`${NAME}: learnableC must be a boolean, got ${describe(opts.learnableC)}`);
    this.learnableC = opts.learnableC ?? true;
    const c0 = numberOption(NAME, 'initialC', opts.initialC ?? 0, -Infinity, false);
    this.ownNoise = opts.noise === undefined;
    this.noise = opts.noise ?? new GaussianNoise();
    const params = (this.model as { parameters?: () => Tensor[] }).parameters?.();
    this.c = Parameter.adopt(tensor([c0], [1], { device: params?.[0]?.device }), this.learnableC);
  }

  /** The loss's trainable tensors: [c] when learnableC (give them to the optimizer). */
  parameters(): Parameter[] {
    return this.learnableC ? [this.c] : [];
  }

  /** The model's log Z as this loss estimates it: -c, read back. */
  async logZ(): Promise<number> {
    return -(await this.c.item());
  }

  compute(x: Tensor, neg?: Tensor): LossOutput {
    this.checkBatch(x);
    const b = x.shape[0]!;
    const nu = this.noiseRatio;
    let y: Tensor;
    if (neg === undefined) {
      y = this.noise.sample(Math.max(1, Math.round(b * nu)), x.shape.slice(1), { seed: this.nextSeed(), device: x.device });
    } else {
      this.checkBatch(neg, 'the noise batch');
      if (fmt(neg.shape.slice(1)) !== fmt(x.shape.slice(1))) throw new Error(`${NAME}: the noise batch ${fmt(neg.shape)} and the data ${fmt(x.shape)} differ in sample shape`);
      y = neg.detach();
    }
    const eData = this.energy(x);
    const eNoise = this.energy(y);
    const shift = Math.log(nu);
    const hData = eData.neg().add(this.c).sub(this.noise.logProb(x)).sub(shift);
    const hNoise = eNoise.neg().add(this.c).sub(noGrad(() => this.noise.logProb(y))).sub(shift);
    const loss = hData.neg().softplus().mean().add(hNoise.softplus().mean().mul(nu));
    const metrics = noGrad(() => concat([eData.detach().mean().reshape([1]), eNoise.detach().mean().reshape([1]), this.c.detach()]));
    return { loss, metrics, negatives: neg === undefined ? y : undefined };
  }

  /** The call counter and c (as a tensor copy the caller disposes; a number is accepted back). */
  override stateDict(): LossStateDict {
    return { ...super.stateDict(), logNormalizer: noGrad(() => this.c.clone()) };
  }

  override loadStateDict(s: LossStateDict): void {
    this.checkState(s, `${NAME}.loadStateDict`);
    const v = s.logNormalizer;
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v)) && !(v instanceof Tensor && v.size === 1 && v.dtype === 'f32'))
      throw new Error(`${NAME}.loadStateDict: logNormalizer must be a finite number or an f32 tensor of one element, got ${describe(v)}`);
    super.loadStateDict(s);
    if (v !== undefined) noGrad(() => this.c.assign(v instanceof Tensor ? v.reshape([1]) : tensor([v], [1], { device: this.c.device })));
  }

  /** Frees c (and the noise, when the loss made it; a noise given in the options stays the caller's). */
  dispose(): void {
    this.c.dispose();
    if (this.ownNoise) this.noise.dispose();
  }
}
