// CosineInterpolant (TorchEBM's; the geodesic variance-preserving path):
// alpha(t) = sin(pi t / 2), sigma(t) = cos(pi t / 2), so alpha^2 + sigma^2 = 1.
import type { Tensor } from '../../tensor/index.js';
import { BaseInterpolant } from './base.js';

const HALF_PI = Math.PI / 2;

export class CosineInterpolant extends BaseInterpolant {
  constructor() {
    super('CosineInterpolant');
  }

  computeAlphaT(t: Tensor): [Tensor, Tensor] {
    const a = t.mul(HALF_PI);
    return [a.sin(), a.cos().mul(HALF_PI)];
  }

  computeSigmaT(t: Tensor): [Tensor, Tensor] {
    const a = t.mul(HALF_PI);
    return [a.cos(), a.sin().mul(-HALF_PI)];
  }

  /** (pi / 2) cot(pi t / 2), with tan clamped to >= 1e-8 (TorchEBM's). */
  override computeDAlphaAlphaRatioT(t: Tensor): Tensor {
    const a = t.mul(HALF_PI);
    return a.sin().div(a.cos()).clamp(1e-8, null).reciprocal().mul(HALF_PI);
  }
}
