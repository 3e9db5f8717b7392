// BaseLoss: what every loss of src/train/losses shares. A loss is bound to its energy model at
// construction (TorchEBM's style); `forward(x)` returns the scalar loss of a data batch, and
// `compute(x, neg?)` returns it with the loss's metrics (one small GPU tensor, e.g. the mean
// energies), which is what the trainers record. Nothing here reads back to the CPU.
import { isEnergyFunction, type BaseEnergyFunction } from '../../nn/energy.js';
import { deriveSeed } from '../../nn/init.js';
import { Tensor } from '../../tensor/index.js';
import { fmt, sameShape } from '../../tensor/shape.js';
import { describe } from '../samplers/options.js';
import { rejectUnknownKeys } from '../options.js';

/**
 * A loss's own state, for a trainer's state dict: the call counter that seeds each call's
 * draws, and for ContrastiveDivergence the replay buffer's row generator and the buffer itself.
 * An absent field is left as it is by loadStateDict (older checkpoints carry fewer).
 */
export interface LossStateDict {
  /** Calls so far: call k draws with deriveSeed(seed, k). */
  calls?: number;
  /** ContrastiveDivergence: the row choice generator's state (a u32). */
  random?: number;
  /** ContrastiveDivergence (persistent): a copy of the replay buffer, or null before its first call. */
  replayBuffer?: Tensor | null;
  /**
   * NoiseContrastiveEstimation: its learned c (log p_m = -E + c). The loss's stateDict() gives a
   * tensor copy; the trainer's stateDict() reads it back as a number (JSON, like the rest).
   */
  logNormalizer?: number | Tensor;
}

/** A loss value and the metrics it reports, all on the GPU. */
export interface LossOutput {
  /** The scalar loss (shape [] or [1]), on the tape: backward() reaches the model's parameters. */
  loss: Tensor;
  /**
   * The loss's metrics packed in one detached f32 tensor [metricNames.length], in that order
   * (ContrastiveDivergence: posEnergy, negEnergy); null when it reports none.
   */
  metrics: Tensor | null;
  /** The negatives the loss used (ContrastiveDivergence), detached; absent for score matching. */
  negatives?: Tensor;
}

export abstract class BaseLoss {
  readonly model: BaseEnergyFunction;
  /** The names of the metrics compute() reports, in order (the trainers' columns). */
  abstract readonly metricNames: readonly string[];
  /** Whether compute() takes negative samples (ContrastiveDivergence). */
  readonly usesNegatives: boolean = false;
  /** Seeds the loss's random draws, call by call; undefined draws from the global generator. */
  protected readonly seed: number | undefined;
  private calls = 0;

  protected constructor(
    /** The class name, for messages. */
    readonly name: string,
    model: unknown,
    seed: unknown,
  ) {
    if (!isEnergyFunction(model))
      throw new Error(`${name}: the model must be an energy function (a BaseEnergyFunction with forward(x) and gradient(x)), got ${describe(model)}`);
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0))
      throw new Error(`${name}: seed must be a non-negative safe integer, got ${describe(seed)}`);
    this.model = model;
    this.seed = seed as number | undefined;
  }

  /** The loss of a batch of data x [batch, ...dim] (TorchEBM's loss(x)). */
  forward(x: Tensor): Tensor {
    const out = this.compute(x);
    if (out.metrics && out.metrics !== out.loss) out.metrics.dispose();
    if (out.negatives && out.negatives !== x) out.negatives.dispose();
    return out.loss;
  }

  /** The loss of x with its metrics; `neg` only for losses that use negatives. */
  abstract compute(x: Tensor, neg?: Tensor): LossOutput;

  /** The loss's state (see LossStateDict); tensors in it are copies the caller disposes. */
  stateDict(): LossStateDict {
    return { calls: this.calls };
  }

  /** Restores a state from stateDict(); an invalid one is an error and changes nothing. */
  loadStateDict(s: LossStateDict): void {
    this.checkState(s, `${this.name}.loadStateDict`);
    if (s.calls !== undefined) this.calls = s.calls;
  }

  /** Checks a state before anything is loaded from it. */
  protected checkState(s: LossStateDict, where: string): void {
    if (s === null || typeof s !== 'object') throw new Error(`${where}: expected a loss state { calls, ... }, got ${describe(s)}`);
    if (s.calls !== undefined && (!Number.isSafeInteger(s.calls) || s.calls < 0)) throw new Error(`${where}: calls must be an integer >= 0, got ${describe(s.calls)}`);
  }

  /** The seed of this call's random draws (successive calls differ), or undefined. */
  protected nextSeed(): number | undefined {
    return deriveSeed(this.seed, this.calls++);
  }

  /** Checks a data batch: a live f32 tensor [batch >= 1, ...dim]. */
  protected checkBatch(x: unknown, what = 'the data batch'): asserts x is Tensor {
    if (!(x instanceof Tensor)) throw new Error(`${this.name}: ${what} must be a Tensor, got ${describe(x)}`);
    x.assertAlive(this.name);
    if (x.rank < 2 || x.shape[0]! < 1) throw new Error(`${this.name}: ${what} must have shape [batch, ...dim] with batch >= 1, got ${fmt(x.shape)}`);
    if (x.dtype !== 'f32') throw new Error(`${this.name}: ${what} has dtype ${x.dtype}; losses take f32 data`);
  }

  /**
   * E(x) through the model, checked: one energy per sample, [batch] ([batch, 1] is accepted and
   * flattened). A wrong shape is named with the model, the input and what it returned.
   */
  protected energy(x: Tensor): Tensor {
    const e: unknown = this.model.forward(x);
    const n = x.shape[0]!;
    const model = this.model.constructor?.name ?? 'the model';
    if (!(e instanceof Tensor)) throw new Error(`${this.name}: ${model}.forward(x) must return a Tensor, got ${describe(e)}`);
    if (!(sameShape(e.shape, [n]) || sameShape(e.shape, [n, 1])))
      throw new Error(`${this.name}: ${model}.forward(x) returned shape ${fmt(e.shape)} for x of shape ${fmt(x.shape)}; an energy function must return one energy per sample, shape [${n}]`);
    if (e.dtype !== 'f32') throw new Error(`${this.name}: ${model}.forward(x) returned dtype ${e.dtype}; energies must be f32`);
    return e.rank === 1 ? e : e.reshape([n]);
  }
}

/** A finite number > min (or >= min), else an error naming the loss and the option. */
export function numberOption(where: string, name: string, v: unknown, min: number, inclusive: boolean): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (inclusive ? v >= min : v > min);
  if (!ok) throw new Error(`${where}: ${name} must be a finite number ${inclusive ? '>=' : '>'} ${min}, got ${describe(v)}`);
  return v as number;
}

export function intOption(where: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${where}: ${name} must be an integer >= ${min}, got ${describe(v)}`);
  return v;
}

export function checkOptionKeys(where: string, opts: unknown, known: readonly string[]): void {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new Error(`${where}: options must be an object, got ${describe(opts)}`);
  rejectUnknownKeys(where, opts, known);
}
