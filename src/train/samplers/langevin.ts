// LangevinDynamics: TorchEBM's unadjusted Langevin sampler,
//   x <- x - h grad E(x) + noiseScale sqrt(2h) eps,   eps ~ N(0, I),
// so noiseScale^2 acts as a temperature. A step is the energy's gradient plus ONE fused
// dispatch (gradient step, Philox noise, optional clamp; shaders/langevin.wgsl): the
// Euler-Maruyama integrator's fused step for the drift -grad E (EulerMaruyama.gradientStep_),
// as TorchEBM's LangevinDynamics steps with its EulerMaruyamaIntegrator.
// For an MLP energy of modest width the fused path (fused-mlp.ts) runs several whole steps,
// forward, dE/dx and update, per dispatch instead; same chains, to f32 round-off.
import { type Tensor } from '../../tensor/index.js';
import { EulerMaruyama } from '../integrators/runge-kutta.js';
import { BaseSampler, type CallContext, type SampleOptions, type SampleResult } from './base.js';
import { fusedOption, fusedSupport, startFusedRun, type FusedMlpRun } from './fused-mlp.js';
import { checkKeys, describe, hyper, real, type Hyper } from './options.js';

export interface LangevinOptions {
  /** h: a number or a schedule over the steps of a call (default 1e-3, as TorchEBM). */
  stepSize?: Hyper;
  /** Scales the noise (default 1); a number or a schedule. 0 makes it gradient descent. */
  noiseScale?: Hyper;
  /** Keeps every coordinate within [min, max] after each step (either bound may be left out). */
  clamp?: { min?: number; max?: number };
  /**
   * The fused path for MLP energies (see fused-mlp.ts): true (the default) uses it whenever the
   * energy qualifies, false never; { stepsPerDispatch } also sets how many steps one dispatch
   * runs (default 32, at most 64).
   */
  fused?: boolean | { stepsPerDispatch?: number };
}

interface LangevinState {
  x: Tensor;
  /** The call's fused run, or null on the general path. */
  fused: FusedMlpRun | null;
}

const NAME = 'LangevinDynamics';

export class LangevinDynamics extends BaseSampler<LangevinState> {
  readonly stepSize: Hyper;
  readonly noiseScale: Hyper;
  readonly clamp: Readonly<{ min?: number; max?: number }> | undefined;
  /** The integrator of the general path (the fused MLP path runs the same update per dispatch). */
  readonly integrator = new EulerMaruyama();
  protected readonly scalarNames = ['energy'] as const;
  private readonly h: (step: number) => number;
  private readonly s: (step: number) => number;
  /** Steps per fused dispatch, or 0 when the fused path is switched off. */
  readonly stepsPerDispatch: number;
  /** The options of the sample() call in progress (the fused chunks end where it records). */
  private callOpts: SampleOptions | null = null;

  constructor(energyFunction: unknown, opts: LangevinOptions = {}) {
    super(NAME, energyFunction);
    checkKeys(NAME, 'options', opts, ['stepSize', 'noiseScale', 'clamp', 'fused']);
    this.stepSize = opts.stepSize === undefined ? 1e-3 : opts.stepSize;
    this.noiseScale = opts.noiseScale === undefined ? 1 : opts.noiseScale;
    this.h = hyper(NAME, 'stepSize', this.stepSize, 0, false);
    this.s = hyper(NAME, 'noiseScale', this.noiseScale, 0, true);
    this.clamp = checkClamp(opts.clamp);
    this.stepsPerDispatch = fusedOption(NAME, opts.fused);
  }

  /**
   * Whether a call with samples of shape sampleShape (default: the network's input, [inputDim])
   * runs the fused MLP path, and if not, why not.
   */
  fusedSupport(sampleShape?: readonly number[]): { fused: boolean; reason?: string } {
    if (this.stepsPerDispatch === 0) return { fused: false, reason: 'switched off (fused: false)' };
    const s = fusedSupport(this.energyFunction, sampleShape ?? null, null);
    return s.fused ? { fused: true } : { fused: false, reason: s.reason };
  }

  override sampleWith(opts: SampleOptions): SampleResult {
    this.callOpts = opts;
    try {
      return super.sampleWith(opts);
    } finally {
      this.callOpts = null;
    }
  }

  protected start(x: Tensor, ctx: CallContext): LangevinState {
    const fused = this.stepsPerDispatch > 0 ? startFusedRun(this.energyFunction, x, ctx, this.callOpts, this.stepsPerDispatch) : null;
    return { x, fused };
  }

  protected step(state: LangevinState, t: number, ctx: CallContext): void {
    if (state.fused) {
      state.fused.step(state.x, t, ctx.key, (k) => this.hs(k), this.clamp);
      return;
    }
    const g = this.gradient(state.x);
    this.integrator.gradientStep_(state.x, g, {
      step: t,
      key: ctx.key,
      stepSize: this.h(t),
      noiseScale: this.s(t),
      clampMin: this.clamp?.min,
      clampMax: this.clamp?.max,
    });
  }

  /** Step k's (h, sigma = noiseScale sqrt(2h)), as the general path computes them. */
  private hs(k: number): readonly [number, number] {
    const h = this.h(k);
    return [h, this.s(k) * Math.sqrt(2 * h)];
  }

  protected chainScalars(state: LangevinState): Tensor {
    return this.energy(state.x);
  }
}

function checkClamp(c: unknown): { min?: number; max?: number } | undefined {
  if (c === undefined) return undefined;
  checkKeys(NAME, 'clamp', c, ['min', 'max'], 'clamp key');
  const { min, max } = c as { min?: unknown; max?: unknown };
  const lo = min === undefined ? undefined : real(NAME, 'clamp.min', min);
  const hi = max === undefined ? undefined : real(NAME, 'clamp.max', max);
  if (lo === undefined && hi === undefined) throw new Error(`${NAME}: clamp needs min, max or both, got ${describe(c)}`);
  if (lo !== undefined && hi !== undefined && lo > hi) throw new Error(`${NAME}: clamp.min (${lo}) exceeds clamp.max (${hi})`);
  return Object.freeze({ min: lo, max: hi });
}
