// FlowSampler: integrates an ODE dx/dt = v(x, t) from noise at t0 to t1 with any integrator of
// src/train/integrators (TorchEBM's FlowSampler, ODE mode): the velocity is either the gradient
// flow of an energy, v = -grad E(x) (deterministic descent along the energy, in continuous
// time), or a learned velocity v(x, t) (a flow-matching / EqM model; TorchEBM's
// negateVelocity flips it for models trained on the reverse direction). Sampler step k
// advances the chains from t_k to t_{k+1}, t_k = t0 + k (t1 - t0) / nSteps: one step of a
// fixed-step integrator, or an adaptive Dopri5 solve over that interval, so trajectories and
// diagnostics are kept per step like the other samplers'.
import { BaseEnergyFunction } from '../../nn/energy.js';
import { zeros, Tensor } from '../../tensor/index.js';
import { BaseIntegrator, type Drift } from '../integrators/base.js';
import { Dopri5 } from '../integrators/dopri5.js';
import { Heun } from '../integrators/runge-kutta.js';
import { BaseSampler, type CallContext, type SampleOptions, type SampleResult } from './base.js';
import { checkKeys, describe, real } from './options.js';

/** A learned velocity: v(x, t) with x [batch, ...] and t [batch]; returns x's shape. */
export type Velocity = (x: Tensor, t: Tensor) => Tensor;

export interface FlowSamplerOptions {
  /** Any fixed-step integrator or Dopri5 (default Heun). SDE integrators run without a diffusion. */
  integrator?: BaseIntegrator | Dopri5;
  /** The time span (default 0 to 1: noise to data, TorchEBM's convention). */
  t0?: number;
  t1?: number;
  /** Integrate -v instead of v (TorchEBM's negate_velocity; velocity models only). */
  negateVelocity?: boolean;
}

/** The energy a velocity model reports in the diagnostics: none, so 0. */
class NoEnergy extends BaseEnergyFunction {
  override forward(x: Tensor): Tensor {
    return zeros([x.shape[0]!], { device: x.device });
  }
  override gradient(): Tensor {
    throw new Error('FlowSampler: a velocity model has no energy gradient');
  }
}

const NAME = 'FlowSampler';

export class FlowSampler extends BaseSampler {
  readonly integrator: BaseIntegrator | Dopri5;
  readonly t0: number;
  readonly t1: number;
  readonly negateVelocity: boolean;
  /** The learned velocity, or null for the gradient flow of the energy. */
  readonly velocity: Velocity | null;
  protected readonly scalarNames = ['energy'] as const;
  private nSteps = 1;

  /** model: an energy function (its gradient flow) or a velocity function (x, t) => Tensor. */
  constructor(model: unknown, opts: FlowSamplerOptions = {}) {
    const isVelocity = typeof model === 'function';
    super(NAME, isVelocity ? new NoEnergy() : model);
    this.velocity = isVelocity ? (model as Velocity) : null;
    checkKeys(NAME, 'options', opts, ['integrator', 't0', 't1', 'negateVelocity']);
    const integ = opts.integrator ?? new Heun();
    if (!(integ instanceof BaseIntegrator) && !(integ instanceof Dopri5))
      throw new Error(`${NAME}: integrator must be EulerMaruyama, Heun, Midpoint, RK4 or Dopri5, got ${describe(integ)}`);
    this.integrator = integ;
    this.t0 = real(NAME, 't0', opts.t0 ?? 0);
    this.t1 = real(NAME, 't1', opts.t1 ?? 1);
    if (this.t1 === this.t0) throw new Error(`${NAME}: t1 must differ from t0 (both ${this.t0})`);
    if (integ instanceof Dopri5 && !(this.t1 > this.t0)) throw new Error(`${NAME}: Dopri5 integrates forwards; t1 (${this.t1}) must exceed t0 (${this.t0})`);
    if (opts.negateVelocity !== undefined && typeof opts.negateVelocity !== 'boolean') throw new Error(`${NAME}: negateVelocity must be a boolean, got ${describe(opts.negateVelocity)}`);
    if (opts.negateVelocity && !isVelocity) throw new Error(`${NAME}: negateVelocity applies to a velocity model, not to an energy's gradient flow`);
    this.negateVelocity = opts.negateVelocity ?? false;
  }

  override sampleWith(opts: SampleOptions): SampleResult {
    this.nSteps = typeof opts?.nSteps === 'number' ? opts.nSteps : 1;
    return super.sampleWith(opts);
  }

  private readonly drift: Drift = (x, t) => {
    if (!this.velocity) return this.gradient(x).neg();
    const v = this.velocity(x, t);
    if (!(v instanceof Tensor)) throw new Error(`${NAME}: the velocity (x, t) must return a Tensor, got ${describe(v)}`);
    return this.negateVelocity ? v.neg() : v;
  };

  protected start(x: Tensor): { x: Tensor } {
    return { x };
  }

  protected step(s: { x: Tensor }, k: number): void {
    const h = (this.t1 - this.t0) / this.nSteps;
    const ta = this.t0 + k * h;
    const next = this.integrator instanceof Dopri5 ? this.integrator.integrate({ x: s.x, drift: this.drift, t0: ta, t1: ta + h }) : this.integrator.step({ x: s.x, drift: this.drift, t: ta, stepSize: h });
    s.x.assign(next);
  }

  protected chainScalars(s: { x: Tensor }, _ctx: CallContext): Tensor {
    return this.energy(s.x);
  }
}
