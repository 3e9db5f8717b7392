// A training run's configuration: what `webgpu-ebm train` parses from its command line, writes
// to config.json and into every checkpoint's metadata, and what `sample` and `--resume` rebuild
// the model and sampler from. Plain JSON, so a run is reproducible from its folder alone.
import * as ebm from '../index.js';
import { UsageError } from './errors.js';

export const MODELS = ['mlp', 'resnet'] as const;
export const LOSSES = ['cd', 'pcd', 'dsm', 'ssm'] as const;
export const SAMPLERS = ['langevin', 'hmc'] as const;
/** The --activation spellings: PyTorch's functional names (leaky_relu), from the library's activation table. */
export const ACTIVATIONS = ebm.NONLINEAR_ACTIVATIONS.map((a) => ebm.ACTIVATION_TABLE[a].functional);

export type ModelConfig =
  | { type: 'mlp'; inputDim: number; hiddenDims: number[]; activation: string; spectralNorm: boolean }
  | { type: 'resnet'; inputDim: number; hiddenDim: number; nBlocks: number; activation: string };

export type SamplerConfig =
  | { type: 'langevin'; stepSize: number; noiseScale: number }
  | { type: 'hmc'; stepSize: number; nLeapfrogSteps: number };

export type LossConfig =
  | { type: 'cd' | 'pcd'; kSteps: number; energyRegWeight: number; bufferSize: number; newSampleRatio: number }
  | { type: 'dsm'; noiseScale: number }
  | { type: 'ssm'; nProjections: number };

export interface TrainConfig {
  /** The format of this object (bumped on incompatible changes). */
  version: 1;
  dataset: ebm.DatasetName;
  /** Points in the training set (made once on the GPU, then shuffled into batches per epoch). */
  datasetSize: number;
  model: ModelConfig;
  sampler: SamplerConfig;
  loss: LossConfig;
  optimizer: { type: 'adam'; lr: number; betas: [number, number] };
  steps: number;
  batchSize: number;
  seed: number;
  mixedPrecision: boolean;
  /** Metrics are read back from the GPU, logged and written every logEvery steps. */
  logEvery: number;
  /** A resumable checkpoint every checkpointEvery steps (and at the end). */
  checkpointEvery: number;
  /** The plots and the final evaluation. */
  plot: { extent: number; grid: number; samples: number; sampleSteps: number };
}

/** Where a `train` command line may set each field. */
export interface TrainArgs {
  dataset?: string;
  model?: string;
  loss?: string;
  sampler?: string;
  steps?: string;
  batchSize?: string;
  lr?: string;
  mixedPrecision?: boolean;
  seed?: string;
  hidden?: string;
  activation?: string;
  kSteps?: string;
  stepSize?: string;
  noiseScale?: string;
  energyReg?: string;
  sampleSteps?: string;
  logEvery?: string;
  checkpointEvery?: string;
}

// ---- value parsing: every message names the option, the value and what is valid ----

export function choice<T extends string>(name: string, v: string | undefined, valid: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!(valid as readonly string[]).includes(v)) throw new UsageError(`unknown ${name} '${v}' (valid: ${valid.join(', ')})`);
  return v as T;
}

export function posInt(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

export function posNumber(name: string, v: string | undefined, dflt: number, allowZero = false): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0))
    throw new UsageError(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got '${v}'`);
  return n;
}

function intList(name: string, v: string | undefined, dflt: number[]): number[] {
  if (v === undefined) return dflt;
  const parts = v.split(',').map((p) => Number(p.trim()));
  if (parts.length === 0 || parts.some((n) => !Number.isSafeInteger(n) || n < 1))
    throw new UsageError(`--${name} must be a comma-separated list of positive integers (e.g. 128,128), got '${v}'`);
  return parts;
}

/** The half-width of the square the plots show, per dataset (its data fits inside with a margin). */
export const DATASET_EXTENT: Record<ebm.DatasetName, number> = {
  'gaussian-mixture': 2,
  'eight-gaussians': 3,
  'two-moons': 2.5,
  'swiss-roll': 2,
  circle: 2,
  checkerboard: 4.5,
  pinwheel: 3.5,
  grid: 1.5,
};

/**
 * The defaults: an MLP 2-128-128-1 with SiLU, trained with short-run contrastive divergence (30
 * Langevin steps of size 0.02 from N(0, I) noise, at noise scale 0.1, i.e. temperature 0.01, so
 * the chains settle into wells as narrow as the data's std 0.02) and Adam at 5e-3. On lavapipe
 * (2 cores) the bare command takes about two minutes and puts over 90% of its samples within 4
 * std of the eight modes, every mode holding at least 5% of them.
 */
export const DEFAULTS = {
  dataset: 'eight-gaussians' as ebm.DatasetName,
  datasetSize: 8192,
  model: 'mlp' as const,
  hidden: [128, 128],
  resnetBlocks: 2,
  activation: 'silu',
  loss: 'cd' as const,
  sampler: 'langevin' as const,
  steps: 2000,
  batchSize: 256,
  lr: 5e-3,
  seed: 0,
  kSteps: 30,
  langevinStepSize: 0.02,
  hmcStepSize: 0.05,
  noiseScale: 0.1,
  energyRegWeight: 0.01,
  logEvery: 10,
};

/** The configuration a `train` command line asks for, defaults filled in. */
export function configFromArgs(a: TrainArgs): TrainConfig {
  const dataset = choice('dataset', a.dataset, ebm.DATASETS, DEFAULTS.dataset);
  const modelType = choice('model', a.model, MODELS, DEFAULTS.model);
  const lossType = choice('loss', a.loss, LOSSES, DEFAULTS.loss);
  const samplerType = choice('sampler', a.sampler, SAMPLERS, DEFAULTS.sampler);
  const activation = choice('activation', a.activation, ACTIVATIONS, DEFAULTS.activation as (typeof ACTIVATIONS)[number]);
  const steps = posInt('steps', a.steps, DEFAULTS.steps);
  const hidden = intList('hidden', a.hidden, modelType === 'mlp' ? DEFAULTS.hidden : [128]);
  if (modelType === 'resnet' && hidden.some((w) => w !== hidden[0]))
    throw new UsageError(`--hidden for a resnet is its width, repeated once per residual block (e.g. 128,128 = two blocks of 128); got '${a.hidden}'`);
  const model: ModelConfig =
    modelType === 'mlp'
      ? { type: 'mlp', inputDim: 2, hiddenDims: hidden, activation, spectralNorm: false }
      : { type: 'resnet', inputDim: 2, hiddenDim: hidden[0]!, nBlocks: hidden.length > 1 ? hidden.length : DEFAULTS.resnetBlocks, activation };
  const stepSize = posNumber('step-size', a.stepSize, samplerType === 'langevin' ? DEFAULTS.langevinStepSize : DEFAULTS.hmcStepSize);
  const sampler: SamplerConfig =
    samplerType === 'langevin'
      ? { type: 'langevin', stepSize, noiseScale: posNumber('noise-scale', a.noiseScale, DEFAULTS.noiseScale, true) }
      : { type: 'hmc', stepSize, nLeapfrogSteps: 5 };
  const kSteps = posInt('k-steps', a.kSteps, samplerType === 'hmc' ? Math.max(1, Math.round(DEFAULTS.kSteps / 6)) : DEFAULTS.kSteps);
  const loss: LossConfig =
    lossType === 'cd' || lossType === 'pcd'
      ? { type: lossType, kSteps: lossType === 'pcd' && a.kSteps === undefined ? Math.max(1, Math.round(kSteps / 3)) : kSteps, energyRegWeight: posNumber('energy-reg', a.energyReg, DEFAULTS.energyRegWeight, true), bufferSize: 8192, newSampleRatio: 0.05 }
      : lossType === 'dsm'
        ? { type: 'dsm', noiseScale: 0.1 }
        : { type: 'ssm', nProjections: 1 };
  const logEvery = posInt('log-every', a.logEvery, Math.min(DEFAULTS.logEvery, steps));
  return {
    version: 1,
    dataset,
    datasetSize: DEFAULTS.datasetSize,
    model,
    sampler,
    loss,
    optimizer: { type: 'adam', lr: posNumber('lr', a.lr, DEFAULTS.lr), betas: [0.9, 0.999] },
    steps,
    batchSize: posInt('batch-size', a.batchSize, DEFAULTS.batchSize),
    seed: posInt('seed', a.seed, DEFAULTS.seed, 0),
    mixedPrecision: a.mixedPrecision ?? false,
    logEvery,
    checkpointEvery: posInt('checkpoint-every', a.checkpointEvery, Math.max(logEvery, Math.ceil(steps / 10 / logEvery) * logEvery)),
    plot: { extent: DATASET_EXTENT[dataset], grid: 256, samples: 1000, sampleSteps: posInt('sample-steps', a.sampleSteps, Math.max(200, kSteps)) },
  };
}

// ---- rebuilding what a config describes ----

export function buildModel(m: ModelConfig, seed?: number): ebm.BaseEnergyFunction {
  const activation = m.activation as ebm.MLPEnergyModelOptions['activation'];
  if (m.type === 'mlp') return new ebm.MLPEnergyModel({ inputDim: m.inputDim, hiddenDims: m.hiddenDims, activation, spectralNorm: m.spectralNorm, seed });
  return new ebm.ResNetEnergyModel({ inputDim: m.inputDim, hiddenDim: m.hiddenDim, nBlocks: m.nBlocks, activation, seed });
}

export function buildSampler(s: SamplerConfig, model: ebm.BaseEnergyFunction): ebm.LangevinDynamics | ebm.HamiltonianMonteCarlo {
  if (s.type === 'langevin') return new ebm.LangevinDynamics(model, { stepSize: s.stepSize, noiseScale: s.noiseScale });
  return new ebm.HamiltonianMonteCarlo(model, { stepSize: s.stepSize, nLeapfrogSteps: s.nLeapfrogSteps });
}

/** A model config read from JSON, checked field by field (a checkpoint's metadata is input). */
export function checkModelConfig(v: unknown, where: string): ModelConfig {
  const o = v as Record<string, unknown>;
  const bad = (what: string) => new Error(`${where}: the model config ${what}`);
  if (!o || typeof o !== 'object') throw bad('is missing');
  const dims = (x: unknown) => Array.isArray(x) && x.length > 0 && x.every((d) => Number.isInteger(d) && d >= 1);
  const int = (x: unknown) => Number.isInteger(x) && (x as number) >= 1;
  if (!int(o.inputDim)) throw bad(`has no valid inputDim (got ${JSON.stringify(o.inputDim)})`);
  if (typeof o.activation !== 'string') throw bad('has no activation');
  if (o.type === 'mlp') {
    if (!dims(o.hiddenDims)) throw bad(`has no valid hiddenDims (got ${JSON.stringify(o.hiddenDims)})`);
    return { type: 'mlp', inputDim: o.inputDim as number, hiddenDims: o.hiddenDims as number[], activation: o.activation, spectralNorm: o.spectralNorm === true };
  }
  if (o.type === 'resnet') {
    if (!int(o.hiddenDim) || !(Number.isInteger(o.nBlocks) && (o.nBlocks as number) >= 0)) throw bad('has no valid hiddenDim / nBlocks');
    return { type: 'resnet', inputDim: o.inputDim as number, hiddenDim: o.hiddenDim as number, nBlocks: o.nBlocks as number, activation: o.activation };
  }
  throw bad(`has an unknown type ${JSON.stringify(o.type)} (valid: ${MODELS.join(', ')})`);
}

export function checkSamplerConfig(v: unknown): SamplerConfig | null {
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') return null;
  const pos = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;
  if (o.type === 'langevin' && pos(o.stepSize) && typeof o.noiseScale === 'number') return { type: 'langevin', stepSize: o.stepSize as number, noiseScale: o.noiseScale };
  if (o.type === 'hmc' && pos(o.stepSize) && Number.isInteger(o.nLeapfrogSteps)) return { type: 'hmc', stepSize: o.stepSize as number, nLeapfrogSteps: o.nLeapfrogSteps as number };
  return null;
}

/** A one-line description of a config, for the log. */
export function describeConfig(c: TrainConfig): string {
  const m = c.model.type === 'mlp' ? `MLP ${[c.model.inputDim, ...c.model.hiddenDims, 1].join('-')} ${c.model.activation}` : `ResNet ${c.model.hiddenDim}x${c.model.nBlocks} ${c.model.activation}`;
  const s = c.sampler.type === 'langevin' ? `Langevin h=${c.sampler.stepSize}` : `HMC h=${c.sampler.stepSize} L=${c.sampler.nLeapfrogSteps}`;
  const l = c.loss.type === 'cd' || c.loss.type === 'pcd' ? `${c.loss.type.toUpperCase()}-${c.loss.kSteps} (${s})` : c.loss.type === 'dsm' ? `DSM sigma=${c.loss.noiseScale}` : `SSM`;
  return `${c.dataset}, ${m}, ${l}, Adam lr=${c.optimizer.lr}, batch ${c.batchSize}, ${c.steps} steps${c.mixedPrecision ? ', mixed precision' : ''}, seed ${c.seed}`;
}
