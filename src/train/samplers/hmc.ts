// HamiltonianMonteCarlo: TorchEBM's HMC with the whole step on the GPU. Momentum is drawn from
// Philox inside the first leapfrog kernel, the Metropolis decision (uniform from Philox too) is
// made per chain in a kernel, and the chain's gradient and energy are carried over from the
// accepted point, so a step costs nLeapfrogSteps gradients, one energy, and
// nLeapfrogSteps + 1 small dispatches (shaders/hmc.wgsl). Acceptance counts stay on the GPU.
// The three kernels are the Leapfrog integrator's update (src/train/integrators/leapfrog.ts),
// fused; test/integrators.test.ts checks that they move (x, p) as Leapfrog.integrate does.
import { Tensor, zeros } from '../../tensor/index.js';
import { copyInto_, hmcAccept_, hmcBegin_, hmcLeap_, type HmcStep } from '../../tensor/ops/fused/index.js';
import { BaseSampler, type CallContext, type SamplerDiagnostics } from './base.js';
import { checkKeys, finite, hyper, positiveInt, type Hyper } from './options.js';

export interface HamiltonianMonteCarloOptions {
  /** The leapfrog step (default 0.1, as TorchEBM); a number or a schedule over the HMC steps. */
  stepSize?: Hyper;
  /** Leapfrog steps per proposal (default 10, as TorchEBM). */
  nLeapfrogSteps?: number;
  /** A scalar mass (default 1): momentum ~ N(0, mass), kinetic energy |p|^2 / (2 mass). */
  mass?: number;
}

const NAME = 'HamiltonianMonteCarlo';

/** The chain state of one call; every tensor is the sampler's own. */
interface HmcState {
  x: Tensor;
  grad: Tensor;
  /** [3, chains]: energy at x, last step's accepted flag, accept count. */
  chain: Tensor;
  xp: Tensor;
  p: Tensor;
}

export class HamiltonianMonteCarlo extends BaseSampler<HmcState> {
  readonly stepSize: Hyper;
  readonly nLeapfrogSteps: number;
  readonly mass: number;
  protected readonly scalarNames = ['energy', 'acceptanceRate'] as const;
  private readonly h: (step: number) => number;

  constructor(energyFunction: unknown, opts: HamiltonianMonteCarloOptions = {}) {
    super(NAME, energyFunction);
    checkKeys(NAME, 'options', opts, ['stepSize', 'nLeapfrogSteps', 'mass']);
    this.stepSize = opts.stepSize === undefined ? 0.1 : opts.stepSize;
    this.h = hyper(NAME, 'stepSize', this.stepSize, 0, false);
    this.nLeapfrogSteps = positiveInt(NAME, 'nLeapfrogSteps', opts.nLeapfrogSteps === undefined ? 10 : opts.nLeapfrogSteps);
    this.mass = finite(NAME, 'mass', opts.mass === undefined ? 1 : opts.mass, 0, false);
  }

  protected start(x: Tensor, ctx: CallContext): HmcState {
    const grad = this.gradient(x);
    const chain = zeros([3, ctx.chains], { device: ctx.rt });
    const e = this.energy(x);
    // Row 0 of the chain table: the energy at x.
    copyInto_(chain, e, { count: ctx.chains });
    e.dispose();
    return { x, grad, chain, xp: Tensor.empty(ctx.rt, x.shape, 'hmc-proposal'), p: Tensor.empty(ctx.rt, x.shape, 'hmc-momentum') };
  }

  protected step(s: HmcState, t: number, ctx: CallContext): void {
    const a: HmcStep = { step: t, key: ctx.key, h: this.h(t), mass: this.mass };
    hmcBegin_(s, a);
    let gp = this.gradient(s.xp);
    for (let l = 1; l < this.nLeapfrogSteps; l++) {
      hmcLeap_(s, gp, a);
      gp.dispose();
      gp = this.gradient(s.xp);
    }
    hmcAccept_(s, gp, this.energy(s.xp), a);
  }

  protected chainScalars(s: HmcState): Tensor {
    return s.chain;
  }

  protected override finishDiagnostics(s: HmcState, ctx: CallContext): Partial<SamplerDiagnostics> {
    return { chainAcceptanceRate: s.chain.slice(0, 2, 3).reshape([ctx.chains]).div(ctx.nSteps) };
  }
}
