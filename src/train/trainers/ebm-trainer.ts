// EBMTrainer: the seed's trainer (zero the gradients, compute the loss on positives and
// negatives, backward, optimizer step) with the GPU discipline of this library:
//
// - A step records GPU work and returns; nothing is read back. Its metrics (loss and the
//   loss's own, e.g. posEnergy / negEnergy, the seed's pos_energy / neg_energy) are copied into
//   a small ring on the GPU, and their numbers arrive only every `logEvery` steps or when asked
//   (`await metrics.read()`).
// - A NaN or inf loss (or gradient) is caught on the GPU before the update: a finite check
//   after backward() sets a sticky flag that the optimizer's fused kernels read, skipping the
//   update (the GradScaler's gate). So the parameters stay as they were before the bad step,
//   and the next readback raises a NonFiniteLossError that names the step.
// - fit() draws its batches from a DataLoader (a seeded order per epoch, one gather per batch)
//   and reads back every logEvery steps, which also keeps the CPU from running arbitrarily far
//   ahead of the GPU.
// - stateDict() / loadStateDict() carry everything a run depends on, random streams and data
//   order included, so a resumed run takes exactly the steps an uninterrupted one would.
import { isEnergyFunction, type BaseEnergyFunction } from '../../nn/energy.js';
import { getRngState, keep, noGrad, setRngState, tidy, Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { checkDataLoaderState, DataLoader, type DataLoaderOptions, type DataLoaderState } from '../data-loader.js';
import type { GradScalerState } from '../grad-scaler.js';
import type { BaseOptions, Optimizer, OptimizerStateDict } from '../optim/optimizer.js';
import { BaseLoss, type LossOutput, type LossStateDict } from '../losses/base.js';
import { setUnseededSamplerCalls, unseededSamplerCalls } from '../samplers/streams.js';
import type { NegativeSampler } from '../losses/contrastive-divergence.js';
import { describe } from '../samplers/options.js';
import { NonFiniteLossError, StepLog } from './step-log.js';
import { rejectUnknownKeys } from '../options.js';

export interface EBMTrainerOptions {
  /** The model being trained (TorchEBM's energy_function). */
  energyFunction: BaseEnergyFunction;
  /**
   * Draws negatives for losses that take them but do not sample them themselves.
   * ContrastiveDivergence samples its own (with the sampler it was given).
   */
  sampler?: NegativeSampler;
  optimizer: Optimizer<BaseOptions>;
  lossFn: BaseLoss;
  /** Stepped after every optimizer step (an LRScheduler, or anything with step()). */
  scheduler?: { step(): void } | null;
  /** trainStep() and fit() read the metrics back every logEvery steps (default 100; 0: never by themselves). */
  logEvery?: number;
  /** Sampler steps for the negatives the trainer draws itself (default 10). */
  samplerSteps?: number;
}

export interface FitOptions {
  /** Passes over the data (default 1, or as many as `steps` needs); a pass resumed midway counts as one. */
  epochs?: number;
  /** Stop after this many steps of this call. */
  steps?: number;
  /** Rows per step (default 128, or every row when there are fewer). */
  batchSize?: number;
  /** Visit each epoch in a fresh random order (default true). */
  shuffle?: boolean;
  /** Seeds the epochs' orders (default: the trainer's data order when it continues, else a random seed). */
  seed?: number;
  /** Skip an epoch's last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Let batches run on across epoch ends, so every batch is full (default false). */
  wrap?: boolean;
  /** Read the metrics back every logEvery steps (default: the trainer's). */
  logEvery?: number;
  /** Called after every step; its metrics hold numbers on the logged steps. May return a promise, which fit awaits. */
  onStep?: (metrics: StepMetrics) => void | Promise<void>;
  /** Stops fit after the step in progress when aborted (the trainer's state is then that step's). */
  signal?: AbortSignal;
}

export interface FitResult {
  /** Steps this call took. */
  steps: number;
  /** Epochs this call drew rows from. */
  epochs: number;
  /** The last step's metrics, read. */
  last: StepMetrics | null;
  seconds: number;
  /** Whether `signal` stopped the call early. */
  aborted: boolean;
}

/** The process-wide random streams a run draws from when its parts are not seeded. */
export interface RandomStreamsState {
  /** ebm's global generator (rand / randn without a seed): getRngState(). */
  generator: { seed: number; offset: number };
  /** Sampler calls keyed without a seed so far (src/train/samplers/streams.ts). */
  samplerCalls: number;
}

/**
 * Everything a run needs to continue exactly where it stood (PyTorch's model, optimizer,
 * scaler and RNG state dicts in one). Its tensors are copies the caller owns: free them with
 * disposeTrainerState(). The optional fields may be absent (older checkpoints); loadStateDict
 * then leaves that part as it is.
 */
export interface EBMTrainerStateDict {
  /** Steps taken. */
  step: number;
  /** The model's state dict (PyTorch's names). */
  model: Map<string, Tensor>;
  optimizer: OptimizerStateDict;
  /** The scheduler's stateDict(), when it has one. */
  scheduler?: unknown;
  /** The loss's: its call counter, and for ContrastiveDivergence the replay buffer and its row generator. */
  loss?: LossStateDict;
  /** fit()'s data order (null before any fit). */
  data?: DataLoaderState | null;
  random?: RandomStreamsState;
  /** MixedPrecisionEBMTrainer: the GradScaler's. */
  scaler?: GradScalerState;
}

/** Frees the tensors of a state dict made by stateDict() (the model's, the optimizer's, the replay buffer). */
export function disposeTrainerState(sd: EBMTrainerStateDict): void {
  for (const t of sd.model?.values() ?? []) t.dispose();
  for (const entry of Object.values(sd.optimizer?.state ?? {})) for (const v of Object.values(entry)) if (v instanceof Tensor) v.dispose();
  sd.loss?.replayBuffer?.dispose();
  if (sd.loss?.logNormalizer instanceof Tensor) sd.loss.logNormalizer.dispose();
}

/**
 * One step's metrics. The numbers are filled in when the trainer reads them back (every
 * logEvery steps) or by `await metrics.read()`; until then they are undefined.
 */
export class StepMetrics {
  loss: number | undefined;
  /** ContrastiveDivergence: mean energy of the data batch (the seed's pos_energy). */
  posEnergy: number | undefined;
  /** ContrastiveDivergence: mean energy of the negatives (the seed's neg_energy). */
  negEnergy: number | undefined;
  /** Every metric by name, once read. */
  values: Record<string, number> | undefined;

  constructor(
    /** The step (1-based) these metrics belong to. */
    readonly step: number,
    private readonly reader: (m: StepMetrics) => Promise<Record<string, number>>,
  ) {}

  /** Reads the metrics back (one readback) and fills in the numbers; throws NonFiniteLossError for a bad step. */
  async read(): Promise<Record<string, number>> {
    if (this.values) return this.values;
    const v = await this.reader(this);
    this.values = v;
    this.loss = v.loss;
    this.posEnergy = v.posEnergy;
    this.negEnergy = v.negEnergy;
    return v;
  }

  get isRead(): boolean {
    return this.values !== undefined;
  }
}

const KEYS = ['energyFunction', 'sampler', 'optimizer', 'lossFn', 'scheduler', 'logEvery', 'samplerSteps'];
const FIT_KEYS = ['epochs', 'steps', 'batchSize', 'shuffle', 'seed', 'dropLast', 'wrap', 'logEvery', 'onStep', 'signal'];

/** A scheduler that can save and restore its position (LRScheduler). */
type SchedulerWithState = { step(): void; stateDict?(): unknown; loadStateDict?(s: unknown): void };

function checkRandomStreams(r: unknown, where: string): asserts r is RandomStreamsState {
  const o = r as Partial<RandomStreamsState> | null;
  const g = o?.generator;
  if (o === null || typeof o !== 'object' || g === null || typeof g !== 'object' || !Number.isSafeInteger(g.seed) || g.seed < 0 || !Number.isInteger(g.offset) || g.offset < 0 || g.offset >= 2 ** 32)
    throw new Error(`${where}: random must be { generator: { seed, offset }, samplerCalls } (from stateDict()), got ${JSON.stringify(r)}`);
  if (!Number.isSafeInteger(o.samplerCalls) || o.samplerCalls! < 0) throw new Error(`${where}: random.samplerCalls must be an integer >= 0, got ${describe(o.samplerCalls)}`);
}

function count(where: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${where}: ${name} must be an integer >= ${min}, got ${describe(v)}`);
  return v;
}

export class EBMTrainer {
  readonly energyFunction: BaseEnergyFunction;
  readonly sampler: NegativeSampler | null;
  readonly optimizer: Optimizer<BaseOptions>;
  readonly lossFn: BaseLoss;
  readonly scheduler: { step(): void } | null;
  logEvery: number;
  readonly samplerSteps: number;
  protected log: StepLog | null = null;
  private stepCount = 0;
  /** Where fit's data order stands (null before any fit). */
  private dataOrder: DataLoaderState | null = null;
  private readonly names: string[];

  constructor(opts: EBMTrainerOptions, extraKeys: readonly string[] = []) {
    const where = new.target.name;
    if (opts === null || typeof opts !== 'object') throw new Error(`${where}: expected options { energyFunction, sampler, optimizer, lossFn }, got ${describe(opts)}`);
    const known = [...KEYS, ...extraKeys];
    rejectUnknownKeys(where, opts, known);
    if (!isEnergyFunction(opts.energyFunction)) throw new Error(`${where}: energyFunction must be a BaseEnergyFunction, got ${describe(opts.energyFunction)}`);
    if (!opts.optimizer || typeof (opts.optimizer as { stepWith?: unknown }).stepWith !== 'function' || !Array.isArray(opts.optimizer.paramGroups))
      throw new Error(`${where}: optimizer must be an SGD, Adam or AdamW, got ${describe(opts.optimizer)}`);
    if (!(opts.lossFn instanceof BaseLoss)) throw new Error(`${where}: lossFn must be a loss (ContrastiveDivergence, ScoreMatching, ...), got ${describe(opts.lossFn)}`);
    if (opts.sampler !== undefined && (opts.sampler === null || typeof opts.sampler.sample !== 'function'))
      throw new Error(`${where}: sampler must have sample({ nSamples, dim, nSteps }), got ${describe(opts.sampler)}`);
    if (opts.scheduler != null && typeof opts.scheduler.step !== 'function') throw new Error(`${where}: scheduler must have step(), got ${describe(opts.scheduler)}`);
    if (opts.lossFn.model !== opts.energyFunction)
      throw new Error(`${where}: lossFn was built for another model (${describe(opts.lossFn.model)}) than energyFunction (${describe(opts.energyFunction)})`);
    const params = new Set(opts.energyFunction.parameters?.() ?? []);
    if (params.size > 0 && !opts.optimizer.params.some((p) => params.has(p as never)))
      throw new Error(`${where}: the optimizer holds none of energyFunction's parameters`);
    this.energyFunction = opts.energyFunction;
    this.sampler = opts.sampler ?? null;
    this.optimizer = opts.optimizer;
    this.lossFn = opts.lossFn;
    this.scheduler = opts.scheduler ?? null;
    this.logEvery = count(where, 'logEvery', opts.logEvery ?? 100, 0);
    this.samplerSteps = count(where, 'samplerSteps', opts.samplerSteps ?? 10, 1);
    this.names = ['loss', ...opts.lossFn.metricNames];
  }

  /** Steps taken so far (the last step's number). */
  get steps(): number {
    return this.stepCount;
  }

  /** The metric names, in order: loss, then the loss's own. */
  get metricNames(): readonly string[] {
    return this.names;
  }

  /**
   * One training step, recorded and not waited for: zero the gradients, the loss of `pos`
   * (against `neg`, or negatives the loss or the trainer samples), backward, and the optimizer
   * step, skipped on the GPU if the loss or a gradient is not finite. Returns the step's
   * metrics, unread.
   */
  step(pos: Tensor, neg?: Tensor): StepMetrics {
    const where = `${this.constructor.name}.step`;
    if (!(pos instanceof Tensor)) throw new Error(`${where}: pos must be a Tensor [batch, ...dim], got ${describe(pos)}`);
    pos.assertAlive(where);
    if (pos.rank < 2 || pos.shape[0]! < 1) throw new Error(`${where}: pos must have shape [batch, ...dim], got ${fmt(pos.shape)}`);
    if (neg !== undefined && !this.lossFn.usesNegatives) throw new Error(`${where}: ${this.lossFn.name} uses no negative samples; call step(pos) alone`);
    const n = this.stepCount + 1;
    tidy(() => {
      this.optimizer.zeroGrad();
      this.energyFunction.zeroGrad?.();
      const out = this.lossOf(pos, neg);
      const loss = out.loss;
      if (!(loss instanceof Tensor) || loss.size !== 1 || loss.dtype !== 'f32')
        throw new Error(`${where}: ${this.lossFn.name}.compute() must return an f32 scalar loss, got ${loss instanceof Tensor ? `${loss.dtype} ${fmt(loss.shape)}` : describe(loss)}`);
      if (!loss.requiresGrad) throw new Error(`${where}: the loss does not depend on any parameter (no gradient can flow); is the model's forward on the tape?`);
      const metricsCount = this.names.length - 1;
      if (metricsCount > 0 && (!(out.metrics instanceof Tensor) || out.metrics.size !== metricsCount))
        throw new Error(`${where}: ${this.lossFn.name}.compute() must return its ${metricsCount} metrics as one tensor [${metricsCount}]`);
      const log = this.stepLog(pos, metricsCount);
      this.update(loss, log);
      this.scheduler?.step();
      log.record(n, loss, out.metrics);
    });
    this.stepCount = n;
    return new StepMetrics(n, (m) => this.readStep(m.step));
  }

  /**
   * step(), then, every logEvery steps, reads the metrics back (which raises a
   * NonFiniteLossError if this or an unchecked earlier step went bad). Returns the metrics.
   */
  async trainStep(pos: Tensor, neg?: Tensor): Promise<StepMetrics> {
    const m = this.step(pos, neg);
    if (this.logEvery > 0 && m.step % this.logEvery === 0) await m.read();
    // Past half the ring unchecked, check now, so a bad step can always be named.
    else if (m.step - this.log!.checkedUpTo >= this.log!.capacity / 2) await this.check();
    return m;
  }

  /** Reads back whether any step so far went bad; throws NonFiniteLossError naming the first. */
  async check(): Promise<void> {
    if (!this.log || this.stepCount === 0) return;
    const { bad } = await this.log.scan(this.stepCount);
    if (bad) this.fail(bad);
  }

  /**
   * Trains on `data` [n, ...dim] in batches of batchSize rows (each epoch in a fresh seeded
   * order, gathered on the GPU), reading the metrics back every logEvery steps and at the end.
   * fit({ data, steps, ... }) and fit(data, { steps, ... }) are the same call.
   *
   * The data order is part of the trainer's state: a fit on data with as many rows, and the same
   * batchSize, shuffle, dropLast and wrap (and seed, when one is given), continues where the last
   * fit, or loadStateDict(), left it; anything else starts a new order at epoch 0. So
   * stateDict() after N steps, loadStateDict() into a fresh trainer and fit() again gives the
   * steps an uninterrupted fit would have taken.
   */
  async fit(opts: FitOptions & { data: Tensor }): Promise<FitResult>;
  async fit(data: Tensor, opts?: FitOptions): Promise<FitResult>;
  async fit(dataOrOpts: Tensor | (FitOptions & { data: Tensor }), maybeOpts?: FitOptions): Promise<FitResult> {
    const where = `${this.constructor.name}.fit`;
    let data: unknown;
    let opts: FitOptions;
    if (dataOrOpts instanceof Tensor || dataOrOpts === null || typeof dataOrOpts !== 'object' || Array.isArray(dataOrOpts)) {
      data = dataOrOpts;
      opts = maybeOpts ?? {};
    } else {
      if (maybeOpts !== undefined) throw new Error(`${where}: give fit({ data, ...options }) or fit(data, options), not both`);
      ({ data, ...opts } = dataOrOpts);
    }
    if (!(data instanceof Tensor)) throw new Error(`${where}: data must be a Tensor [n, ...dim], got ${describe(data)}`);
    data.assertAlive(where);
    if (data.rank < 2 || data.shape[0]! < 1 || data.dtype !== 'f32') throw new Error(`${where}: data must be an f32 tensor [n, ...dim] with n >= 1, got ${data.dtype} ${fmt(data.shape)}`);
    if (opts === null || typeof opts !== 'object') throw new Error(`${where}: options must be an object, got ${describe(opts)}`);
    rejectUnknownKeys(where, opts, FIT_KEYS);
    const rows = data.shape[0]!;
    const batchSize = count(where, 'batchSize', opts.batchSize ?? Math.min(128, rows), 1);
    if (batchSize > rows) throw new Error(`${where}: batchSize (${batchSize}) exceeds the ${rows} rows of data`);
    const maxSteps = opts.steps === undefined ? Infinity : count(where, 'steps', opts.steps, 1);
    const epochs = opts.epochs === undefined ? (opts.steps === undefined ? 1 : Infinity) : count(where, 'epochs', opts.epochs, 1);
    const logEvery = opts.logEvery === undefined ? this.logEvery : count(where, 'logEvery', opts.logEvery, 0);
    if (opts.onStep !== undefined && typeof opts.onStep !== 'function') throw new Error(`${where}: onStep must be a function, got ${describe(opts.onStep)}`);
    const signal = opts.signal;
    if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.aborted !== 'boolean'))
      throw new Error(`${where}: signal must be an AbortSignal, got ${describe(signal)}`);
    const order: DataLoaderOptions = { batchSize, shuffle: opts.shuffle, seed: opts.seed, dropLast: opts.dropLast, wrap: opts.wrap };
    const continues = DataLoader.continues(this.dataOrder, data, order);
    const loader = new DataLoader(data, continues ? { ...order, seed: this.dataOrder!.seed } : order);
    if (continues) loader.loadStateDict(this.dataOrder!);
    const firstEpoch = loader.stateDict().epoch;
    const t0 = performance.now();
    let done = 0;
    let ended = 0;
    let last: StepMetrics | null = null;
    while (done < maxSteps && ended < epochs && !signal?.aborted) {
      const { batch, epochsEnded } = loader.next();
      try {
        last = this.step(batch);
      } finally {
        batch.dispose();
      }
      this.dataOrder = loader.stateDict();
      ended += epochsEnded;
      done++;
      if (logEvery > 0 && last.step % logEvery === 0) await last.read();
      else if (last.step - this.log!.checkedUpTo >= this.log!.capacity / 2) await this.check();
      await opts.onStep?.(last);
    }
    if (last && !last.isRead) await last.read();
    const at = loader.stateDict();
    // The epoch of the last row drawn: the one before, when the last batch ended an epoch.
    const lastEpoch = at.offset === 0 ? at.epoch - 1 : at.epoch;
    return { steps: done, epochs: done ? lastEpoch - firstEpoch + 1 : 0, last, seconds: (performance.now() - t0) / 1000, aborted: !!signal?.aborted && done < maxSteps && ended < epochs };
  }

  /**
   * The trainer's whole state: step, model, optimizer, scheduler, loss (replay buffer, its row
   * generator, the call counter that seeds each step's draws), fit's data order, the
   * process-wide random streams, and (mixed precision) the GradScaler. Reads back first whether
   * any step went bad (a NonFiniteLossError then, and no state), and the scaler's numbers. The
   * tensors are copies the caller owns (disposeTrainerState).
   */
  async stateDict(): Promise<EBMTrainerStateDict> {
    await this.check();
    const sd = {
      step: this.stepCount,
      model: noGrad(() => new Map([...(this.energyFunction.stateDict?.() ?? [])].map(([k, t]) => [k, keep(t.clone())] as const))),
      optimizer: this.optimizer.stateDict(),
      scheduler: this.schedulerState(),
      loss: this.lossFn.stateDict(),
      data: this.dataOrder ? { ...this.dataOrder } : null,
      random: { generator: getRngState(), samplerCalls: unseededSamplerCalls() },
    } as EBMTrainerStateDict;
    try {
      // A loss's scalar tensors (NCE's c) are read back as numbers: the state stays JSON but for its big tensors.
      const c = sd.loss?.logNormalizer;
      if (c instanceof Tensor) {
        sd.loss!.logNormalizer = await c.item();
        c.dispose();
      }
      Object.assign(sd, await this.extraState());
    } catch (e) {
      disposeTrainerState(sd);
      throw e;
    }
    return sd;
  }

  /**
   * Continues from a state made by stateDict() (this trainer's class, the same model, optimizer
   * and loss configuration); its tensors are copied and stay the caller's. An invalid state is an
   * error that leaves the trainer as it was. Like torch.set_rng_state, it also sets the
   * process-wide random streams (when the state has them).
   */
  loadStateDict(sd: EBMTrainerStateDict): void {
    const where = `${this.constructor.name}.loadStateDict`;
    // Checks that change nothing, first.
    if (sd === null || typeof sd !== 'object') throw new Error(`${where}: expected a state dict from stateDict(), got ${describe(sd)}`);
    if (!Number.isSafeInteger(sd.step) || sd.step < 0) throw new Error(`${where}: step must be an integer >= 0, got ${describe(sd.step)}`);
    if (!(sd.model instanceof Map)) throw new Error(`${where}: model must be a Map of tensors (the model's state dict), got ${describe(sd.model)}`);
    if (sd.model.size > 0 && typeof this.energyFunction.loadStateDict !== 'function') throw new Error(`${where}: the energy function has no loadStateDict() for the model's tensors`);
    if (sd.optimizer === null || typeof sd.optimizer !== 'object') throw new Error(`${where}: optimizer must be the optimizer's state dict, got ${describe(sd.optimizer)}`);
    if (sd.data !== undefined && sd.data !== null) checkDataLoaderState(sd.data, where);
    if (sd.random !== undefined) checkRandomStreams(sd.random, where);
    const scheduler = this.scheduler as SchedulerWithState | null;
    if (sd.scheduler != null && typeof scheduler?.loadStateDict !== 'function') throw new Error(`${where}: the state has a scheduler state, but the trainer's scheduler has no loadStateDict()`);
    this.checkExtraState(sd, where);
    // The parts that copy tensors may still fail: keep copies of what they replace to put back.
    const undo = {
      model: noGrad(() => new Map([...(this.energyFunction.stateDict?.() ?? [])].map(([k, t]) => [k, keep(t.clone())] as const))),
      optimizer: this.optimizer.stateDict(),
      loss: this.lossFn.stateDict(),
      scheduler: this.schedulerState(),
    };
    const stage = { model: false, optimizer: false, loss: false, scheduler: false };
    try {
      try {
        this.energyFunction.loadStateDict?.(sd.model, { strict: true });
        stage.model = true;
        this.optimizer.loadStateDict(sd.optimizer);
        stage.optimizer = true;
        if (sd.loss !== undefined) this.lossFn.loadStateDict(sd.loss);
        stage.loss = true;
        if (sd.scheduler != null) scheduler!.loadStateDict!(sd.scheduler);
        stage.scheduler = true;
      } catch (e) {
        if (stage.model) this.energyFunction.loadStateDict?.(undo.model, { strict: true });
        if (stage.optimizer) this.optimizer.loadStateDict(undo.optimizer);
        if (stage.loss) this.lossFn.loadStateDict(undo.loss);
        if (stage.scheduler && undo.scheduler != null) scheduler!.loadStateDict!(undo.scheduler);
        throw new Error(`${where}: ${e instanceof Error ? e.message : String(e)} (the trainer is as it was)`);
      }
    } finally {
      disposeTrainerState({ step: 0, model: undo.model, optimizer: undo.optimizer, loss: undo.loss });
    }
    // What is left cannot fail.
    this.applyExtraState(sd);
    if (sd.data !== undefined) this.dataOrder = sd.data ? { ...sd.data } : null;
    if (sd.random) {
      setRngState(sd.random.generator);
      setUnseededSamplerCalls(sd.random.samplerCalls);
    }
    this.stepCount = sd.step;
    // The step log starts afresh at the loaded step (its flag and rows belong to the old run).
    this.log?.dispose();
    this.log = null;
  }

  /** Frees the trainer's GPU record (the model, optimizer and loss stay the caller's). */
  dispose(): void {
    this.log?.dispose();
    this.log = null;
  }

  // ---- what the mixed-precision trainer changes ----

  /** The loss output for this step (negatives drawn here when the loss takes but does not draw them). */
  protected lossOf(pos: Tensor, neg: Tensor | undefined): LossOutput {
    if (neg === undefined && this.lossFn.usesNegatives && !(this.lossFn as { sampler?: unknown }).sampler) {
      if (!this.sampler) throw new Error(`${this.constructor.name}.step: ${this.lossFn.name} needs negatives; pass them, or give the trainer a sampler`);
      neg = this.sampler.sample({ nSamples: pos.shape[0]!, dim: pos.shape.slice(1), nSteps: this.samplerSteps });
    }
    return this.lossFn.compute(pos, neg);
  }

  /** backward() and the guarded optimizer step. */
  protected update(loss: Tensor, log: StepLog): void {
    loss.backward();
    log.check([loss, ...this.gradients()]);
    this.optimizer.stepWith(log.gate);
  }

  protected gradients(): Tensor[] {
    return this.optimizer.params.flatMap((p) => (p.grad ? [p.grad] : []));
  }

  protected stepLog(pos: Tensor, metrics: number): StepLog {
    if (this.log && this.log.rt !== pos.device) throw new Error(`${this.constructor.name}: the data is on another device than the trainer's first batch`);
    if (!this.log) {
      this.log = new StepLog(pos.device, metrics);
      // Steps before this log (before a loadStateDict) were checked by the run that took them.
      this.log.checkedUpTo = this.log.lastStep = this.stepCount;
    }
    return this.log;
  }

  // ---- the state a subclass adds (the mixed-precision trainer's GradScaler) ----

  /** The subclass's part of stateDict(). */
  protected async extraState(): Promise<Partial<EBMTrainerStateDict>> {
    return {};
  }

  /** Throws if the subclass's part of a state is invalid; changes nothing. */
  protected checkExtraState(_sd: EBMTrainerStateDict, _where: string): void {}

  /** Loads the subclass's part of a state (checked by checkExtraState, so it cannot fail). */
  protected applyExtraState(_sd: EBMTrainerStateDict): void {}

  private schedulerState(): unknown {
    const s = this.scheduler as SchedulerWithState | null;
    return typeof s?.stateDict === 'function' ? s.stateDict() : null;
  }

  private async readStep(step: number): Promise<Record<string, number>> {
    const log = this.log;
    if (!log || !log.holds(step))
      throw new Error(`${this.constructor.name}: the metrics of step ${step} are no longer held (the last ${log?.capacity ?? 0} steps are); read them sooner`);
    const { bad, row } = await log.scan(step);
    if (bad) this.fail(bad);
    return Object.fromEntries(this.names.map((name, i) => [name, row.values[i]!]));
  }

  /** Called when a bad step has been reported and the GPU flag cleared (before the error is thrown). */
  protected afterFailure(): void {}

  private fail(bad: { step: number; lost: boolean }): never {
    this.afterFailure();
    const k = bad.step;
    const at = bad.lost ? `at or before step ${k}` : `at step ${k}`;
    throw new NonFiniteLossError(
      `${this.constructor.name}: the loss or a gradient was NaN or inf ${at}. The update of step ${k}, and of every step after it until this check, ` +
        `was skipped on the GPU, so the parameters are as they were before step ${k}. ` +
        'Lower the learning rate or the sampler\'s step size, add energyRegWeight, or check the model and the data.',
      k,
    );
  }
}

