// ParallelTempering (replica exchange): R replicas of the chains on a ladder of temperatures
// 1 = T_0 < T_1 < ... < T_{R-1}, each replica a Langevin or MALA chain targeting exp(-E / T_r),
// and after every swapEvery steps an exchange between neighbouring temperatures of each column,
// accepted with probability min(1, exp((1/T_r - 1/T_{r+1}) (E_r - E_{r+1}))). Pairs alternate
// (0,1),(2,3).. and (1,2),(3,4).. so one dispatch decides a whole round. Hot replicas cross
// energy barriers and pass their states down; the T = 1 replica is returned (its chains are
// exp(-E)-distributed exactly with MALA, up to Langevin's O(h) bias without).
//
// All replicas run as one batch [R * nSamples, ...dim] (replica-major), so a step is one
// gradient (and, for MALA, one energy) call over every replica; the T = 1 rows are copied into
// the sampler's x after each step (a buffer copy, no dispatch).
import { copyInto_, malaAccept_, malaPropose_, temperedLangevin_, temperingSwap_, type MalaState } from '../../tensor/ops/fused/index.js';
import { tensor, Tensor } from '../../tensor/index.js';
import { BaseSampler, type CallContext, type SamplerDiagnostics } from './base.js';
import { startMala } from './mala.js';
import { checkKeys, describe, finite, hyper, positiveInt, type Hyper } from './options.js';

export interface ParallelTemperingOptions {
  /** The ladder, ascending from 1 (at least two). Default: a geometric ladder of nReplicas from 1 to maxTemperature. */
  temperatures?: readonly number[];
  /** Replicas of the default ladder (default 4). */
  nReplicas?: number;
  /** The hottest temperature of the default ladder (default 10). */
  maxTemperature?: number;
  /** The replicas' transition: 'mala' (default) or 'langevin' (unadjusted). */
  transition?: 'mala' | 'langevin';
  /** h of every replica's Langevin step (default 0.01); a number or a schedule. */
  stepSize?: Hyper;
  /** Steps between exchange rounds (default 1). */
  swapEvery?: number;
}

/** ParallelTempering's diagnostics: the T = 1 chains', plus the exchanges. */
export interface ParallelTemperingDiagnostics extends SamplerDiagnostics {
  /** [R - 1]: accepted exchanges of temperatures (r, r + 1) per column over the call / rounds that paired them. */
  swapAcceptanceRate: Tensor;
}

interface PtState extends MalaState {
  /** The T = 1 chains [nSamples, ...dim] (the sampler's result), copied from rows 0.. of all. */
  x: Tensor;
  /** Every replica [R * nSamples, ...dim]. */
  all: Tensor;
}

const NAME = 'ParallelTempering';

export class ParallelTempering extends BaseSampler<PtState> {
  readonly temperatures: readonly number[];
  readonly transition: 'mala' | 'langevin';
  readonly stepSize: Hyper;
  readonly swapEvery: number;
  protected readonly scalarNames: readonly string[];
  private readonly h: (step: number) => number;

  constructor(energyFunction: unknown, opts: ParallelTemperingOptions = {}) {
    super(NAME, energyFunction);
    checkKeys(NAME, 'options', opts, ['temperatures', 'nReplicas', 'maxTemperature', 'transition', 'stepSize', 'swapEvery']);
    this.temperatures = Object.freeze(ladder(opts));
    const tr = opts.transition ?? 'mala';
    if (tr !== 'mala' && tr !== 'langevin') throw new Error(`${NAME}: transition must be 'mala' or 'langevin', got ${describe(tr)}`);
    this.transition = tr;
    this.stepSize = opts.stepSize === undefined ? 0.01 : opts.stepSize;
    this.h = hyper(NAME, 'stepSize', this.stepSize, 0, false);
    this.swapEvery = positiveInt(NAME, 'swapEvery', opts.swapEvery ?? 1);
    this.scalarNames = tr === 'mala' ? ['energy', 'acceptanceRate'] : ['energy'];
  }

  protected start(x: Tensor, ctx: CallContext): PtState {
    const r = this.temperatures.length;
    const n = ctx.chains;
    // Every replica starts where its column's T = 1 chain starts.
    const all = Tensor.empty(ctx.rt, [r * n, ...x.shape.slice(1)], 'pt-replicas');
    for (let k = 0; k < r; k++) copyInto_(all, x, { dstOffset: k * x.size, count: x.size });
    const betas = new Float32Array(r * n);
    this.temperatures.forEach((t, k) => betas.fill(1 / t, k * n, (k + 1) * n));
    const beta = tensor(betas, [r * n], { device: ctx.rt });
    const s = startMala((y) => this.gradient(y), (y) => this.energy(y), all, ctx, beta, 4);
    return { ...s, x, all };
  }

  protected step(s: PtState, t: number, ctx: CallContext): void {
    const a = { step: t, key: ctx.key, h: this.h(t) };
    const st = { ...s, x: s.all };
    if (this.transition === 'mala') {
      malaPropose_(st, a);
      malaAccept_(st, this.gradient(s.xp), this.energy(s.xp), a);
    } else {
      const g = this.gradient(s.all);
      temperedLangevin_(s.all, g, s.beta, a);
    }
    if ((t + 1) % this.swapEvery === 0) {
      if (this.transition === 'langevin') {
        // The exchange needs the energies (and keeps the gradient rows in step; Langevin recomputes them).
        const e = this.energy(s.all);
        copyInto_(s.chain, e, { count: s.all.shape[0]! });
      }
      const round = Math.floor(t / this.swapEvery);
      temperingSwap_(st, { step: t, key: ctx.key, replicas: this.temperatures.length, parity: round % 2 });
    }
    copyInto_(s.x, s.all, { count: s.x.size });
  }

  protected chainScalars(s: PtState, ctx: CallContext): Tensor {
    if (this.transition === 'langevin') return this.energy(s.x);
    // Rows (energy, accepted) of the T = 1 columns.
    return s.chain.reshape([4, this.temperatures.length, ctx.chains]).slice(1, 0, 1).reshape([4, ctx.chains]);
  }

  protected override finishDiagnostics(s: PtState, ctx: CallContext): Partial<SamplerDiagnostics> {
    const rounds = Math.floor(ctx.nSteps / this.swapEvery);
    // Pair (r, r + 1) is tried in the rounds whose parity is r's: rounds 0, 2, .. for even r.
    const tries = Array.from({ length: this.temperatures.length - 1 }, (_, r) => Math.max(1, Math.floor((rounds + 1 - (r % 2)) / 2)));
    // Row 3 of the chain table counts the accepted swaps at the lower row of each pair.
    const r = this.temperatures.length;
    const swapAcceptanceRate = s.chain.slice(0, 3, 4).reshape([r, ctx.chains]).slice(0, 0, r - 1).mean(1).div(tensor(Float32Array.from(tries), [tries.length], { device: ctx.rt }));
    const out: Partial<ParallelTemperingDiagnostics> = { swapAcceptanceRate };
    if (this.transition === 'mala') out.chainAcceptanceRate = s.chain.slice(0, 2, 3).slice(1, 0, ctx.chains).reshape([ctx.chains]).div(ctx.nSteps);
    return out;
  }
}

function ladder(opts: ParallelTemperingOptions): number[] {
  if (opts.temperatures !== undefined) {
    if (opts.nReplicas !== undefined || opts.maxTemperature !== undefined) throw new Error(`${NAME}: give temperatures, or nReplicas and maxTemperature, not both`);
    const ts = opts.temperatures;
    if (!Array.isArray(ts) || ts.length < 2) throw new Error(`${NAME}: temperatures must be an array of at least 2 numbers, got ${describe(ts)}`);
    ts.forEach((t, i) => finite(NAME, `temperatures[${i}]`, t, 0, false));
    if (ts[0] !== 1) throw new Error(`${NAME}: temperatures[0] must be 1 (the replica that is returned), got ${ts[0]}`);
    for (let i = 1; i < ts.length; i++) if (!(ts[i]! > ts[i - 1]!)) throw new Error(`${NAME}: temperatures must be strictly ascending, got ${describe(ts)}`);
    return [...ts];
  }
  const r = positiveInt(NAME, 'nReplicas', opts.nReplicas ?? 4);
  if (r < 2) throw new Error(`${NAME}: nReplicas must be >= 2, got ${r}`);
  const tMax = finite(NAME, 'maxTemperature', opts.maxTemperature ?? 10, 1, false);
  return Array.from({ length: r }, (_, k) => tMax ** (k / (r - 1)));
}
