// RastriginEnergy, TorchEBM's formula and default (soran-ghaderi/torchebm,
// torchebm/core/base_model.py, RastriginModel / RastriginEnergy):
//   E(x) = a n + Σ_i (x_i² − a cos(2π x_i)),  a = 10.
// Closed-form gradient: dE/dx_i = 2 x_i + 2π a sin(2π x_i).
import type { Tensor } from '../../tensor/index.js';
import { BaseEnergyFunction } from '../energy.js';
import { asBatch, checkFinite, checkOpts, closedForm } from './common.js';

export interface RastriginEnergyOptions {
  /** Default 10. */
  a?: number;
}

export class RastriginEnergy extends BaseEnergyFunction {
  readonly a: number;

  constructor(opts: RastriginEnergyOptions = {}) {
    super();
    checkOpts('RastriginEnergy', opts, 'a');
    const { a = 10 } = opts;
    checkFinite('RastriginEnergy', 'a', a);
    this.a = a;
  }

  override forward(x: Tensor): Tensor {
    const xb = asBatch('RastriginEnergy', x);
    const n = xb.shape[1]!;
    return xb.square().sub(xb.mul(2 * Math.PI).cos().mul(this.a)).sum(-1).add(this.a * n);
  }

  override gradient(x: Tensor): Tensor {
    return closedForm('RastriginEnergy', x, {}, (xb) => xb.mul(2).add(xb.mul(2 * Math.PI).sin().mul(2 * Math.PI * this.a)));
  }

  override extraRepr(): string {
    return `a=${this.a}`;
  }
}
