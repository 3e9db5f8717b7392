// DoubleWellEnergy, TorchEBM's formula and defaults (soran-ghaderi/torchebm,
// torchebm/core/base_model.py, DoubleWellModel, of which DoubleWellEnergy is the deprecated
// alias): E(x) = h Σ_i (x_i² − b²)², barrier height h = 2, wells at ±b, b = 1.
// Closed-form gradient: dE/dx_i = 4 h x_i (x_i² − b²).
import type { Tensor } from '../../tensor/index.js';
import { BaseEnergyFunction } from '../energy.js';
import { asBatch, checkFinite, checkOpts, closedForm } from './common.js';

export interface DoubleWellEnergyOptions {
  /** h, the barrier between the wells (default 2). */
  barrierHeight?: number;
  /** The wells' position ±b (default 1). */
  b?: number;
}

export class DoubleWellEnergy extends BaseEnergyFunction {
  readonly barrierHeight: number;
  readonly b: number;

  constructor(opts: DoubleWellEnergyOptions = {}) {
    super();
    checkOpts('DoubleWellEnergy', opts, 'barrierHeight, b');
    const { barrierHeight = 2, b = 1 } = opts;
    checkFinite('DoubleWellEnergy', 'barrierHeight', barrierHeight);
    checkFinite('DoubleWellEnergy', 'b', b);
    this.barrierHeight = barrierHeight;
    this.b = b;
  }

  override forward(x: Tensor): Tensor {
    const xb = asBatch('DoubleWellEnergy', x);
    return xb.square().sub(this.b * this.b).square().sum(-1).mul(this.barrierHeight);
  }

  override gradient(x: Tensor): Tensor {
    return closedForm('DoubleWellEnergy', x, {}, (xb) => xb.square().sub(this.b * this.b).mul(xb).mul(4 * this.barrierHeight));
  }

  override extraRepr(): string {
    return `barrier_height=${this.barrierHeight}, b=${this.b}`;
  }
}
