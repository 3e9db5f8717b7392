// A training run's configuration: what `webgpu-ebm train` parses from its command line, writes
// to config.json and into every checkpoint's metadata, and what `sample` and `--resume` rebuild
// the model and sampler from. Plain JSON, so a run is reproducible from its folder alone.
import * as ebm from '../index.js';
import { CliError, UsageError } from './errors.js';

export const MODELS = ['mlp', 'resnet'] as const;
export const LOSSES = ['cd', 'pcd', 'dsm', 'ssm', 'nce', 'eqm'] as const;
/** EqM's paths (--interpolant). */
export const INTERPOLANTS = ebm.EQM_INTERPOLANTS;
export const SAMPLERS = ['langevin', 'hmc', 'mala', 'pt', 'gd', 'nesterov', 'flow'] as const;
/** The --activation spellings: PyTorch's functional names (leaky_relu), from the library's activation table. */
export const ACTIVATIONS = ebm.NONLINEAR_ACTIVATIONS.map((a) => ebm.ACTIVATION_TABLE[a].functional);

export type ModelConfig =
  | { type: 'mlp'; inputDim: number; hiddenDims: number[]; activation: string; spectralNorm: boolean }
  | { type: 'resnet'; inputDim: number; hiddenDim: number; nBlocks: number; activation: string };

export type SamplerConfig =
  | { type: 'langevin'; stepSize: number; noiseScale: number }
  | { type: 'hmc'; stepSize: number; nLeapfrogSteps: number }
  | { type: 'mala' | 'gd'; stepSize: number }
  | { type: 'nesterov'; stepSize: number; momentum: number }
  /** Replica exchange: MALA chains on a geometric ladder from 1 to maxTemperature. */
  | { type: 'pt'; stepSize: number; nReplicas: number; maxTemperature: number }
  /** The energy's gradient flow dx/dt = -grad E, integrated by Heun over t in [0, stepSize] (the span, split into a call's steps). */
  | { type: 'flow'; stepSize: number };

export type LossConfig =
  | { type: 'cd' | 'pcd'; kSteps: number; energyRegWeight: number; bufferSize: number; newSampleRatio: number }
  | { type: 'dsm'; noiseScale: number }
  | { type: 'ssm'; nProjections: number }
  | { type: 'nce'; noiseRatio: number; noiseScaleFactor: number }
  | { type: 'eqm'; interpolant: ebm.EqmInterpolantName; ctThreshold: number; ctMultiplier: number };

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
  /**
   * The plots and the final evaluation; aisChains and aisTemperatures size the held-out
   * log-likelihood's AIS (absent in older configs: EVAL_DEFAULTS).
   */
  plot: { extent: number; grid: number; samples: number; sampleSteps: number; aisChains?: number; aisTemperatures?: number };
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
  noiseRatio?: string;
  interpolant?: string;
  momentum?: string;
  replicas?: string;
  maxTemperature?: string;
  aisChains?: string;
  aisTemperatures?: string;
  logEvery?: string;
  checkpointEvery?: string;
}

// ---- value parsing: every message names the option, the value and what is valid ----

/**
 * The ranges of the numbers a run config holds, one place for both the command line and the
 * files (config.json, a checkpoint's metadata) read back: a range a flag rejects is one a file
 * cannot smuggle in (a checkpoint saying kSteps 1e9 would record a billion sampler steps).
 */
export const RANGES = {
  steps: [1, 1e9],
  batchSize: [1, 1 << 20],
  seed: [0, Number.MAX_SAFE_INTEGER],
  kSteps: [1, 100_000],
  sampleSteps: [1, 100_000],
  nLeapfrogSteps: [1, 1000],
  nProjections: [1, 1000],
  logEvery: [1, 1e9],
  checkpointEvery: [1, 1e9],
  datasetSize: [1, 1e7],
  bufferSize: [1, 1e7],
  plotGrid: [2, 4096],
  plotSamples: [1, 1e6],
  hiddenWidth: [1, 1 << 16],
  hiddenLayers: [1, 64],
  nBlocks: [0, 256],
  inputDim: [1, 1 << 16],
  samples: [1, 1 << 24],
  nReplicas: [2, 64],
  aisChains: [2, 1 << 16],
  aisTemperatures: [1, 100_000],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * Plain decimal numbers only ('1', '-0.5', '2e-3'): Number() also takes '0x10', '0b1', ' 1' and
 * '' (as 0), which on a command line are typos, not numbers.
 */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** The number a flag's text spells, NaN unless it is plain decimal. */
export function decimal(v: string): number {
  return DECIMAL.test(v) ? Number(v) : NaN;
}

/** Why a text JavaScript reads as a number is refused anyway. */
function notDecimal(v: string): string {
  return !DECIMAL.test(v) && v.trim() !== '' && !Number.isNaN(Number(v)) ? ' (plain decimal only: no hex, binary, octal or spaces)' : '';
}

export function choice<T extends string>(name: string, v: string | undefined, valid: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!(valid as readonly string[]).includes(v)) throw new UsageError(`unknown ${name} '${v}' (valid: ${valid.join(', ')})`);
  return v as T;
}

export function posInt(name: string, v: string | undefined, dflt: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return dflt;
  const n = decimal(v);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer ${Number.isSafeInteger(n) && n > max ? `<= ${max}` : `>= ${min}`}, got '${v}'${notDecimal(v)}`);
  return n;
}

/** posInt over one of RANGES. */
export function ranged(name: string, v: string | undefined, dflt: number, range: readonly [number, number]): number {
  return posInt(name, v, dflt, range[0], range[1]);
}

export function posNumber(name: string, v: string | undefined, dflt: number, allowZero = false): number {
  if (v === undefined) return dflt;
  const n = decimal(v);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0))
    throw new UsageError(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got '${v}'${notDecimal(v)}`);
  return n;
}

export function intList(name: string, v: string | undefined, dflt: number[]): number[] {
  if (v === undefined) return dflt;
  const [lo, hi] = RANGES.hiddenWidth;
  const parts = v.split(',').map((p) => decimal(p.trim()));
  if (parts.length > RANGES.hiddenLayers[1] || parts.some((n) => !Number.isSafeInteger(n) || n < lo || n > hi))
    throw new UsageError(`--${name} must be a comma-separated list of at most ${RANGES.hiddenLayers[1]} decimal integers in [${lo}, ${hi}] (e.g. 128,128), got '${v}'`);
  return parts;
}

/**
 * The held-out log-likelihood's AIS (train's final metrics, the eval command): chains, path
 * steps, the HMC step as a fraction of the plot's half-width, leapfrog steps. Small enough to
 * add seconds, not minutes, to a run on a software adapter; its standard error is reported with it.
 */
export const EVAL_DEFAULTS = { aisChains: 128, aisTemperatures: 25, aisStepFraction: 0.03, nLeapfrogSteps: 3 };

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
  /** MALA, PT, gradient descent, Nesterov; for the flow, the time span it integrates. */
  otherStepSize: { mala: 0.01, pt: 0.01, gd: 0.02, nesterov: 0.005, flow: 1 },
  momentum: 0.9,
  replicas: 4,
  maxTemperature: 10,
  /** NCE: noise draws per data point; its Gaussian noise is fitted to the data, 1.2 times as wide. */
  nce: { noiseRatio: 1, noiseScaleFactor: 1.2 },
  /** EqM: TorchEBM's c(t) threshold and multiplier. */
  eqm: { interpolant: 'linear' as const, ctThreshold: 0.8, ctMultiplier: 4 },
  noiseScale: 0.1,
  energyRegWeight: 0.01,
  logEvery: 10,
};

/** A sampler's config with the train command's defaults (`sample` starts from these for a sampler the model was not trained with). */
export function defaultSamplerConfig(type: (typeof SAMPLERS)[number]): SamplerConfig {
  return samplerConfigOf(type, type === 'langevin' ? DEFAULTS.langevinStepSize : type === 'hmc' ? DEFAULTS.hmcStepSize : DEFAULTS.otherStepSize[type], {});
}

/** A sampler's config from the command line (the step size settled by the caller). */
function samplerConfigOf(type: (typeof SAMPLERS)[number], stepSize: number, a: TrainArgs): SamplerConfig {
  switch (type) {
    case 'langevin':
      return { type, stepSize, noiseScale: posNumber('noise-scale', a.noiseScale, DEFAULTS.noiseScale, true) };
    case 'hmc':
      return { type, stepSize, nLeapfrogSteps: 5 };
    case 'mala':
    case 'gd':
    case 'flow':
      return { type, stepSize };
    case 'nesterov': {
      const momentum = posNumber('momentum', a.momentum, DEFAULTS.momentum, true);
      if (momentum >= 1) throw new UsageError(`--momentum must be in [0, 1), got '${a.momentum}'`);
      return { type, stepSize, momentum };
    }
    case 'pt': {
      const maxTemperature = posNumber('max-temperature', a.maxTemperature, DEFAULTS.maxTemperature);
      if (maxTemperature <= 1) throw new UsageError(`--max-temperature must be > 1, got '${a.maxTemperature}'`);
      return { type, stepSize, nReplicas: ranged('replicas', a.replicas, DEFAULTS.replicas, RANGES.nReplicas), maxTemperature };
    }
  }
}

/** The configuration a `train` command line asks for, defaults filled in. */
export function configFromArgs(a: TrainArgs): TrainConfig {
  const dataset = choice('dataset', a.dataset, ebm.DATASETS, DEFAULTS.dataset);
  const modelType = choice('model', a.model, MODELS, DEFAULTS.model);
  const lossType = choice('loss', a.loss, LOSSES, DEFAULTS.loss);
  const samplerType = choice('sampler', a.sampler, SAMPLERS, DEFAULTS.sampler);
  const activation = choice('activation', a.activation, ACTIVATIONS, DEFAULTS.activation as (typeof ACTIVATIONS)[number]);
  const steps = ranged('steps', a.steps, DEFAULTS.steps, RANGES.steps);
  const hidden = intList('hidden', a.hidden, modelType === 'mlp' ? DEFAULTS.hidden : [128]);
  if (modelType === 'resnet' && hidden.some((w) => w !== hidden[0]))
    throw new UsageError(`--hidden for a resnet is its width, repeated once per residual block (e.g. 128,128 = two blocks of 128); got '${a.hidden}'`);
  const model: ModelConfig =
    modelType === 'mlp'
      ? { type: 'mlp', inputDim: 2, hiddenDims: hidden, activation, spectralNorm: false }
      : { type: 'resnet', inputDim: 2, hiddenDim: hidden[0]!, nBlocks: hidden.length > 1 ? hidden.length : DEFAULTS.resnetBlocks, activation };
  const stepSize = posNumber('step-size', a.stepSize, samplerType === 'langevin' ? DEFAULTS.langevinStepSize : samplerType === 'hmc' ? DEFAULTS.hmcStepSize : DEFAULTS.otherStepSize[samplerType]);
  const only = (flag: string, v: unknown, types: readonly string[]) => {
    if (v !== undefined && !types.includes(samplerType)) throw new UsageError(`--${flag} is an option of --sampler ${types.join('|')} (this run's sampler is ${samplerType})`);
  };
  only('noise-scale', a.noiseScale, ['langevin']);
  only('momentum', a.momentum, ['nesterov']);
  only('replicas', a.replicas, ['pt']);
  only('max-temperature', a.maxTemperature, ['pt']);
  const sampler = samplerConfigOf(samplerType, stepSize, a);
  const kSteps = ranged('k-steps', a.kSteps, samplerType === 'hmc' ? Math.max(1, Math.round(DEFAULTS.kSteps / 6)) : DEFAULTS.kSteps, RANGES.kSteps);
  if (a.noiseRatio !== undefined && lossType !== 'nce') throw new UsageError(`--noise-ratio is an option of --loss nce (this run's loss is ${lossType})`);
  if (a.interpolant !== undefined && lossType !== 'eqm') throw new UsageError(`--interpolant is an option of --loss eqm (this run's loss is ${lossType})`);
  const loss: LossConfig =
    lossType === 'cd' || lossType === 'pcd'
      ? { type: lossType, kSteps: lossType === 'pcd' && a.kSteps === undefined ? Math.max(1, Math.round(kSteps / 3)) : kSteps, energyRegWeight: posNumber('energy-reg', a.energyReg, DEFAULTS.energyRegWeight, true), bufferSize: 8192, newSampleRatio: 0.05 }
      : lossType === 'dsm'
        ? { type: 'dsm', noiseScale: 0.1 }
        : lossType === 'ssm'
          ? { type: 'ssm', nProjections: 1 }
          : lossType === 'nce'
            ? { type: 'nce', noiseRatio: posNumber('noise-ratio', a.noiseRatio, DEFAULTS.nce.noiseRatio), noiseScaleFactor: DEFAULTS.nce.noiseScaleFactor }
            : { type: 'eqm', interpolant: choice('interpolant', a.interpolant, INTERPOLANTS, DEFAULTS.eqm.interpolant), ctThreshold: DEFAULTS.eqm.ctThreshold, ctMultiplier: DEFAULTS.eqm.ctMultiplier };
  const logEvery = ranged('log-every', a.logEvery, Math.min(DEFAULTS.logEvery, steps), RANGES.logEvery);
  return {
    version: 1,
    dataset,
    datasetSize: DEFAULTS.datasetSize,
    model,
    sampler,
    loss,
    optimizer: { type: 'adam', lr: posNumber('lr', a.lr, DEFAULTS.lr), betas: [0.9, 0.999] },
    steps,
    batchSize: ranged('batch-size', a.batchSize, DEFAULTS.batchSize, RANGES.batchSize),
    seed: ranged('seed', a.seed, DEFAULTS.seed, RANGES.seed),
    mixedPrecision: a.mixedPrecision ?? false,
    logEvery,
    checkpointEvery: ranged('checkpoint-every', a.checkpointEvery, Math.max(logEvery, Math.ceil(steps / 10 / logEvery) * logEvery), RANGES.checkpointEvery),
    plot: {
      extent: DATASET_EXTENT[dataset],
      grid: 256,
      samples: 1000,
      sampleSteps: ranged('sample-steps', a.sampleSteps, Math.max(200, kSteps), RANGES.sampleSteps),
      aisChains: ranged('ais-chains', a.aisChains, EVAL_DEFAULTS.aisChains, RANGES.aisChains),
      aisTemperatures: ranged('ais-temperatures', a.aisTemperatures, EVAL_DEFAULTS.aisTemperatures, RANGES.aisTemperatures),
    },
  };
}

// ---- rebuilding what a config describes ----

export function buildModel(m: ModelConfig, seed?: number, where = 'the model config'): ebm.BaseEnergyFunction {
  checkModelFits(m, where, ebm.getDevice().device.limits);
  const activation = m.activation as ebm.MLPEnergyModelOptions['activation'];
  if (m.type === 'mlp') return new ebm.MLPEnergyModel({ inputDim: m.inputDim, hiddenDims: m.hiddenDims, activation, spectralNorm: m.spectralNorm, seed });
  return new ebm.ResNetEnergyModel({ inputDim: m.inputDim, hiddenDim: m.hiddenDim, nBlocks: m.nBlocks, activation, seed });
}

export type CliSampler =
  | ebm.LangevinDynamics
  | ebm.HamiltonianMonteCarlo
  | ebm.MetropolisAdjustedLangevin
  | ebm.ParallelTempering
  | ebm.GradientDescentSampler
  | ebm.NesterovSampler
  | ebm.FlowSampler;

export function buildSampler(s: SamplerConfig, model: ebm.BaseEnergyFunction): CliSampler {
  switch (s.type) {
    case 'langevin':
      return new ebm.LangevinDynamics(model, { stepSize: s.stepSize, noiseScale: s.noiseScale });
    case 'hmc':
      return new ebm.HamiltonianMonteCarlo(model, { stepSize: s.stepSize, nLeapfrogSteps: s.nLeapfrogSteps });
    case 'mala':
      return new ebm.MetropolisAdjustedLangevin(model, { stepSize: s.stepSize });
    case 'pt':
      return new ebm.ParallelTempering(model, { stepSize: s.stepSize, nReplicas: s.nReplicas, maxTemperature: s.maxTemperature });
    case 'gd':
      return new ebm.GradientDescentSampler(model, { stepSize: s.stepSize });
    case 'nesterov':
      return new ebm.NesterovSampler(model, { stepSize: s.stepSize, momentum: s.momentum });
    case 'flow':
      // The gradient flow dx/dt = -grad E over t in [0, stepSize]: a call's steps split that span.
      return new ebm.FlowSampler(model, { t0: 0, t1: s.stepSize });
  }
}

// ---- configs read from files: config.json and a checkpoint's metadata are input ----

const show = (x: unknown): string => {
  const j = JSON.stringify(x);
  return j === undefined ? String(x) : j.length > 60 ? `${j.slice(0, 57)}...` : j;
};

/**
 * Reads one object of a config file field by field; each failure is one line naming the file,
 * the field's path, its value and what is valid.
 */
export class Fields {
  readonly o: Record<string, unknown>;
  constructor(
    v: unknown,
    readonly where: string,
    readonly path: string,
  ) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CliError(`${where}: '${path}' must be an object, got ${show(v)}`);
    this.o = v as Record<string, unknown>;
  }
  fail(key: string, want: string): never {
    throw new CliError(`${this.where}: '${this.path ? `${this.path}.` : ''}${key}' must be ${want}, got ${show(this.o[key])}`);
  }
  sub(key: string): Fields {
    return new Fields(this.o[key], this.where, this.path ? `${this.path}.${key}` : key);
  }
  int(key: string, [lo, hi]: readonly [number, number]): number {
    const x = this.o[key];
    if (!Number.isSafeInteger(x) || (x as number) < lo || (x as number) > hi) this.fail(key, `an integer in [${lo}, ${hi}]`);
    return x as number;
  }
  /** A finite number >= lo (> lo when open), <= hi. */
  num(key: string, lo: number, hi = Infinity, open = false): number {
    const x = this.o[key];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < lo || (open && x === lo) || x > hi)
      this.fail(key, `a finite number ${open ? '>' : '>='} ${lo}${hi < Infinity ? ` and <= ${hi}` : ''}`);
    return x;
  }
  oneOf<T extends string>(key: string, valid: readonly T[]): T {
    const x = this.o[key];
    if (!(valid as readonly unknown[]).includes(x)) this.fail(key, `one of ${valid.join(', ')}`);
    return x as T;
  }
  bool(key: string): boolean {
    if (typeof this.o[key] !== 'boolean') this.fail(key, 'true or false');
    return this.o[key] as boolean;
  }
}

/** An activation's spelling (a PyTorch-made file may use the library's name or an alias). */
function activationOf(f: Fields): string {
  if (ebm.activationFromSpelling(f.o.activation) === null) f.fail('activation', `one of ${ACTIVATIONS.join(', ')}`);
  return f.o.activation as string;
}

/** A model config read from JSON, checked field by field (a checkpoint's metadata is input). */
export function checkModelConfig(v: unknown, where: string, path = 'model'): ModelConfig {
  if (v === undefined || v === null) throw new CliError(`${where}: the model config is missing`);
  const f = new Fields(v, where, path);
  const type = f.oneOf('type', MODELS);
  const inputDim = f.int('inputDim', RANGES.inputDim);
  const activation = activationOf(f);
  if (type === 'mlp') {
    const dims = f.o.hiddenDims;
    const [lo, hi] = RANGES.hiddenWidth;
    if (!Array.isArray(dims) || dims.length < 1 || dims.length > RANGES.hiddenLayers[1] || !dims.every((d) => Number.isSafeInteger(d) && d >= lo && d <= hi))
      f.fail('hiddenDims', `a list of 1 to ${RANGES.hiddenLayers[1]} integers in [${lo}, ${hi}]`);
    return { type, inputDim, hiddenDims: dims as number[], activation, spectralNorm: f.o.spectralNorm === true };
  }
  return { type, inputDim, hiddenDim: f.int('hiddenDim', RANGES.hiddenWidth), nBlocks: f.int('nBlocks', RANGES.nBlocks), activation };
}

/** A sampler config read from JSON: null when absent, an error naming the field when present but wrong. */
export function checkSamplerConfig(v: unknown, where: string, path = 'sampler'): SamplerConfig | null {
  if (v === undefined || v === null) return null;
  const f = new Fields(v, where, path);
  const type = f.oneOf('type', SAMPLERS);
  const stepSize = f.num('stepSize', 0, Infinity, true);
  switch (type) {
    case 'langevin':
      return { type, stepSize, noiseScale: f.num('noiseScale', 0) };
    case 'hmc':
      return { type, stepSize, nLeapfrogSteps: f.int('nLeapfrogSteps', RANGES.nLeapfrogSteps) };
    case 'mala':
    case 'gd':
    case 'flow':
      return { type, stepSize };
    case 'nesterov': {
      const momentum = f.num('momentum', 0, 1);
      if (momentum >= 1) f.fail('momentum', 'a number in [0, 1)');
      return { type, stepSize, momentum };
    }
    case 'pt': {
      const maxTemperature = f.num('maxTemperature', 1, 1e6, true);
      return { type, stepSize, nReplicas: f.int('nReplicas', RANGES.nReplicas), maxTemperature };
    }
  }
}

/**
 * A whole run config read from JSON (config.json, a checkpoint's run metadata), checked against
 * the same ranges the command line is: what --resume and sample build from it is then a run the
 * command line could have asked for.
 */
export function checkTrainConfig(v: unknown, where: string): TrainConfig {
  const f = new Fields(v, where, '');
  if (f.o.version !== 1) f.fail('version', '1 (the only run config format there is)');
  const dataset = f.oneOf('dataset', ebm.DATASETS);
  const model = checkModelConfig(f.o.model, where);
  if (model.inputDim !== 2) f.sub('model').fail('inputDim', '2 (the datasets are 2-D)');
  const sampler = checkSamplerConfig(f.o.sampler, where) ?? f.fail('sampler', `a sampler config ({"type": one of ${SAMPLERS.join(', ')}, ...})`);
  const l = f.sub('loss');
  const lossType = l.oneOf('type', LOSSES);
  const loss: LossConfig =
    lossType === 'cd' || lossType === 'pcd'
      ? { type: lossType, kSteps: l.int('kSteps', RANGES.kSteps), energyRegWeight: l.num('energyRegWeight', 0), bufferSize: l.int('bufferSize', RANGES.bufferSize), newSampleRatio: l.num('newSampleRatio', 0, 1) }
      : lossType === 'dsm'
        ? { type: 'dsm', noiseScale: l.num('noiseScale', 0, Infinity, true) }
        : lossType === 'ssm'
          ? { type: 'ssm', nProjections: l.int('nProjections', RANGES.nProjections) }
          : lossType === 'nce'
            ? { type: 'nce', noiseRatio: l.num('noiseRatio', 0, 1e6, true), noiseScaleFactor: l.num('noiseScaleFactor', 0, 1e6, true) }
            : { type: 'eqm', interpolant: l.oneOf('interpolant', INTERPOLANTS), ctThreshold: l.num('ctThreshold', 0, 1, true), ctMultiplier: l.num('ctMultiplier', 0, 1e6, true) };
  if (loss.type === 'eqm' && loss.ctThreshold >= 1) l.fail('ctThreshold', 'a number in (0, 1)');
  const opt = f.sub('optimizer');
  opt.oneOf('type', ['adam'] as const);
  const betas = opt.o.betas;
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)) opt.fail('betas', 'two numbers in [0, 1)');
  const optimizer = { type: 'adam' as const, lr: opt.num('lr', 0, Infinity, true), betas: betas as [number, number] };
  const p = f.sub('plot');
  const plot: TrainConfig['plot'] = { extent: p.num('extent', 0, 1e6, true), grid: p.int('grid', RANGES.plotGrid), samples: p.int('samples', RANGES.plotSamples), sampleSteps: p.int('sampleSteps', RANGES.sampleSteps) };
  // Absent in configs written before the held-out log-likelihood.
  if (p.o.aisChains !== undefined) plot.aisChains = p.int('aisChains', RANGES.aisChains);
  if (p.o.aisTemperatures !== undefined) plot.aisTemperatures = p.int('aisTemperatures', RANGES.aisTemperatures);
  return {
    version: 1,
    dataset,
    datasetSize: f.int('datasetSize', RANGES.datasetSize),
    model,
    sampler,
    loss,
    optimizer,
    steps: f.int('steps', RANGES.steps),
    batchSize: f.int('batchSize', RANGES.batchSize),
    seed: f.int('seed', RANGES.seed),
    mixedPrecision: f.bool('mixedPrecision'),
    logEvery: f.int('logEvery', RANGES.logEvery),
    checkpointEvery: f.int('checkpointEvery', RANGES.checkpointEvery),
    plot,
  };
}

/** The model's tensors as [name, rows, cols] (cols 1 for a bias): what its parameters take. */
function modelTensors(m: ModelConfig): [string, number, number][] {
  const t: [string, number, number][] = [];
  const linear = (name: string, i: number, o: number) => t.push([name, o, i], [`${name} bias`, o, 1]);
  if (m.type === 'mlp') {
    const dims = [m.inputDim, ...m.hiddenDims, 1];
    for (let k = 0; k + 1 < dims.length; k++) linear(`layer ${k} (${dims[k]}x${dims[k + 1]})`, dims[k]!, dims[k + 1]!);
  } else {
    linear(`input_proj (${m.inputDim}x${m.hiddenDim})`, m.inputDim, m.hiddenDim);
    for (let b = 0; b < m.nBlocks; b++) for (const k of [0, 1]) linear(`block ${b} linear ${k} (${m.hiddenDim}x${m.hiddenDim})`, m.hiddenDim, m.hiddenDim);
    linear(`output_proj (${m.hiddenDim}x1)`, m.hiddenDim, 1);
  }
  return t;
}

/**
 * Refuses a model whose tensors do not fit the device before any is made: each f32 tensor must
 * fit one storage binding (a matmul binds a weight whole), so a file asking for hiddenDims
 * [1e5, 1e5] fails here, naming the layer, instead of in the middle of building the model.
 */
export function checkModelFits(m: ModelConfig, where: string, limits: { maxStorageBufferBindingSize: number; maxBufferSize: number }): void {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  for (const [name, r, c] of modelTensors(m)) {
    const bytes = r * c * 4;
    if (bytes > limit)
      throw new CliError(`${where}: the model's ${name} weight takes ${bytes} bytes, over this device's largest buffer binding (${limit} bytes); it cannot be built here`);
  }
}

function samplerDescription(s: SamplerConfig): string {
  switch (s.type) {
    case 'langevin':
      return `Langevin h=${s.stepSize}`;
    case 'hmc':
      return `HMC h=${s.stepSize} L=${s.nLeapfrogSteps}`;
    case 'mala':
      return `MALA h=${s.stepSize}`;
    case 'gd':
      return `gradient descent h=${s.stepSize}`;
    case 'nesterov':
      return `Nesterov h=${s.stepSize} mu=${s.momentum}`;
    case 'pt':
      return `parallel tempering (MALA h=${s.stepSize}, ${s.nReplicas} replicas to T=${s.maxTemperature})`;
    case 'flow':
      return `gradient flow over [0, ${s.stepSize}]`;
  }
}

function lossDescription(l: LossConfig, sampler: string): string {
  switch (l.type) {
    case 'cd':
    case 'pcd':
      return `${l.type.toUpperCase()}-${l.kSteps} (${sampler})`;
    case 'dsm':
      return `DSM sigma=${l.noiseScale}`;
    case 'ssm':
      return 'SSM';
    case 'nce':
      return `NCE nu=${l.noiseRatio}`;
    case 'eqm':
      return `EqM ${l.interpolant}`;
  }
}

/** A one-line description of a config, for the log. */
export function describeConfig(c: TrainConfig): string {
  const m = c.model.type === 'mlp' ? `MLP ${[c.model.inputDim, ...c.model.hiddenDims, 1].join('-')} ${c.model.activation}` : `ResNet ${c.model.hiddenDim}x${c.model.nBlocks} ${c.model.activation}`;
  const s = samplerDescription(c.sampler);
  const l = lossDescription(c.loss, s);
  return `${c.dataset}, ${m}, ${l}, Adam lr=${c.optimizer.lr}, batch ${c.batchSize}, ${c.steps} steps${c.mixedPrecision ? ', mixed precision' : ''}, seed ${c.seed}`;
}
