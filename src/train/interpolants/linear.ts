// LinearInterpolant (TorchEBM's; the optimal-transport / rectified-flow path):
// alpha(t) = t, sigma(t) = 1 - t, so x_t = t x1 + (1 - t) x0 and u_t = x1 - x0.
import type { Tensor } from '../../tensor/index.js';
import { BaseInterpolant } from './base.js';

export class LinearInterpolant extends BaseInterpolant {
  constructor() {
    super('LinearInterpolant');
  }

  computeAlphaT(t: Tensor): [Tensor, Tensor] {
    return [t.mul(1), t.mul(0).add(1)];
  }

  computeSigmaT(t: Tensor): [Tensor, Tensor] {
    return [t.neg().add(1), t.mul(0).sub(1)];
  }

  /** 1 / t, with t clamped to >= 1e-8 (TorchEBM's). */
  override computeDAlphaAlphaRatioT(t: Tensor): Tensor {
    return t.clamp(1e-8, null).reciprocal();
  }
}
