// VariancePreservingInterpolant (TorchEBM's; the DDPM / VP-SDE path with a linear beta
// schedule from sigmaMin to sigmaMax, time running from noise at t = 0 to data at t = 1):
//   log alpha(t) = -(1/4) (1 - t)^2 (sigmaMax - sigmaMin) - (1/2) (1 - t) sigmaMin,
//   alpha'(t) / alpha(t) = (1/2) (1 - t) (sigmaMax - sigmaMin) + (1/2) sigmaMin,
//   sigma(t) = sqrt(1 - alpha(t)^2)  (clamped at 1e-12 under the root), sigma' = -alpha alpha' / sigma.
import type { Tensor } from '../../tensor/index.js';
import { checkKeys, finite } from '../samplers/options.js';
import { BaseInterpolant } from './base.js';

const NAME = 'VariancePreservingInterpolant';

export interface VariancePreservingOptions {
  /** beta at t = 1 (default 0.1, as TorchEBM). */
  sigmaMin?: number;
  /** beta at t = 0 (default 20, as TorchEBM). */
  sigmaMax?: number;
}

export class VariancePreservingInterpolant extends BaseInterpolant {
  readonly sigmaMin: number;
  readonly sigmaMax: number;

  constructor(opts: VariancePreservingOptions = {}) {
    super(NAME);
    checkKeys(NAME, 'options', opts, ['sigmaMin', 'sigmaMax']);
    this.sigmaMin = finite(NAME, 'sigmaMin', opts.sigmaMin ?? 0.1, 0, true);
    this.sigmaMax = finite(NAME, 'sigmaMax', opts.sigmaMax ?? 20, 0, true);
    if (this.sigmaMax < this.sigmaMin) throw new Error(`${NAME}: sigmaMax (${this.sigmaMax}) must be >= sigmaMin (${this.sigmaMin})`);
  }

  private logMeanCoeff(t: Tensor): Tensor {
    const u = t.neg().add(1);
    return u.square().mul(-0.25 * (this.sigmaMax - this.sigmaMin)).sub(u.mul(0.5 * this.sigmaMin));
  }

  override computeDAlphaAlphaRatioT(t: Tensor): Tensor {
    return t.neg().add(1).mul(0.5 * (this.sigmaMax - this.sigmaMin)).add(0.5 * this.sigmaMin);
  }

  computeAlphaT(t: Tensor): [Tensor, Tensor] {
    const alpha = this.logMeanCoeff(t).exp();
    return [alpha, alpha.mul(this.computeDAlphaAlphaRatioT(t))];
  }

  computeSigmaT(t: Tensor): [Tensor, Tensor] {
    const a2 = this.logMeanCoeff(t).mul(2).exp();
    const sigma = a2.neg().add(1).clamp(1e-12, null).sqrt();
    return [sigma, a2.mul(this.computeDAlphaAlphaRatioT(t)).div(sigma).neg()];
  }
}
