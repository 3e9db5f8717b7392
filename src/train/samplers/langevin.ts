// LangevinDynamics: TorchEBM's unadjusted Langevin sampler,
//   x <- x - h grad E(x) + noiseScale sqrt(2h) eps,   eps ~ N(0, I),
// so noiseScale^2 acts as a temperature. A step is the energy's gradient plus ONE fused
// dispatch (gradient step, Philox noise, optional clamp; shaders/langevin.wgsl).
import { langevinStepKernel } from '../../kernels/langevin.js';
import type { Tensor } from '../../tensor/index.js';
import { BaseSampler, type CallContext } from './base.js';
import { checkKeys, describe, hyper, real, type Hyper } from './options.js';

export interface LangevinOptions {
  /** h: a number or a schedule over the steps of a call (default 1e-3, as TorchEBM). */
  stepSize?: Hyper;
  /** Scales the noise (default 1); a number or a schedule. 0 makes it gradient descent. */
  noiseScale?: Hyper;
  /** Keeps every coordinate within [min, max] after each step (either bound may be left out). */
  clamp?: { min?: number; max?: number };
}

const NAME = 'LangevinDynamics';

export class LangevinDynamics extends BaseSampler {
  readonly stepSize: Hyper;
  readonly noiseScale: Hyper;
  readonly clamp: Readonly<{ min?: number; max?: number }> | undefined;
  protected readonly scalarNames = ['energy'] as const;
  private readonly h: (step: number) => number;
  private readonly s: (step: number) => number;

  constructor(energyFunction: unknown, opts: LangevinOptions = {}) {
    super(NAME, energyFunction);
    checkKeys(NAME, 'options', opts, ['stepSize', 'noiseScale', 'clamp']);
    this.stepSize = opts.stepSize === undefined ? 1e-3 : opts.stepSize;
    this.noiseScale = opts.noiseScale === undefined ? 1 : opts.noiseScale;
    this.h = hyper(NAME, 'stepSize', this.stepSize, 0, false);
    this.s = hyper(NAME, 'noiseScale', this.noiseScale, 0, true);
    this.clamp = checkClamp(opts.clamp);
  }

  protected start(x: Tensor): { x: Tensor } {
    return { x };
  }

  protected step(state: { x: Tensor }, t: number, ctx: CallContext): void {
    const h = this.h(t);
    const g = this.gradient(state.x);
    langevinStepKernel(ctx.rt, state.x.buffer, g.buffer, {
      n: ctx.chains * ctx.dim,
      step: t,
      seedLo: ctx.key.lo,
      seedHi: ctx.key.hi,
      h,
      sigma: this.s(t) * Math.sqrt(2 * h),
      clampMin: this.clamp?.min,
      clampMax: this.clamp?.max,
    });
  }

  protected chainScalars(state: { x: Tensor }): Tensor {
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
