// AckleyEnergy, TorchEBM's formula and defaults (soran-ghaderi/torchebm,
// torchebm/core/base_model.py, AckleyModel / AckleyEnergy):
//   E(x) = −a exp(−b sqrt(Σ x_i² / n)) − exp(Σ cos(c x_i) / n) + a + e,  a = 20, b = 0.2, c = 2π.
// Closed-form gradient, with r = sqrt(Σ x_i² / n):
//   dE/dx_i = a b exp(−b r) x_i / (n r) + (c / n) sin(c x_i) exp(Σ cos(c x_j) / n).
// (TorchEBM's old analytic gradient divides x_i by r rather than n r, which is off by a factor
// n in the first term; this one matches autodiff of the energy.) At r = 0, the cone tip where
// the first term has no limit, it is taken as 0 (a subgradient), where autodiff gives NaN.
import { where, type Tensor } from '../../tensor/index.js';
import { BaseEnergyFunction } from '../energy.js';
import { asBatch, checkFinite, checkOpts, closedForm } from './common.js';

export interface AckleyEnergyOptions {
  /** Default 20. */
  a?: number;
  /** Default 0.2. */
  b?: number;
  /** Default 2π. */
  c?: number;
}

export class AckleyEnergy extends BaseEnergyFunction {
  readonly a: number;
  readonly b: number;
  readonly c: number;

  constructor(opts: AckleyEnergyOptions = {}) {
    super();
    checkOpts('AckleyEnergy', opts, 'a, b, c');
    const { a = 20, b = 0.2, c = 2 * Math.PI } = opts;
    checkFinite('AckleyEnergy', 'a', a);
    checkFinite('AckleyEnergy', 'b', b);
    checkFinite('AckleyEnergy', 'c', c);
    this.a = a;
    this.b = b;
    this.c = c;
  }

  override forward(x: Tensor): Tensor {
    const xb = asBatch('AckleyEnergy', x);
    const term1 = xb.square().mean(-1).sqrt().mul(-this.b).exp().mul(-this.a);
    const term2 = xb.mul(this.c).cos().mean(-1).exp();
    return term1.sub(term2).add(this.a + Math.E);
  }

  override gradient(x: Tensor): Tensor {
    return closedForm('AckleyEnergy', x, {}, (xb) => {
      const n = xb.shape[1]!;
      const r = xb.square().mean(-1, true).sqrt(); // [batch, 1]
      const dir = where(r.gt(0), xb.div(r.mul(n)), 0); // x / (n r), 0 at the origin
      const term1 = dir.mul(r.mul(-this.b).exp().mul(this.a * this.b));
      const cx = xb.mul(this.c);
      const term2 = cx.sin().mul(cx.cos().mean(-1, true).exp().mul(this.c / n));
      return term1.add(term2);
    });
  }

  override extraRepr(): string {
    return `a=${this.a}, b=${this.b}, c=${this.c}`;
  }
}
