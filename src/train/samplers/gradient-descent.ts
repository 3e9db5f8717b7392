// GradientDescentSampler and NesterovSampler (TorchEBM's): deterministic descent of the energy
// to its low-energy configurations, started from noise.
//   gradient descent   x <- x - eta grad E(x)                       (one fused dispatch per step)
//   Nesterov           v <- mu v - eta grad E(x + mu v),  x <- x + v  (three dispatches)
import { zeros, type Tensor } from '../../tensor/index.js';
import { EulerMaruyama } from '../integrators/runge-kutta.js';
import { BaseSampler, type CallContext } from './base.js';
import { checkKeys, finite, hyper, type Hyper } from './options.js';

export interface GradientDescentOptions {
  /** eta: a number or a schedule over the steps of a call (default 1e-3, as TorchEBM). */
  stepSize?: Hyper;
}

export interface NesterovOptions extends GradientDescentOptions {
  /** mu in [0, 1) (default 0.9, as TorchEBM). */
  momentum?: number;
}

const EM = new EulerMaruyama();

export class GradientDescentSampler extends BaseSampler {
  readonly stepSize: Hyper;
  protected readonly scalarNames = ['energy'] as const;
  private readonly eta: (step: number) => number;

  constructor(energyFunction: unknown, opts: GradientDescentOptions = {}) {
    super('GradientDescentSampler', energyFunction);
    checkKeys(this.name, 'options', opts, ['stepSize']);
    this.stepSize = opts.stepSize === undefined ? 1e-3 : opts.stepSize;
    this.eta = hyper(this.name, 'stepSize', this.stepSize, 0, false);
  }

  protected start(x: Tensor): { x: Tensor } {
    return { x };
  }

  protected step(s: { x: Tensor }, t: number, ctx: CallContext): void {
    // Euler's method on the gradient flow dx/dt = -grad E: Langevin's fused step without noise.
    EM.gradientStep_(s.x, this.gradient(s.x), { stepSize: this.eta(t), noiseScale: 0, step: t, key: ctx.key });
  }

  protected chainScalars(s: { x: Tensor }): Tensor {
    return this.energy(s.x);
  }
}

interface NesterovState {
  x: Tensor;
  v: Tensor;
}

export class NesterovSampler extends BaseSampler<NesterovState> {
  readonly stepSize: Hyper;
  readonly momentum: number;
  protected readonly scalarNames = ['energy'] as const;
  private readonly eta: (step: number) => number;

  constructor(energyFunction: unknown, opts: NesterovOptions = {}) {
    super('NesterovSampler', energyFunction);
    checkKeys(this.name, 'options', opts, ['stepSize', 'momentum']);
    this.stepSize = opts.stepSize === undefined ? 1e-3 : opts.stepSize;
    this.eta = hyper(this.name, 'stepSize', this.stepSize, 0, false);
    const mu = finite(this.name, 'momentum', opts.momentum === undefined ? 0.9 : opts.momentum, 0, true);
    if (mu >= 1) throw new Error(`${this.name}: momentum must be in [0, 1), got ${mu}`);
    this.momentum = mu;
  }

  protected start(x: Tensor, ctx: CallContext): NesterovState {
    return { x, v: zeros(x.shape, { device: ctx.rt }) };
  }

  protected step(s: NesterovState, t: number): void {
    const mu = this.momentum;
    const g = this.gradient(mu === 0 ? s.x : s.x.add(s.v.mul(mu)));
    s.v.assign(s.v.mul(mu).sub(g.mul(this.eta(t))));
    s.x.assign(s.x.add(s.v));
  }

  protected chainScalars(s: NesterovState): Tensor {
    return this.energy(s.x);
  }
}
