// MetropolisAdjustedLangevin (MALA): the Langevin proposal
//   x' = x - h grad E(x) + sqrt(2h) eps
// corrected by a Metropolis-Hastings test against exp(-E), so the chains' stationary law is
// exactly exp(-E) / Z whatever h (unadjusted Langevin's is biased by O(h)). A step is the
// proposal (one dispatch, Philox noise), the gradient and energy at the proposal, and the
// decision (one dispatch, a workgroup per chain; shaders/mala.wgsl). The gradient and energy of
// the current point are carried over from the accepted proposal, and acceptance counts stay on
// the GPU, as HMC's do.
import { full, Tensor, zeros } from '../../tensor/index.js';
import { copyInto_, malaAccept_, malaPropose_, type MalaState } from '../../tensor/ops/fused/index.js';
import { BaseSampler, type CallContext, type SamplerDiagnostics } from './base.js';
import { checkKeys, hyper, type Hyper } from './options.js';

export interface MetropolisAdjustedLangevinOptions {
  /** h: a number or a schedule over the steps of a call (default 0.01). */
  stepSize?: Hyper;
}

const NAME = 'MetropolisAdjustedLangevin';

export class MetropolisAdjustedLangevin extends BaseSampler<MalaState> {
  readonly stepSize: Hyper;
  protected readonly scalarNames = ['energy', 'acceptanceRate'] as const;
  private readonly h: (step: number) => number;

  constructor(energyFunction: unknown, opts: MetropolisAdjustedLangevinOptions = {}) {
    super(NAME, energyFunction);
    checkKeys(NAME, 'options', opts, ['stepSize']);
    this.stepSize = opts.stepSize === undefined ? 0.01 : opts.stepSize;
    this.h = hyper(NAME, 'stepSize', this.stepSize, 0, false);
  }

  protected start(x: Tensor, ctx: CallContext): MalaState {
    return startMala((y) => this.gradient(y), (y) => this.energy(y), x, ctx, full([ctx.chains], 1, { device: ctx.rt }));
  }

  protected step(s: MalaState, t: number, ctx: CallContext): void {
    const a = { step: t, key: ctx.key, h: this.h(t) };
    malaPropose_(s, a);
    malaAccept_(s, this.gradient(s.xp), this.energy(s.xp), a);
  }

  protected chainScalars(s: MalaState): Tensor {
    return s.chain;
  }

  protected override finishDiagnostics(s: MalaState, ctx: CallContext): Partial<SamplerDiagnostics> {
    return { chainAcceptanceRate: s.chain.slice(0, 2, 3).reshape([s.x.shape[0]!]).div(ctx.nSteps) };
  }

}

/** The MALA state around x: its gradient and energy (row 0 of the chain table, [rows, chains]), beta per chain. */
export function startMala(gradient: (x: Tensor) => Tensor, energy: (x: Tensor) => Tensor, x: Tensor, ctx: CallContext, beta: Tensor, rows = 3): MalaState {
  const n = x.shape[0]!;
  const grad = gradient(x);
  const chain = zeros([rows, n], { device: ctx.rt });
  const e = energy(x);
  copyInto_(chain, e, { count: n });
  e.dispose();
  return { x, grad, chain, xp: Tensor.empty(ctx.rt, x.shape, 'mala-proposal'), beta };
}
