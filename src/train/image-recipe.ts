// The image EBM recipe assembled: a ConvEnergyModel, Langevin clamped to the data's box, PCD with
// a replay buffer restarted from uniform noise, Adam and gradient clipping, from IMAGE_DEFAULTS
// (src/train/image-defaults.ts) with any field overridden. The trainer's fit()/step() then train
// it on images [n, C, S, S] in the range (loadMnist gives MNIST so).
import { ConvEnergyModel } from '../nn/models/conv.js';
import { rand, type Tensor } from '../tensor/index.js';
import { IMAGE_DEFAULTS, type ImageConfig } from './image-defaults.js';
import { ContrastiveDivergence } from './losses/contrastive-divergence.js';
import { Adam } from './optim/adam.js';
import { rejectUnknownKeys } from './options.js';
import { LangevinDynamics } from './samplers/langevin.js';
import { describe } from './samplers/options.js';
import { ClippedEBMTrainer } from './trainers/clipped-trainer.js';

export interface ImageEBMOptions extends Partial<ImageConfig> {
  /** Image channels (default 1). */
  inputChannels?: number;
  /** The images' side (default 28). */
  imageSize?: number;
  /** Seeds the model's weights, the chains, the noise and the buffer's row choice. */
  seed?: number;
}

export interface ImageEBM {
  model: ConvEnergyModel;
  sampler: LangevinDynamics;
  loss: ContrastiveDivergence;
  optimizer: Adam;
  trainer: ClippedEBMTrainer;
  /** The configuration used: IMAGE_DEFAULTS with the overrides. */
  config: ImageConfig & { inputChannels: number; imageSize: number };
  /** Uniform noise over the data's box, [n, C, S, S]: what chains start from. */
  noise(n: number): Tensor;
}

const KEYS = [...Object.keys(IMAGE_DEFAULTS), 'inputChannels', 'imageSize', 'seed'];

/** Builds the image EBM and its trainer (see IMAGE_DEFAULTS for every default and why). */
export function createImageEBM(opts: ImageEBMOptions = {}): ImageEBM {
  const where = 'createImageEBM';
  if (opts === null || typeof opts !== 'object') throw new Error(`${where}: options must be an object, got ${describe(opts)}`);
  rejectUnknownKeys(where, opts, KEYS);
  const config = { ...IMAGE_DEFAULTS, inputChannels: 1, imageSize: 28, ...withoutSeed(opts) };
  const { min, max } = config.range ?? {};
  if (typeof min !== 'number' || typeof max !== 'number' || !(min < max)) throw new Error(`${where}: range must be { min, max } with min < max, got ${JSON.stringify(config.range)}`);
  if (typeof config.noiseStd !== 'number' || !(config.noiseStd >= 0)) throw new Error(`${where}: noiseStd must be a number >= 0, got ${describe(config.noiseStd)}`);
  if (typeof config.stepSize !== 'number' || !(config.stepSize > 0)) throw new Error(`${where}: stepSize must be a number > 0, got ${describe(config.stepSize)}`);
  const seed = opts.seed;
  const model = new ConvEnergyModel({
    inputChannels: config.inputChannels,
    imageSize: config.imageSize,
    channels: config.channels,
    kernelSize: config.kernelSize,
    activation: config.activation as never,
    seed,
  });
  const sampler = new LangevinDynamics(model, {
    stepSize: config.stepSize,
    noiseScale: config.noiseStd / Math.sqrt(2 * config.stepSize),
    clamp: { min, max },
  });
  const shape = [config.inputChannels, config.imageSize, config.imageSize];
  // Unseeded draws come from the global generator, whose state the trainer's stateDict() carries.
  const uniform = (s: number[]) => rand(s, { low: min, high: max });
  const loss = new ContrastiveDivergence(model, sampler, {
    kSteps: config.langevinSteps,
    persistent: true,
    bufferSize: config.bufferSize,
    newSampleRatio: config.restartFraction,
    energyRegWeight: config.energyRegWeight,
    initNoise: uniform,
    seed,
  });
  const optimizer = new Adam(model.parameters(), { lr: config.lr, betas: [...config.betas] as [number, number] });
  const trainer = new ClippedEBMTrainer({ energyFunction: model, optimizer, lossFn: loss, maxGradNorm: config.maxGradNorm });
  return { model, sampler, loss, optimizer, trainer, config, noise: (n) => uniform([n, ...shape]) };
}

function withoutSeed(o: ImageEBMOptions): Partial<ImageConfig> & { inputChannels?: number; imageSize?: number } {
  const { seed: _seed, ...rest } = o;
  return rest;
}
