// BaseSampler: TorchEBM's sampler contract over GPU chains. A call starts the chains (from x, or
// from N(0, 1) of shape [nSamples, ...dim]), runs nSteps steps of the subclass's transition,
// and keeps every thin-th step for the trajectory and the diagnostics. The whole call is
// recorded GPU work: nothing is read back, so sample() is synchronous and returns tensors the
// caller reads (or feeds on) when it wants. Every temporary of a step is freed with the step.
import { isEnergyFunction, type BaseEnergyFunction } from '../../nn/energy.js';
import { getDevice, noGrad, randn, tidy, Tensor, type Runtime } from '../../tensor/index.js';
import { sharesStorage } from '../../tensor/ops/fused/index.js';
import { withGradMode } from '../../tensor/tape.js';
import { fmt, sameShape } from '../../tensor/shape.js';
import { ChainRecorder } from './recorder.js';
import { checkKeys, describe, positiveInt, seedOf } from './options.js';
import { callKey, streamSeed, STREAM_INIT, type CallKey } from './streams.js';

export interface SampleOptions {
  /** Starting points [nSamples, ...dim] (not modified). Default: N(0, 1) draws. */
  x?: Tensor;
  /** The shape of one sample (a number for a vector), when x is not given. */
  dim?: number | readonly number[];
  /** Chains to run when x is not given (default 1, as TorchEBM). */
  nSamples?: number;
  /** Transitions per chain. */
  nSteps: number;
  /** Keep every thin-th step in the trajectory and diagnostics (default 1). */
  thin?: number;
  returnTrajectory?: boolean;
  returnDiagnostics?: boolean;
  /** Same seed, same chains. Without one, every call draws fresh noise. */
  seed?: number;
}

/** Per kept step k (after (k + 1) * thin steps), reduced over the chains on the GPU. */
export interface SamplerDiagnostics {
  /** [kept, ...dim]: the chains' mean. */
  mean: Tensor;
  /** [kept, ...dim]: the chains' variance (population, as TorchEBM's unbiased=False). */
  var: Tensor;
  /** [kept]: the mean energy. */
  energy: Tensor;
  /** HMC: [kept], the fraction of chains whose proposal was accepted at that step. */
  acceptanceRate?: Tensor;
  /** HMC: [nSamples], each chain's accepted proposals / nSteps over the call. */
  chainAcceptanceRate?: Tensor;
}

export interface SampleResult {
  /** The final states [nSamples, ...dim]. */
  samples: Tensor;
  /** [nSamples, floor(nSteps / thin), ...dim], with returnTrajectory. */
  trajectory?: Tensor;
  /** With returnDiagnostics. */
  diagnostics?: SamplerDiagnostics;
}

type Plain = SampleOptions & { returnTrajectory?: false; returnDiagnostics?: false };
type Rich = SampleOptions & ({ returnTrajectory: true } | { returnDiagnostics: true });

const SAMPLE_KEYS = ['x', 'dim', 'nSamples', 'nSteps', 'thin', 'returnTrajectory', 'returnDiagnostics', 'seed'] as const;

/** What one call knows, handed to the subclass's transition. */
export interface CallContext {
  rt: Runtime;
  key: CallKey;
  chains: number;
  /** Elements per chain. */
  dim: number;
  nSteps: number;
}

export abstract class BaseSampler<State extends { x: Tensor } = { x: Tensor }> {
  readonly energyFunction: BaseEnergyFunction;

  protected constructor(
    /** The class name, for messages. */
    protected readonly name: string,
    energy: unknown,
  ) {
    if (!isEnergyFunction(energy))
      throw new Error(`${name}: the energy function must be a BaseEnergyFunction (an object with forward(x) and gradient(x)), got ${describe(energy)}`);
    this.energyFunction = energy;
  }

  /**
   * Runs the chains. Returns the final samples [nSamples, ...dim]; with returnTrajectory or
   * returnDiagnostics, an object { samples, trajectory?, diagnostics? } instead.
   */
  sample(opts: Plain): Tensor;
  sample(opts: Rich): SampleResult;
  sample(opts: SampleOptions): Tensor | SampleResult;
  sample(opts: SampleOptions): Tensor | SampleResult {
    const result = this.sampleWith(opts);
    return opts.returnTrajectory || opts.returnDiagnostics ? result : result.samples;
  }

  /** Like sample(), always as { samples, trajectory?, diagnostics? }. */
  sampleWith(opts: SampleOptions): SampleResult {
    const call = this.checkCall(opts);
    return noGrad(() => tidy(() => this.run(opts, call)));
  }

  // ---- what a sampler implements ----

  /** Sets up the call's state around the starting points x (which the sampler owns and updates). */
  protected abstract start(x: Tensor, ctx: CallContext): State;
  /** One transition, step t of the call (0-based). Runs inside its own tidy scope. */
  protected abstract step(state: State, t: number, ctx: CallContext): void;
  /** Names of the per-chain scalars the diagnostics average; 'energy' first. */
  protected abstract readonly scalarNames: readonly string[];
  /** [scalarNames.length (or more), chains]: per-chain scalars at the current state. */
  protected abstract chainScalars(state: State, ctx: CallContext): Tensor;
  /** Extra diagnostics at the end of a call (HMC's per-chain acceptance). */
  protected finishDiagnostics(_state: State, _ctx: CallContext): Partial<SamplerDiagnostics> {
    return {};
  }

  // ---- helpers for subclasses ----

  /** dE/dx with grad mode on (the caller may be inside noGrad), checked against x's shape. */
  protected gradient(x: Tensor): Tensor {
    const g = withGradMode(true, () => this.energyFunction.gradient(x));
    if (!(g instanceof Tensor)) throw new Error(`${this.name}: energy.gradient(x) must return a Tensor, got ${describe(g)}`);
    if (!sameShape(g.shape, x.shape) || g.dtype !== 'f32')
      throw new Error(`${this.name}: energy.gradient(x) returned ${g.dtype} ${fmt(g.shape)} for x of shape ${fmt(x.shape)}; it must match x (f32)`);
    // The fused kernels update x in place, so the gradient must live in another buffer.
    return sharesStorage(g, x) ? g.clone() : g;
  }

  /** E(x), one per chain: shape [chains] ([chains, 1] is accepted). */
  protected energy(x: Tensor): Tensor {
    const e = noGrad(() => this.energyFunction.forward(x));
    const n = x.shape[0]!;
    if (!(e instanceof Tensor)) throw new Error(`${this.name}: energy.forward(x) must return a Tensor, got ${describe(e)}`);
    if (e.dtype !== 'f32' || !(sameShape(e.shape, [n]) || sameShape(e.shape, [n, 1])))
      throw new Error(`${this.name}: energy.forward(x) returned ${e.dtype} ${fmt(e.shape)} for ${n} chains; it must be f32 [${n}] (one energy per chain)`);
    return e.rank === 1 ? e : e.reshape([n]);
  }

  // ---- the call ----

  private checkCall(opts: SampleOptions) {
    const where = `${this.name}.sample`;
    checkKeys(where, 'options', opts, SAMPLE_KEYS);
    const nSteps = positiveInt(where, 'nSteps', opts.nSteps);
    const thin = positiveInt(where, 'thin', opts.thin ?? 1);
    if (thin > nSteps) throw new Error(`${where}: thin (${thin}) exceeds nSteps (${nSteps}), so no step would be kept`);
    for (const k of ['returnTrajectory', 'returnDiagnostics'] as const)
      if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw new Error(`${where}: ${k} must be a boolean, got ${describe(opts[k])}`);
    const seed = opts.seed === undefined ? undefined : seedOf(where, opts.seed);
    const dimShape = this.checkShape(where, opts);
    return { nSteps, thin, seed, dimShape };
  }

  /** The shape of one sample, from x or dim, with every disagreement named. */
  private checkShape(where: string, opts: SampleOptions): number[] {
    const dim = opts.dim === undefined ? undefined : typeof opts.dim === 'number' ? [opts.dim] : opts.dim;
    if (dim !== undefined && (!Array.isArray(dim) || dim.length === 0 || dim.some((d) => !Number.isInteger(d) || d < 1)))
      throw new Error(`${where}: dim must be a positive integer or a non-empty array of them, got ${describe(opts.dim)}`);
    if (opts.x === undefined) {
      if (dim === undefined) throw new Error(`${where}: give the starting points x, or dim (the shape of one sample) to start from N(0, 1)`);
      positiveInt(where, 'nSamples', opts.nSamples ?? 1);
      return [...dim];
    }
    const x = opts.x;
    if (!(x instanceof Tensor)) throw new Error(`${where}: x must be a Tensor, got ${describe(x)}`);
    x.assertAlive(where);
    if (x.rank < 2 || x.shape[0] === 0) throw new Error(`${where}: x must have shape [nSamples, ...dim] with nSamples >= 1, got ${fmt(x.shape)}`);
    if (dim !== undefined && !sameShape(dim, x.shape.slice(1)))
      throw new Error(`${where}: dim ${fmt(dim)} disagrees with x of shape ${fmt(x.shape)} (one sample is ${fmt(x.shape.slice(1))})`);
    if (opts.nSamples !== undefined && opts.nSamples !== x.shape[0])
      throw new Error(`${where}: nSamples (${describe(opts.nSamples)}) disagrees with x of shape ${fmt(x.shape)}`);
    return x.shape.slice(1);
  }

  private device(x: Tensor | undefined): Runtime {
    if (x) return x.device;
    const params = (this.energyFunction as { parameters?: () => Tensor[] }).parameters?.();
    return params?.[0]?.device ?? getDevice();
  }

  private run(opts: SampleOptions, call: ReturnType<BaseSampler['checkCall']>): SampleResult {
    const { nSteps, thin, dimShape } = call;
    const rt = this.device(opts.x);
    const key = callKey(call.seed);
    const chains = opts.x?.shape[0] ?? opts.nSamples ?? 1;
    const ctx: CallContext = { rt, key, chains, dim: dimShape.reduce((a, b) => a * b, 1), nSteps };
    // The sampler's own copy: the chains are updated in place.
    const x0 = opts.x ? (opts.x.dtype === 'f32' ? opts.x.clone() : opts.x.to('f32')) : randn([chains, ...dimShape], { seed: streamSeed(key, STREAM_INIT), device: rt });
    const state = this.start(x0, ctx);
    const kept = Math.floor(nSteps / thin);
    const recorder = new ChainRecorder(rt, {
      chains,
      dimShape,
      kept,
      trajectory: !!opts.returnTrajectory,
      diagnostics: !!opts.returnDiagnostics,
      scalars: this.scalarNames,
    });
    for (let t = 0; t < nSteps; t++) {
      tidy(() => this.step(state, t, ctx));
      if ((t + 1) % thin === 0 && (opts.returnTrajectory || opts.returnDiagnostics))
        tidy(() => recorder.record(state.x, (t + 1) / thin - 1, recorder.wantsScalars ? this.chainScalars(state, ctx) : null));
    }
    const rec = recorder.finish();
    const result: SampleResult = { samples: state.x };
    if (rec.trajectory) result.trajectory = rec.trajectory;
    if (rec.mean) {
      const { energy, ...others } = rec.scalars!;
      result.diagnostics = { mean: rec.mean, var: rec.var!, energy: energy!, ...others, ...this.finishDiagnostics(state, ctx) };
    }
    return result;
  }
}
