// One training session of the demo: a dataset, an MLPEnergyModel, and the library's trainer
// (EBMTrainer with LangevinDynamics, Adam and ContrastiveDivergence), plus what the page draws (the energy on a grid, computed by ONE
// batched forward per refresh, and persistent Langevin chains that show the model's samples).
// No DOM here: the same code runs in Node (test/browser.e2e.test.ts's reference side uses the
// library directly, not this file, so the page is checked against an independent path).
import * as ebm from '../src/index.js';
import { mulberry32 } from '../src/tensor/host-random.js';
import { inferMLPConfig, type DemoActivation, type InferredCheckpoint, type MLPConfig } from './checkpoint.js';
import { gridPoints, type View } from './heatmap.js';

/** Datasets the page offers (TorchEBM's 2-D toy sets). */
export const DEMO_DATASETS = ['eight-gaussians', 'two-moons', 'swiss-roll', 'circle', 'checkerboard', 'pinwheel', 'gaussian-mixture'] as const;
export type DemoDataset = (typeof DEMO_DATASETS)[number];

export interface DemoConfig {
  dataset: DemoDataset;
  hiddenDims: number[];
  activation: DemoActivation;
  spectralNorm: boolean;
  batchSize: number;
  lr: number;
  /** Langevin steps per training step (ContrastiveDivergence's kSteps). */
  kSteps: number;
  stepSize: number;
  noiseScale: number;
  /** Persistent CD (a replay buffer of chains) rather than fresh chains each step. */
  persistent: boolean;
  /** Seeds the data, the initial weights and the chains. */
  seed: number;
}

export const DEFAULT_CONFIG: Readonly<DemoConfig> = Object.freeze({
  dataset: 'eight-gaussians',
  hiddenDims: [32, 32],
  activation: 'silu',
  spectralNorm: false,
  batchSize: 256,
  lr: 2e-2,
  kSteps: 10,
  stepSize: 0.02,
  noiseScale: 0.1,
  persistent: true,
  seed: 0,
});

export interface StepMetrics {
  step: number;
  /** The contrastive-divergence loss of the step. */
  loss: number;
  /** Mean energy of the data batch. */
  positiveEnergy: number;
  /** Mean energy of the negative (Langevin) samples. */
  negativeEnergy: number;
}

const META = ebm.CHECKPOINT_METADATA;
const DATA_POOL = 4096;
const DISPLAY_CHAINS = 512;
/**
 * CD's weight on E(x+)^2 + E(x-)^2. At the page's learning rate the wells sharpen fast, and
 * without it a run can overshoot: wells so steep that a Langevin step throws the chains out,
 * the energies then grow without bound (seen at about step 500 with 0.001, CD's default).
 */
const ENERGY_REG_WEIGHT = 0.1;
/** The fraction of the display chains restarted from noise at each advance. */
const DISPLAY_RESTART = 1 / 8;
const HISTORY = 10_000;

export function modelOptions(c: Pick<DemoConfig, 'hiddenDims' | 'activation' | 'spectralNorm' | 'seed'>): ebm.MLPEnergyModelOptions {
  return { inputDim: 2, hiddenDims: [...c.hiddenDims], activation: c.activation, useSpectralNorm: c.spectralNorm, seed: c.seed };
}

export function checkConfig(c: DemoConfig): void {
  const fail = (m: string) => {
    throw new Error(m);
  };
  if (!(DEMO_DATASETS as readonly string[]).includes(c.dataset)) fail(`unknown dataset '${c.dataset}' (valid: ${DEMO_DATASETS.join(', ')})`);
  if (!Array.isArray(c.hiddenDims) || c.hiddenDims.length === 0 || !c.hiddenDims.every((d) => Number.isInteger(d) && d >= 1 && d <= 1024))
    fail(`hidden widths must be a list of integers 1..1024, like "64, 64"; got ${JSON.stringify(c.hiddenDims)}`);
  const pos = (k: 'lr' | 'stepSize') => Number.isFinite(c[k]) && c[k] > 0 || fail(`${k} must be a positive number, got ${c[k]}`);
  pos('lr');
  pos('stepSize');
  if (!(Number.isFinite(c.noiseScale) && c.noiseScale >= 0)) fail(`noiseScale must be >= 0, got ${c.noiseScale}`);
  if (!(Number.isInteger(c.batchSize) && c.batchSize >= 1 && c.batchSize <= 8192)) fail(`batch size must be an integer 1..8192, got ${c.batchSize}`);
  if (!(Number.isInteger(c.kSteps) && c.kSteps >= 1 && c.kSteps <= 1000)) fail(`Langevin steps must be an integer 1..1000, got ${c.kSteps}`);
  if (!(Number.isSafeInteger(c.seed) && c.seed >= 0)) fail(`seed must be a non-negative integer, got ${c.seed}`);
}

export class Session {
  readonly config: DemoConfig;
  readonly model: ebm.MLPEnergyModel;
  /** The square the page draws, from the data's extent. */
  readonly view: View;
  /** The data pool on the CPU, [x0, y0, x1, y1, ...] (what the page overlays). */
  readonly dataPoints: Float32Array;
  step = 0;
  /** Metrics of the last HISTORY steps. */
  readonly history: StepMetrics[] = [];
  /** Where the weights came from: 'init' or the loaded file's name. */
  source = 'init';

  private readonly pool: ebm.Tensor;
  private readonly sampler: ebm.LangevinDynamics;
  private readonly optimizer: ebm.Adam;
  private readonly lossFn: ebm.ContrastiveDivergence;
  private readonly trainer: ebm.EBMTrainer;
  private readonly rng: () => number;
  /** Counts the chains' starting draws, so each is seeded differently. */
  private draws = 0;
  /** The chains the page shows: persistent, advanced a few steps per refresh. */
  private display: ebm.Tensor;
  private grid: { n: number; points: ebm.Tensor } | null = null;
  private disposed = false;

  private constructor(config: DemoConfig, pool: ebm.Tensor, dataPoints: Float32Array) {
    this.config = config;
    this.pool = pool;
    this.dataPoints = dataPoints;
    let m = 0;
    for (const v of dataPoints) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
    this.view = { extent: Math.max(1, Math.ceil(m * 1.25 * 4) / 4) };
    this.model = new ebm.MLPEnergyModel(modelOptions(config));
    // The chains stay inside the view: a chain that wanders off where no data are would
    // otherwise drift on forever, and the model's energy there would fall without bound.
    const e = this.view.extent;
    this.sampler = new ebm.LangevinDynamics(this.model, { stepSize: config.stepSize, noiseScale: config.noiseScale, clamp: { min: -e, max: e } });
    this.optimizer = new ebm.Adam(this.model.parameters(), { lr: config.lr });
    // Chains start from uniform noise over the view (the data's box), not N(0, 1): the datasets
    // reach well past one standard deviation.
    this.lossFn = new ebm.ContrastiveDivergence(this.model, this.sampler, {
      kSteps: config.kSteps,
      persistent: config.persistent,
      bufferSize: Math.max(config.batchSize, 10_000),
      initNoise: (shape) => this.uniform(shape, 100_000 + this.draws++),
      energyRegWeight: ENERGY_REG_WEIGHT,
      seed: ebm.deriveSeed(config.seed, 79),
    });
    // logEvery 0: trainSteps() reads the metrics back itself, once per run of steps.
    this.trainer = new ebm.EBMTrainer({ energyFunction: this.model, sampler: this.sampler, optimizer: this.optimizer, lossFn: this.lossFn, logEvery: 0 });
    this.rng = mulberry32(ebm.deriveSeed(config.seed, 77)!);
    this.display = this.uniform([DISPLAY_CHAINS, 2], 78);
  }

  /** A new session: the data pool is made on the GPU and read back once, for the overlay. */
  static async create(config: DemoConfig): Promise<Session> {
    checkConfig(config);
    await ebm.init();
    const pool = ebm.makeDataset(config.dataset, { nSamples: DATA_POOL, seed: config.seed });
    const data = await pool.data();
    return new Session({ ...config, hiddenDims: [...config.hiddenDims] }, pool, data);
  }

  /**
   * A session whose model is the checkpoint's: its widths and spectral norm come from the file,
   * the activation from the file's metadata or `base.activation`; the rest of `base` stays.
   */
  static async fromCheckpoint(bytes: Uint8Array, base: DemoConfig, name = 'checkpoint'): Promise<{ session: Session; inferred: InferredCheckpoint }> {
    const inferred = inferMLPConfig(bytes, base.activation);
    const c: MLPConfig = inferred.config;
    if (c.inputDim !== 2) throw new Error(`this page draws 2-D energies; the checkpoint's model takes inputDim ${c.inputDim}`);
    const session = await Session.create({ ...base, hiddenDims: c.hiddenDims, activation: c.activation, spectralNorm: c.spectralNorm });
    try {
      // Not strict, to skip a training checkpoint's optimizer.* and trainer.* tensors; anything
      // else that does not fit is an error, as a strict load would say.
      const r = await ebm.loadSafetensors(session.model, bytes, { strict: false });
      const extra = r.unexpectedKeys.filter(ebm.isModelTensor);
      const problems = [
        r.missingKeys.length ? `missing ${r.missingKeys.join(', ')}` : '',
        extra.length ? `unexpected ${extra.join(', ')}` : '',
        r.mismatched.length ? `mis-shaped ${r.mismatched.map((m) => m.key).join(', ')}` : '',
      ].filter(Boolean);
      if (problems.length) throw new Error(`the checkpoint does not fit MLPEnergyModel(2-${c.hiddenDims.join('-')}-1): ${problems.join('; ')}`);
    } catch (e) {
      session.dispose();
      throw e;
    }
    const step = Number(inferred.metadata[META.step]);
    session.step = Number.isSafeInteger(step) && step >= 0 ? step : 0;
    session.source = name;
    return { session, inferred };
  }

  private uniform(shape: number[], stream: number): ebm.Tensor {
    const e = this.view.extent;
    return ebm.rand(shape, { low: -e, high: e, seed: ebm.deriveSeed(this.config.seed, stream) });
  }

  private batch(): ebm.Tensor {
    const idx = new Uint32Array(this.config.batchSize);
    for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(this.rng() * DATA_POOL);
    return ebm.indexSelect(this.pool, idx);
  }

  /** One training step; resolves with its metrics (one readback). */
  async trainStep(): Promise<StepMetrics> {
    return (await this.trainSteps(1))[0]!;
  }

  /**
   * n training steps (EBMTrainer.trainStep on random minibatches), recorded back to back with no
   * readback between them; then their metrics come back together, which also paces the caller
   * to the GPU. Resolves with each step's metrics, in order.
   */
  async trainSteps(n: number): Promise<StepMetrics[]> {
    this.assertAlive();
    this.model.train();
    const steps: ebm.StepMetrics[] = [];
    for (let i = 0; i < n; i++) {
      const batch = this.batch();
      try {
        steps.push(await this.trainer.trainStep(batch));
      } finally {
        batch.dispose();
      }
    }
    const values = await Promise.all(steps.map((m) => m.read()));
    const out = values.map((v): StepMetrics => ({ step: ++this.step, loss: v.loss!, positiveEnergy: v.posEnergy!, negativeEnergy: v.negEnergy! }));
    this.history.push(...out);
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    return out;
  }

  /** E on an n x n grid over the view, row-major from the top: ONE batched forward. */
  async gridEnergies(n: number): Promise<Float32Array> {
    this.assertAlive();
    if (!this.grid || this.grid.n !== n) {
      this.grid?.points.dispose();
      this.grid = { n, points: ebm.tensor(gridPoints(n, this.view), [n * n, 2]) };
    }
    return this.evalEnergies(this.grid.points);
  }

  /** E on the given points [x0, y0, x1, y1, ...] (evaluation mode: spectral norm's u, v stay put). */
  async energies(points: Float32Array | readonly number[]): Promise<Float32Array> {
    this.assertAlive();
    const x = ebm.tensor(Float32Array.from(points), [points.length / 2, 2]);
    try {
      return await this.evalEnergies(x);
    } finally {
      x.dispose();
    }
  }

  /** Runs fn (which only records GPU work) with the model in evaluation mode. */
  private inEval<T>(fn: () => T): T {
    this.model.eval();
    try {
      return fn();
    } finally {
      this.model.train();
    }
  }

  private async evalEnergies(x: ebm.Tensor): Promise<Float32Array> {
    const e = this.inEval(() => ebm.tidy(() => ebm.noGrad(() => this.model.forward(x))));
    try {
      return await e.data();
    } finally {
      e.dispose();
    }
  }

  /**
   * Moves the display chains nSteps Langevin steps; resolves with their positions. First the
   * oldest DISPLAY_RESTART of them retire and as many fresh ones start from uniform noise over
   * the view (a queue: new at the end): at a low temperature a chain never leaves the well it
   * fell into, so without turnover the display would keep the basins of the early model.
   */
  async advanceSamples(nSteps: number): Promise<Float32Array> {
    this.assertAlive();
    if (nSteps > 0) {
      const k = Math.round(DISPLAY_RESTART * DISPLAY_CHAINS);
      const next = this.inEval(() =>
        ebm.tidy(() => {
          const start = k > 0 ? ebm.concat([ebm.slice(this.display, 0, k), this.uniform([k, 2], 200_000 + this.draws++)]) : this.display;
          return this.sampler.sample({ x: start, nSteps });
        }),
      );
      this.display.dispose();
      this.display = next;
    }
    return this.display.data();
  }

  /** The model as safetensors bytes, PyTorch's names, with the page's config in the metadata. */
  async checkpointBytes(): Promise<Uint8Array> {
    this.assertAlive();
    const { hiddenDims, activation, spectralNorm } = this.config;
    return ebm.saveSafetensors(this.model, undefined, {
      metadata: {
        [META.config]: JSON.stringify({ inputDim: 2, hiddenDims, activation, useSpectralNorm: spectralNorm }),
        [META.model]: 'MLPEnergyModel',
        [META.dataset]: this.config.dataset,
        [META.step]: String(this.step),
        [META.source]: 'demo',
      },
    });
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('this session has been replaced (reset or a loaded checkpoint)');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.trainer.dispose();
    this.lossFn.dispose();
    this.optimizer.dispose();
    this.model.dispose();
    for (const t of [this.pool, this.display, this.grid?.points]) t?.dispose();
  }
}
