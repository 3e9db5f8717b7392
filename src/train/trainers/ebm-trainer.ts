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
// - fit() shuffles on the GPU (indexSelect with a permutation), cuts batches with buffer
//   copies, and reads back every logEvery steps, which also keeps the CPU from running
//   arbitrarily far ahead of the GPU.
import { isEnergyFunction, type BaseEnergyFunction } from '../../nn/energy.js';
import { indexSelect, keep, noGrad, tidy, Tensor } from '../../tensor/index.js';
import { mulberry32, permutation } from '../../tensor/host-random.js';
import { fmt } from '../../tensor/shape.js';
import type { BaseOptions, Optimizer } from '../optim/optimizer.js';
import { BaseLoss, type LossOutput } from '../losses/base.js';
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
  /** Passes over the data (default 1, or as many as `steps` needs). */
  epochs?: number;
  /** Stop after this many steps in all. */
  steps?: number;
  /** Rows per step (default 128). */
  batchSize?: number;
  /** Shuffle each epoch on the GPU (default true). */
  shuffle?: boolean;
  /** Seeds the shuffles. */
  seed?: number;
  /** Skip a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Read the metrics back every logEvery steps (default: the trainer's). */
  logEvery?: number;
  /** Called after every step; its metrics hold numbers on the logged steps. May return a promise. */
  onStep?: (metrics: StepMetrics) => void | Promise<void>;
}

export interface FitResult {
  steps: number;
  epochs: number;
  /** The last step's metrics, read. */
  last: StepMetrics | null;
  seconds: number;
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
   * Trains on `data` [n, ...dim]: shuffled on the GPU each epoch, in batches of batchSize,
   * reading the metrics back every logEvery steps and at the end.
   */
  async fit(data: Tensor, opts: FitOptions = {}): Promise<FitResult> {
    const where = `${this.constructor.name}.fit`;
    if (!(data instanceof Tensor)) throw new Error(`${where}: data must be a Tensor [n, ...dim], got ${describe(data)}`);
    data.assertAlive(where);
    if (data.rank < 2 || data.shape[0]! < 1 || data.dtype !== 'f32') throw new Error(`${where}: data must be an f32 tensor [n, ...dim] with n >= 1, got ${data.dtype} ${fmt(data.shape)}`);
    const known = ['epochs', 'steps', 'batchSize', 'shuffle', 'seed', 'dropLast', 'logEvery', 'onStep'];
    rejectUnknownKeys(where, opts, known);
    const rows = data.shape[0]!;
    const batchSize = count(where, 'batchSize', opts.batchSize ?? Math.min(128, rows), 1);
    if (batchSize > rows) throw new Error(`${where}: batchSize (${batchSize}) exceeds the ${rows} rows of data`);
    const maxSteps = opts.steps === undefined ? Infinity : count(where, 'steps', opts.steps, 1);
    const epochs = opts.epochs === undefined ? (opts.steps === undefined ? 1 : Infinity) : count(where, 'epochs', opts.epochs, 1);
    const logEvery = opts.logEvery === undefined ? this.logEvery : count(where, 'logEvery', opts.logEvery, 0);
    const dropLast = opts.dropLast ?? false;
    const shuffle = opts.shuffle ?? true;
    if (opts.onStep !== undefined && typeof opts.onStep !== 'function') throw new Error(`${where}: onStep must be a function, got ${describe(opts.onStep)}`);
    const random = mulberry32(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
    const rowBytes = data.byteLength / rows;
    const t0 = performance.now();
    let done = 0;
    let epoch = 0;
    let last: StepMetrics | null = null;
    while (epoch < epochs && done < maxSteps) {
      epoch++;
      const order = shuffle ? keep(noGrad(() => indexSelect(data, permutation(rows, random)))) : data;
      try {
        for (let at = 0; at < rows && done < maxSteps; at += batchSize) {
          const size = Math.min(batchSize, rows - at);
          if (size < batchSize && dropLast) break;
          const batch = Tensor.empty(data.device, [size, ...data.shape.slice(1)], 'fit-batch');
          try {
            data.device.copy(order.buffer, at * rowBytes, batch.buffer, 0, size * rowBytes);
            last = this.step(batch);
          } finally {
            batch.dispose();
          }
          done++;
          if (logEvery > 0 && last.step % logEvery === 0) await last.read();
          else if (last.step - this.log!.checkedUpTo >= this.log!.capacity / 2) await this.check();
          await opts.onStep?.(last);
        }
      } finally {
        if (order !== data) order.dispose();
      }
    }
    if (last && !last.isRead) await last.read();
    return { steps: done, epochs: epoch, last, seconds: (performance.now() - t0) / 1000 };
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
    return (this.log ??= new StepLog(pos.device, metrics));
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

