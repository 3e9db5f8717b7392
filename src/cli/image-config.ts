// The configuration of an image run (`webgpu-ebm train --dataset mnist`, or a .npy/.safetensors
// of [N, C, H, W] images): the library's IMAGE_DEFAULTS (src/train/image-defaults.ts, the one
// place the recipe's numbers live) overridden by the command line, checked the same way when
// read back from a checkpoint. The 2-D runs' configuration is config.ts; the shared option
// ranges are its RANGES.
import * as ebm from '../index.js';
import { ACTIVATIONS, Fields, intList, posNumber, RANGES, ranged } from './config.js';
import { UsageError } from './errors.js';

/** An image run: the model (ConvEnergyModel's options), the recipe, the schedule of the run. */
export interface ImageRunConfig {
  kind: 'image';
  /** 'mnist', or the path of the user's images. */
  dataset: string;
  model: { inputChannels: number; imageSize: number; channels: number[]; kernelSize: number; activation: string };
  recipe: { batchSize: number; langevinSteps: number; stepSize: number; noiseStd: number; lr: number; energyRegWeight: number; maxGradNorm: number; bufferSize: number; restartFraction: number };
  steps: number;
  logEvery: number;
  checkpointEvery: number;
  seed: number;
  /** Langevin steps of the final samples (samples.png and the quality figures: replay-buffer chains run further; chain.png and the noise_* figures: from uniform noise). */
  sampleSteps: number;
  /** Samples scored by the digit classifier at the end (MNIST runs). */
  qualitySamples: number;
}

/**
 * The run's defaults beyond the recipe, sized so the default MNIST run fits in 15 minutes on
 * lavapipe with 2 cores. 700 updates took 13.4 minutes at about 1 update/s when chosen; the
 * faster conv kernels and readbacks of issue 12 brought the whole command to 412 s (about 2
 * updates/s), with the same samples' scores, so more updates would now fit the budget.
 */
export const IMAGE_RUN_DEFAULTS = { steps: 700, logEvery: 25, seed: 0, qualitySamples: 1000, sampleStepsPerLangevinStep: 3 } as const;

/** The largest image side and channel count the CLI builds (a checkpoint cannot ask for more). */
const IMAGE_RANGES = { imageSize: [4, 1024], inputChannels: [1, 4], channels: [1, 1024], convLayers: [1, 8], kernelSize: [1, 15], qualitySamples: [1, 100_000] } as const;

/** Whether a --dataset names an image dataset (a name of IMAGE_DATASETS or an image file). */
export function isImageDataset(dataset: string | undefined): boolean {
  return dataset !== undefined && ((ebm.IMAGE_DATASETS as readonly string[]).includes(dataset) || /\.(npy|safetensors)$/i.test(dataset));
}

/** The command line's options an image run takes (others are refused by name). */
export const IMAGE_TRAIN_FLAGS = ['dataset', 'model', 'channels', 'imageSize', 'activation', 'kSteps', 'stepSize', 'energyReg', 'steps', 'batchSize', 'lr', 'seed', 'sampleSteps', 'qualitySamples', 'out', 'resume', 'logEvery', 'checkpointEvery', 'quiet', 'force'] as const;

export interface ImageArgs {
  dataset?: string;
  model?: string;
  channels?: string;
  imageSize?: string;
  activation?: string;
  kSteps?: string;
  stepSize?: string;
  energyReg?: string;
  steps?: string;
  batchSize?: string;
  lr?: string;
  seed?: string;
  sampleSteps?: string;
  qualitySamples?: string;
  logEvery?: string;
  checkpointEvery?: string;
}

const flag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * The image run a command line asks for. `data` is the dataset's [N, C, H, W] shape, known once it
 * is loaded: the model's channels and size come from it, and a --image-size that disagrees is refused.
 */
export function imageConfigFromArgs(a: ImageArgs, given: Set<string>, data: { channels: number; size: number }): ImageRunConfig {
  const refused = [...given].filter((k) => !(IMAGE_TRAIN_FLAGS as readonly string[]).includes(k));
  if (refused.length) throw new UsageError(`${refused.map(flag).join(', ')} ${refused.length > 1 ? 'do' : 'does'} not apply to an image run (--dataset ${a.dataset}); its options: ${IMAGE_TRAIN_FLAGS.map(flag).join(' ')}`);
  if (a.model !== undefined && a.model !== 'conv') throw new UsageError(`--model must be conv for an image dataset (ConvEnergyModel), got '${a.model}'`);
  if (a.imageSize !== undefined && ranged('image-size', a.imageSize, data.size, IMAGE_RANGES.imageSize) !== data.size)
    throw new UsageError(`--image-size ${a.imageSize} does not match the dataset's ${data.size}x${data.size} images`);
  const d = ebm.IMAGE_DEFAULTS;
  const activation = a.activation ?? d.activation;
  if (ebm.activationFromSpelling(activation) === null) throw new UsageError(`unknown activation '${activation}' (valid: ${ACTIVATIONS.join(', ')})`);
  const channels = intList('channels', a.channels, [...d.channels]);
  if (channels.length > IMAGE_RANGES.convLayers[1]) throw new UsageError(`--channels takes at most ${IMAGE_RANGES.convLayers[1]} layers, got ${channels.length}`);
  const steps = ranged('steps', a.steps, IMAGE_RUN_DEFAULTS.steps, RANGES.steps);
  const logEvery = ranged('log-every', a.logEvery, Math.min(IMAGE_RUN_DEFAULTS.logEvery, steps), RANGES.logEvery);
  const langevinSteps = ranged('k-steps', a.kSteps, d.langevinSteps, RANGES.kSteps);
  return {
    kind: 'image',
    dataset: a.dataset!,
    model: { inputChannels: data.channels, imageSize: data.size, channels, kernelSize: d.kernelSize, activation },
    recipe: {
      batchSize: ranged('batch-size', a.batchSize, d.batchSize, RANGES.batchSize),
      langevinSteps,
      stepSize: posNumber('step-size', a.stepSize, d.stepSize),
      noiseStd: d.noiseStd,
      lr: posNumber('lr', a.lr, d.lr),
      energyRegWeight: posNumber('energy-reg', a.energyReg, d.energyRegWeight, true),
      maxGradNorm: d.maxGradNorm,
      bufferSize: d.bufferSize,
      restartFraction: d.restartFraction,
    },
    steps,
    logEvery,
    checkpointEvery: ranged('checkpoint-every', a.checkpointEvery, Math.max(logEvery, Math.ceil(steps / 10 / logEvery) * logEvery), RANGES.checkpointEvery),
    seed: ranged('seed', a.seed, IMAGE_RUN_DEFAULTS.seed, RANGES.seed),
    sampleSteps: ranged('sample-steps', a.sampleSteps, IMAGE_RUN_DEFAULTS.sampleStepsPerLangevinStep * langevinSteps, RANGES.sampleSteps),
    qualitySamples: ranged('quality-samples', a.qualitySamples, IMAGE_RUN_DEFAULTS.qualitySamples, IMAGE_RANGES.qualitySamples),
  };
}

/** An image run config read from a checkpoint, checked field by field (the file is input). */
export function checkImageRunConfig(v: unknown, where: string): ImageRunConfig {
  const f = new Fields(v, where, '');
  if (f.o.kind !== 'image') f.fail('kind', "'image'");
  if (typeof f.o.dataset !== 'string' || f.o.dataset === '') f.fail('dataset', 'a dataset name or path');
  const m = f.sub('model');
  const channels = m.o.channels;
  const [lo, hi] = IMAGE_RANGES.channels;
  if (!Array.isArray(channels) || channels.length < 1 || channels.length > IMAGE_RANGES.convLayers[1] || !channels.every((c) => Number.isSafeInteger(c) && c >= lo && c <= hi))
    m.fail('channels', `a list of 1 to ${IMAGE_RANGES.convLayers[1]} integers in [${lo}, ${hi}]`);
  if (ebm.activationFromSpelling(m.o.activation) === null) m.fail('activation', `one of ${ACTIVATIONS.join(', ')}`);
  const r = f.sub('recipe');
  const steps = f.int('steps', RANGES.steps);
  return {
    kind: 'image',
    dataset: f.o.dataset as string,
    model: { inputChannels: m.int('inputChannels', IMAGE_RANGES.inputChannels), imageSize: m.int('imageSize', IMAGE_RANGES.imageSize), channels: channels as number[], kernelSize: m.int('kernelSize', IMAGE_RANGES.kernelSize), activation: m.o.activation as string },
    recipe: {
      batchSize: r.int('batchSize', RANGES.batchSize),
      langevinSteps: r.int('langevinSteps', RANGES.kSteps),
      stepSize: r.num('stepSize', 0, Infinity, true),
      noiseStd: r.num('noiseStd', 0),
      lr: r.num('lr', 0, Infinity, true),
      energyRegWeight: r.num('energyRegWeight', 0),
      maxGradNorm: r.num('maxGradNorm', 0, Infinity, true),
      bufferSize: r.int('bufferSize', RANGES.bufferSize),
      restartFraction: r.num('restartFraction', 0, 1),
    },
    steps,
    logEvery: f.int('logEvery', RANGES.logEvery),
    checkpointEvery: f.int('checkpointEvery', RANGES.checkpointEvery),
    seed: f.int('seed', RANGES.seed),
    sampleSteps: f.int('sampleSteps', RANGES.sampleSteps),
    qualitySamples: f.int('qualitySamples', IMAGE_RANGES.qualitySamples),
  };
}

/** One line for the log. */
export function describeImageConfig(c: ImageRunConfig): string {
  const m = c.model;
  const r = c.recipe;
  return `${c.dataset} [${m.inputChannels}, ${m.imageSize}, ${m.imageSize}], ConvEnergyModel channels ${m.channels.join(',')} ${m.activation}, PCD-${r.langevinSteps} (step ${r.stepSize}, noise ${r.noiseStd}, buffer ${r.bufferSize}, ${r.restartFraction * 100}% restarts), Adam lr ${r.lr}, batch ${r.batchSize}, ${c.steps} steps, seed ${c.seed}`;
}
