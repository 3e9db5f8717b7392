// ContrastiveDivergence: TorchEBM's CD-k loss with an energy-magnitude regulariser,
//
//   L = mean E(x+) - mean E(x-) + w (mean E(x+)^2 + mean E(x-)^2),
//
// (the squares are per sample, then averaged, as Du & Mordatch's regulariser), where the
// negatives x- are k sampler steps from noise (CD) or from a replay buffer (persistent CD).
// Negatives are detached: no gradient flows through the chains.
//
// Everything stays on the GPU. The positive and negative batches go through the model as ONE
// batch (half the dispatches of two forwards), the loss is one weighted sum over it, and the
// mean energies are one small matmul. Persistent CD keeps its buffer as a GPU tensor: rows are
// drawn without replacement (the indices are chosen on the CPU by a seeded generator and
// gathered with indexSelect; no data is read back), a newSampleRatio fraction of them is
// replaced by fresh noise, and after sampling the chains are written back with one row gather
// over [buffer; negatives].
import { deriveSeed } from '../../nn/init.js';
import { autocast, indexSelect, keep, noGrad, randn, tensor, tidy, Tensor } from '../../tensor/index.js';
import { copyInto_, scatterRows_ } from '../../tensor/ops/fused/index.js';
import { Mulberry32 } from '../../tensor/host-random.js';
import { fmt, sameShape } from '../../tensor/shape.js';
import { describe } from '../samplers/options.js';
import { BaseLoss, checkOptionKeys, intOption, numberOption, type LossOutput, type LossStateDict } from './base.js';

/** What ContrastiveDivergence needs of a sampler (LangevinDynamics, HamiltonianMonteCarlo, ...). */
export interface NegativeSampler {
  sample(opts: { x?: Tensor; dim?: number | readonly number[]; nSamples?: number; nSteps: number; seed?: number }): Tensor;
}

export interface ContrastiveDivergenceOptions {
  /** Sampler steps per call (k of CD-k; default 10). */
  kSteps?: number;
  /** Persistent CD: chains continue from a replay buffer (default false: from fresh noise). */
  persistent?: boolean;
  /** Rows of the replay buffer (default 10000); at least the batch size. */
  bufferSize?: number;
  /** Fraction of each persistent batch restarted from noise (default 0.05). */
  newSampleRatio?: number;
  /** w, the weight of the energy-magnitude regulariser (default 0.001). */
  energyRegWeight?: number;
  /**
   * Where chains start: the std of N(0, std^2) noise (default 1), or a function that makes
   * starting points of a given shape [n, ...dim] (a fresh tensor, which the loss disposes).
   */
  initNoise?: number | ((shape: number[]) => Tensor);
  /** Seeds the noise, the chains and the buffer's row choice: the same seed, the same run. */
  seed?: number;
}

const NAME = 'ContrastiveDivergence';
const KEYS = ['kSteps', 'persistent', 'bufferSize', 'newSampleRatio', 'energyRegWeight', 'initNoise', 'seed'];

export class ContrastiveDivergence extends BaseLoss {
  readonly metricNames = ['posEnergy', 'negEnergy'] as const;
  override readonly usesNegatives = true;
  readonly sampler: NegativeSampler;
  readonly kSteps: number;
  readonly persistent: boolean;
  readonly bufferSize: number;
  readonly newSampleRatio: number;
  readonly energyRegWeight: number;
  private readonly initNoise: number | ((shape: number[]) => Tensor);
  /** The replay buffer (persistent CD), made at the first call. */
  private replay: Tensor | null = null;
  /** The buffer's row choice (its state is part of stateDict()). */
  private readonly random: Mulberry32;
  /** Per (batch, negatives) sizes: the loss weights c, r [b + n] and the mean weights [b + n, 2]. */
  private weights: { key: string; c: Tensor; r: Tensor; means: Tensor } | null = null;
  /** The identity row map the row draw shuffles in place (restored after each draw). */
  private rowMap: Uint32Array | null = null;

  constructor(model: unknown, sampler: unknown, opts: ContrastiveDivergenceOptions = {}) {
    checkOptionKeys(NAME, opts, KEYS);
    super(NAME, model, opts.seed);
    if (!sampler || typeof (sampler as NegativeSampler).sample !== 'function')
      throw new Error(`${NAME}: the sampler must have sample({ x, nSteps }) (LangevinDynamics, HamiltonianMonteCarlo), got ${describe(sampler)}`);
    this.sampler = sampler as NegativeSampler;
    this.kSteps = intOption(NAME, 'kSteps', opts.kSteps ?? 10, 1);
    if (opts.persistent !== undefined && typeof opts.persistent !== 'boolean') throw new Error(`${NAME}: persistent must be a boolean, got ${describe(opts.persistent)}`);
    this.persistent = opts.persistent ?? false;
    this.bufferSize = intOption(NAME, 'bufferSize', opts.bufferSize ?? 10000, 1);
    this.newSampleRatio = numberOption(NAME, 'newSampleRatio', opts.newSampleRatio ?? 0.05, 0, true);
    if (this.newSampleRatio > 1) throw new Error(`${NAME}: newSampleRatio must be in [0, 1], got ${this.newSampleRatio}`);
    this.energyRegWeight = numberOption(NAME, 'energyRegWeight', opts.energyRegWeight ?? 0.001, 0, true);
    const init = opts.initNoise ?? 1;
    if (typeof init !== 'function') numberOption(NAME, 'initNoise', init, 0, true);
    this.initNoise = init;
    this.random = new Mulberry32(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /**
   * The replay buffer [bufferSize, ...dim] (persistent CD, after the first call), or null. It is
   * the live buffer, updated in place by every call: clone it to keep a snapshot.
   */
  get replayBuffer(): Tensor | null {
    return this.replay;
  }

  /**
   * Sets the replay buffer (persistent CD) to a copy of `t` [bufferSize, ...dim], e.g. one saved
   * from `replayBuffer` with a checkpoint; `t` stays the caller's.
   */
  loadReplayBuffer(t: Tensor): void {
    if (!(t instanceof Tensor)) throw new Error(`${NAME}.loadReplayBuffer: expected a Tensor, got ${describe(t)}`);
    t.assertAlive(`${NAME}.loadReplayBuffer`);
    if (t.rank < 2 || t.shape[0] !== this.bufferSize)
      throw new Error(`${NAME}.loadReplayBuffer: expected [${this.bufferSize}, ...dim] (bufferSize rows), got ${fmt(t.shape)}`);
    const copy = keep(noGrad(() => (t.dtype === 'f32' ? t.clone() : t.to('f32'))));
    this.resetBuffer();
    this.replay = copy;
  }

  /** The call counter, the row generator's state and a copy of the replay buffer (the caller disposes it). */
  override stateDict(): LossStateDict {
    const buffer = this.replay;
    return { ...super.stateDict(), random: this.random.state, replayBuffer: buffer ? keep(noGrad(() => buffer.clone())) : null };
  }

  /** Restores a state from stateDict() (the buffer is copied); an invalid one is an error and changes nothing. */
  override loadStateDict(s: LossStateDict): void {
    const where = `${NAME}.loadStateDict`;
    this.checkState(s, where);
    if (s.random !== undefined && (!Number.isInteger(s.random) || s.random < 0 || s.random >= 2 ** 32)) throw new Error(`${where}: random must be a u32 integer, got ${describe(s.random)}`);
    if (s.replayBuffer !== undefined && s.replayBuffer !== null && !(s.replayBuffer instanceof Tensor))
      throw new Error(`${where}: replayBuffer must be a Tensor or null, got ${describe(s.replayBuffer)}`);
    // The one step that can still fail goes first; it replaces the buffer only once its copy is made.
    if (s.replayBuffer instanceof Tensor) this.loadReplayBuffer(s.replayBuffer);
    else if (s.replayBuffer === null) this.resetBuffer();
    super.loadStateDict(s);
    if (s.random !== undefined) this.random.state = s.random;
  }

  /** Forgets the replay buffer: the next call starts it afresh from noise. */
  resetBuffer(): void {
    this.replay?.dispose();
    this.replay = null;
  }

  /** Frees the replay buffer and the cached weights. */
  dispose(): void {
    this.resetBuffer();
    this.disposeWeights();
  }

  /**
   * The loss of data x against negatives `neg` (sampled when absent: kSteps sampler steps from
   * noise or from the replay buffer). Metrics [2]: posEnergy = mean E(x+), negEnergy = mean E(x-).
   */
  compute(x: Tensor, neg?: Tensor): LossOutput {
    this.checkBatch(x);
    const dim = x.shape.slice(1);
    if (neg !== undefined) {
      this.checkBatch(neg, 'the negatives');
      if (!sameShape(neg.shape.slice(1), dim))
        throw new Error(`${NAME}: the negatives have shape ${fmt(neg.shape)}, the data ${fmt(x.shape)}; one negative must have the shape of one data point, ${fmt(dim)}`);
      if (neg.device !== x.device) throw new Error(`${NAME}: the negatives and the data are on different devices`);
    }
    const negatives = neg === undefined ? this.sampleNegatives(x, dim) : neg;
    // No tidy here: the graph's intermediates must live until backward(); the caller's scope
    // (the trainer's step) frees them.
    const b = x.shape[0]!;
    const n = negatives.shape[0]!;
    // One forward over [x+; x-]: both are off the tape, so the joined batch is a plain copy.
    const both = noGrad(() => {
      const t = Tensor.empty(x.device, [b + n, ...dim], 'cd-batch');
      copyInto_(t, x);
      copyInto_(t, negatives, { dstOffset: x.size });
      return t;
    });
    const e = this.energy(both);
    const w = this.weightsFor(b, n, x);
    // sum_i e_i (c_i + r_i e_i): c = [1/b ..., -1/n ...], r = [w/b ..., w/n ...].
    const loss = e.mul(w.r).add(w.c).mul(e).sum();
    // The reported means are f32 whatever the precision policy (an f16 autocast scope would round the energies).
    const metrics = noGrad(() => autocast({ enabled: false }, () => e.detach().reshape([1, b + n]).matmul(w.means).reshape([2])));
    return { loss, metrics, negatives };
  }

  /** The loss weights c, r [b + n] and the mean weights [b + n, 2], cached per size. */
  private weightsFor(b: number, n: number, x: Tensor): { c: Tensor; r: Tensor; means: Tensor } {
    const key = `${b}:${n}:${this.energyRegWeight}`;
    if (this.weights?.key === key && this.weights.c.device === x.device) return this.weights;
    this.disposeWeights();
    const total = b + n;
    const c = new Float32Array(total);
    const r = new Float32Array(total);
    const m = new Float32Array(total * 2);
    const wr = this.energyRegWeight;
    for (let i = 0; i < total; i++) {
      const pos = i < b;
      c[i] = pos ? 1 / b : -1 / n;
      r[i] = wr / (pos ? b : n);
      m[2 * i + (pos ? 0 : 1)] = 1 / (pos ? b : n);
    }
    const opts = { device: x.device };
    const made = noGrad(() => ({ c: keep(tensor(c, [total], opts)), r: keep(tensor(r, [total], opts)), means: keep(tensor(m, [total, 2], opts)) }));
    this.weights = { key, ...made };
    return this.weights;
  }

  private disposeWeights(): void {
    if (!this.weights) return;
    this.weights.c.dispose();
    this.weights.r.dispose();
    this.weights.means.dispose();
    this.weights = null;
  }

  /** Starting points [n, ...dim] from the configured noise. */
  private noise(shape: number[], x: Tensor, seed: number | undefined): Tensor {
    if (typeof this.initNoise === 'function') {
      const t: unknown = this.initNoise(shape);
      if (!(t instanceof Tensor) || !sameShape(t.shape, shape) || t.dtype !== 'f32')
        throw new Error(`${NAME}: initNoise(${fmt(shape)}) must return an f32 Tensor of that shape, got ${t instanceof Tensor ? `${t.dtype} ${fmt(t.shape)}` : describe(t)}`);
      return t;
    }
    return randn(shape, { std: this.initNoise, seed, device: x.device });
  }

  private sampleNegatives(x: Tensor, dim: number[]): Tensor {
    const b = x.shape[0]!;
    const seed = this.nextSeed();
    const nSteps = this.kSteps;
    // The call's seed drives the sampler; its starting noise draws from derived streams.
    const noiseSeed = deriveSeed(seed, 1);
    if (!this.persistent) {
      // The sampler draws N(0, 1) starting points itself; other noise is made here.
      if (this.initNoise === 1) return this.checked(this.sampler.sample({ dim, nSamples: b, nSteps, seed }), b, dim);
      return tidy(() => this.checked(this.sampler.sample({ x: this.noise([b, ...dim], x, noiseSeed), nSteps, seed }), b, dim));
    }
    const size = this.bufferSize;
    if (b > size) throw new Error(`${NAME}: the batch (${b}) is larger than bufferSize (${size}); persistent CD draws distinct buffer rows per batch`);
    if (this.replay && !sameShape(this.replay.shape.slice(1), dim)) this.resetBuffer();
    if (!this.replay) this.replay = keep(noGrad(() => this.noise([size, ...dim], x, deriveSeed(seed, 2))));
    // Distinct rows by a partial Fisher-Yates shuffle of the identity row map.
    const map = this.rowMap && this.rowMap.length === size ? this.rowMap : (this.rowMap = Uint32Array.from({ length: size }, (_, i) => i));
    const idx = new Uint32Array(b);
    for (let i = 0; i < b; i++) {
      const j = i + Math.floor(this.random.next() * (size - i));
      const t = map[i]!;
      map[i] = map[j]!;
      map[j] = t;
      idx[i] = map[i]!;
    }
    for (let i = 0; i < size; i++) map[i] = i;
    const fresh = Math.round(this.newSampleRatio * b);
    const buffer = this.replay;
    const neg = noGrad(() =>
      tidy(() => {
        const start = indexSelect(buffer, idx);
        // The first `fresh` chains restart from noise.
        if (fresh > 0) copyInto_(start, this.noise([fresh, ...dim], x, noiseSeed));
        return this.checked(this.sampler.sample({ x: start, nSteps, seed }), b, dim);
      }),
    );
    // Write back in place: row idx[i] of the buffer becomes neg[i] (one dispatch over the batch's rows).
    scatterRows_(buffer, idx, neg);
    return neg;
  }

  private checked(neg: unknown, b: number, dim: number[]): Tensor {
    if (!(neg instanceof Tensor) || !sameShape(neg.shape, [b, ...dim]) || neg.dtype !== 'f32')
      throw new Error(`${NAME}: the sampler returned ${neg instanceof Tensor ? `${neg.dtype} ${fmt(neg.shape)}` : describe(neg)}; expected f32 ${fmt([b, ...dim])}`);
    return neg.requiresGrad ? neg.detach() : neg;
  }
}
