// HarmonicEnergy, TorchEBM's formula and default (soran-ghaderi/torchebm,
// torchebm/core/base_model.py, HarmonicModel / HarmonicEnergy): E(x) = ½ k Σ_i x_i², k = 1.
// Closed-form gradient: dE/dx = k x.
import type { Tensor } from '../../tensor/index.js';
import { BaseEnergyFunction } from '../energy.js';
import { asBatch, checkFinite, checkOpts, closedForm } from './common.js';

export interface HarmonicEnergyOptions {
  /** The spring constant (default 1). */
  k?: number;
}

export class HarmonicEnergy extends BaseEnergyFunction {
  readonly k: number;

  constructor(opts: HarmonicEnergyOptions = {}) {
    super();
    checkOpts('HarmonicEnergy', opts, 'k');
    const { k = 1 } = opts;
    checkFinite('HarmonicEnergy', 'k', k);
    this.k = k;
  }

  override forward(x: Tensor): Tensor {
    return asBatch('HarmonicEnergy', x).square().sum(-1).mul(0.5 * this.k);
  }

  override gradient(x: Tensor): Tensor {
    return closedForm('HarmonicEnergy', x, {}, (xb) => xb.mul(this.k));
  }

  override extraRepr(): string {
    return `k=${this.k}`;
  }
}
