// RosenbrockEnergy, TorchEBM's formula and defaults (soran-ghaderi/torchebm,
// torchebm/core/base_model.py, RosenbrockModel / RosenbrockEnergy): the n-dimensional sum
// E(x) = Σ_{i=1}^{n-1} [(a − x_i)² + b (x_{i+1} − x_i²)²], a = 1, b = 100, n >= 2 (for n = 2 it
// is the classic (a − x₁)² + b (x₂ − x₁²)² of TorchEBM's earlier releases). Minimum at (a, a², ...)
// for n = 2. Closed-form gradient, with d_i = x_{i+1} − x_i²:
//   dE/dx_j = [j < n] (−2 (a − x_j) − 4 b x_j d_j) + [j > 1] 2 b d_{j−1}.
import { concat, zeros, type Tensor } from '../../tensor/index.js';
import { BaseEnergyFunction } from '../energy.js';
import { asBatch, checkFinite, checkOpts, closedForm } from './common.js';

export interface RosenbrockEnergyOptions {
  /** Default 1. */
  a?: number;
  /** Default 100. */
  b?: number;
}

export class RosenbrockEnergy extends BaseEnergyFunction {
  readonly a: number;
  readonly b: number;

  constructor(opts: RosenbrockEnergyOptions = {}) {
    super();
    checkOpts('RosenbrockEnergy', opts, 'a, b');
    const { a = 1, b = 100 } = opts;
    checkFinite('RosenbrockEnergy', 'a', a);
    checkFinite('RosenbrockEnergy', 'b', b);
    this.a = a;
    this.b = b;
  }

  override forward(x: Tensor): Tensor {
    const xb = asBatch('RosenbrockEnergy', x, { minDim: 2 });
    const xi = xb.slice(1, 0, -1);
    const next = xb.slice(1, 1);
    return xi.neg().add(this.a).square().add(next.sub(xi.square()).square().mul(this.b)).sum(-1);
  }

  override gradient(x: Tensor): Tensor {
    return closedForm('RosenbrockEnergy', x, { minDim: 2 }, (xb) => {
      const xi = xb.slice(1, 0, -1);
      const d = xb.slice(1, 1).sub(xi.square()); // [batch, n-1]
      const left = xi.neg().add(this.a).mul(-2).sub(xi.mul(d).mul(4 * this.b)); // terms of x_1..x_{n-1}
      const right = d.mul(2 * this.b); // terms of x_2..x_n
      const pad = zeros([xb.shape[0]!, 1], { device: xb.device });
      return concat([left, pad], 1).add(concat([pad, right], 1));
    });
  }

  override extraRepr(): string {
    return `a=${this.a}, b=${this.b}`;
  }
}
