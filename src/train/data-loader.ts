// DataLoader: the order in which a training run sees its data. Epoch e visits the rows in a
// permutation drawn from deriveSeed(seed, e) (or in order, without shuffling), in batches of
// batchSize rows gathered on the GPU with one indexSelect. The last batch of an epoch is smaller
// (or dropped, with dropLast); with `wrap` the batches run on across epoch ends instead, so every
// batch is full (the CLI's order). Its state is (seed, epoch, offset), a few numbers, so a
// trainer's state dict carries it and a resumed run sees the batches an uninterrupted one would.
import { deriveSeed } from '../nn/init.js';
import { Mulberry32, permutation } from '../tensor/host-random.js';
import { indexSelect, noGrad, Tensor } from '../tensor/index.js';
import { fmt } from '../tensor/shape.js';
import { rejectUnknownKeys } from './options.js';
import { describe } from './samplers/options.js';

export interface DataLoaderOptions {
  /** Rows per batch (default: 128, or every row when there are fewer). */
  batchSize?: number;
  /** Visit each epoch in a fresh random order (default true). */
  shuffle?: boolean;
  /** Seeds the epochs' orders (default: a random seed, kept in the state). */
  seed?: number;
  /** Skip an epoch's last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Let batches run on across epoch ends, so every batch is full (default false). */
  wrap?: boolean;
}

/** Where a DataLoader stands, with the configuration it stands in (JSON-able). */
export interface DataLoaderState {
  rows: number;
  batchSize: number;
  shuffle: boolean;
  dropLast: boolean;
  wrap: boolean;
  seed: number;
  /** The epoch (0-based) the next batch starts in. */
  epoch: number;
  /** The position in that epoch's order the next batch starts at (always < rows). */
  offset: number;
}

/** One batch: the rows, and how many epochs ended with it. */
export interface DataBatch {
  /** [size, ...] rows of the data; the caller owns (disposes) it. */
  batch: Tensor;
  /** The row indices gathered. */
  indices: Uint32Array;
  /** Epochs that ended with this batch (its last rows were an epoch's last; 0 or 1, more only when wrapping past tiny data). */
  epochsEnded: number;
}

const KEYS = ['batchSize', 'shuffle', 'seed', 'dropLast', 'wrap'];
const CONFIG = ['rows', 'batchSize', 'shuffle', 'dropLast', 'wrap'] as const;

export class DataLoader {
  readonly data: Tensor;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly wrap: boolean;
  private seed: number;
  private epoch = 0;
  private offset = 0;
  /** The order of the epochs in use (the current one, and while wrapping the next). */
  private orders = new Map<number, Uint32Array>();

  constructor(data: Tensor, opts: DataLoaderOptions = {}) {
    const where = 'DataLoader';
    if (!(data instanceof Tensor)) throw new Error(`${where}: data must be a Tensor [n, ...dim], got ${describe(data)}`);
    data.assertAlive(where);
    if (data.rank < 1 || data.shape[0]! < 1) throw new Error(`${where}: data must have shape [n, ...dim] with n >= 1, got ${fmt(data.shape)}`);
    if (opts === null || typeof opts !== 'object') throw new Error(`${where}: options must be an object, got ${describe(opts)}`);
    rejectUnknownKeys(where, opts, KEYS);
    const rows = data.shape[0]!;
    const batchSize = opts.batchSize ?? Math.min(128, rows);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${where}: batchSize must be an integer >= 1, got ${describe(batchSize)}`);
    if (batchSize > rows) throw new Error(`${where}: batchSize (${batchSize}) exceeds the ${rows} rows of data`);
    for (const k of ['shuffle', 'dropLast', 'wrap'] as const)
      if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw new Error(`${where}: ${k} must be a boolean, got ${describe(opts[k])}`);
    if (opts.seed !== undefined && (!Number.isSafeInteger(opts.seed) || opts.seed < 0)) throw new Error(`${where}: seed must be a non-negative safe integer, got ${describe(opts.seed)}`);
    this.data = data;
    this.batchSize = batchSize;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.wrap = opts.wrap ?? false;
    this.seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  }

  get rows(): number {
    return this.data.shape[0]!;
  }

  /** The indices of the next batch, and the epochs that end with it; moves past it. */
  nextIndices(): { indices: Uint32Array; epochsEnded: number } {
    const rows = this.rows;
    const size = this.wrap ? this.batchSize : Math.min(this.batchSize, rows - this.offset);
    const indices = new Uint32Array(size);
    let ended = 0;
    for (let i = 0; i < size; i++) {
      indices[i] = this.order(this.epoch)[this.offset]!;
      if (++this.offset === rows) {
        this.nextEpoch();
        ended++;
      }
    }
    // An epoch whose remaining rows make less than a batch ends here when those rows are dropped.
    if (!this.wrap && this.dropLast && this.offset > 0 && rows - this.offset < this.batchSize) {
      this.nextEpoch();
      ended++;
    }
    return { indices, epochsEnded: ended };
  }

  /** The next batch, gathered on the GPU (one dispatch); the caller disposes `batch`. */
  next(): DataBatch {
    this.data.assertAlive('DataLoader.next');
    const { indices, epochsEnded } = this.nextIndices();
    const batch = noGrad(() => indexSelect(this.data, indices));
    return { batch, indices, epochsEnded };
  }

  /** The position and the configuration (plain numbers and booleans). */
  stateDict(): DataLoaderState {
    return { rows: this.rows, batchSize: this.batchSize, shuffle: this.shuffle, dropLast: this.dropLast, wrap: this.wrap, seed: this.seed, epoch: this.epoch, offset: this.offset };
  }

  /** Continues from a state made by stateDict() for the same configuration; a mismatch is an error and changes nothing. */
  loadStateDict(s: DataLoaderState): void {
    const where = 'DataLoader.loadStateDict';
    checkDataLoaderState(s, where);
    const mine = this.stateDict();
    const differs = CONFIG.filter((k) => s[k] !== mine[k]);
    if (differs.length)
      throw new Error(`${where}: the state is for another configuration (${differs.map((k) => `${k} ${s[k]}, here ${mine[k]}`).join('; ')})`);
    if (!this.wrap && this.dropLast && s.offset > 0 && s.rows - s.offset < s.batchSize)
      throw new Error(`${where}: offset ${s.offset} leaves less than a batch with dropLast; such a position is never reached`);
    this.seed = s.seed;
    this.epoch = s.epoch;
    this.offset = s.offset;
    this.orders.clear();
  }

  /** Whether a state was made by a loader with this configuration (and `seed`, when one is given). */
  static continues(s: DataLoaderState | null | undefined, data: Tensor, opts: DataLoaderOptions): boolean {
    if (!s) return false;
    const rows = data.shape[0]!;
    const want = { rows, batchSize: opts.batchSize ?? Math.min(128, rows), shuffle: opts.shuffle ?? true, dropLast: opts.dropLast ?? false, wrap: opts.wrap ?? false };
    return CONFIG.every((k) => s[k] === want[k]) && (opts.seed === undefined || opts.seed === s.seed);
  }

  private nextEpoch(): void {
    this.orders.delete(this.epoch);
    this.epoch++;
    this.offset = 0;
  }

  /** Epoch e's order: a seeded permutation (or the identity without shuffling). */
  private order(e: number): Uint32Array {
    let o = this.orders.get(e);
    if (!o) {
      if (this.shuffle) {
        const random = new Mulberry32(deriveSeed(this.seed, e)!);
        o = permutation(this.rows, () => random.next());
      } else o = Uint32Array.from({ length: this.rows }, (_, i) => i);
      this.orders.set(e, o);
    }
    return o;
  }
}

/** Checks the shape of a DataLoaderState (a file's contents are input). */
export function checkDataLoaderState(s: unknown, where: string): asserts s is DataLoaderState {
  if (s === null || typeof s !== 'object') throw new Error(`${where}: expected a data-order state { rows, batchSize, shuffle, dropLast, wrap, seed, epoch, offset }, got ${describe(s)}`);
  const o = s as Record<string, unknown>;
  const int = (k: string, min: number) => {
    if (!Number.isSafeInteger(o[k]) || (o[k] as number) < min) throw new Error(`${where}: data order '${k}' must be an integer >= ${min}, got ${describe(o[k])}`);
  };
  int('rows', 1);
  int('batchSize', 1);
  int('seed', 0);
  int('epoch', 0);
  int('offset', 0);
  for (const k of ['shuffle', 'dropLast', 'wrap']) if (typeof o[k] !== 'boolean') throw new Error(`${where}: data order '${k}' must be a boolean, got ${describe(o[k])}`);
  if ((o.offset as number) >= (o.rows as number)) throw new Error(`${where}: data order offset ${String(o.offset)} is not below its ${String(o.rows)} rows`);
  if ((o.batchSize as number) > (o.rows as number)) throw new Error(`${where}: data order batchSize ${String(o.batchSize)} exceeds its ${String(o.rows)} rows`);
}
