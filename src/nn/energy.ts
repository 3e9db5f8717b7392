// The energy contract every sampler and loss relies on (TorchEBM's BaseEnergyFunction):
// forward(x) -> E(x) of shape [batch], and gradient(x) -> dE/dx of x's shape. gradient() is the
// sampler's path: it differentiates with respect to x only, so no parameter gradient is computed
// or accumulated, and it leaves no graph or temporaries behind.
import { grad, tidy, type Tensor } from '../tensor/index.js';
import { withGradMode } from '../tensor/tape.js';
import { Module } from './module.js';

export abstract class BaseEnergyFunction extends Module {
  /** E(x): one energy per sample, shape [batch]. */
  abstract override forward(x: Tensor): Tensor;

  /** dE/dx, the shape of x (also inside noGrad: a sampler's loop runs there). */
  gradient(x: Tensor): Tensor {
    return withGradMode(true, () => tidy(() => grad((xx: Tensor) => this.forward(xx).sum())(x)));
  }

  /** TorchEBM's name for forward. */
  energy(x: Tensor): Tensor {
    return this.forward(x);
  }
}

/** Whether `e` honours the energy contract (for samplers and losses to check their argument). */
export function isEnergyFunction(e: unknown): e is BaseEnergyFunction {
  return e instanceof BaseEnergyFunction || (typeof e === 'object' && e !== null && typeof (e as BaseEnergyFunction).forward === 'function' && typeof (e as BaseEnergyFunction).gradient === 'function');
}
