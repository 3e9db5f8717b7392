// `webgpu-ebm sample` and `webgpu-ebm eval` for an image model (a ConvEnergyModel file written by
// an image run, by examples/pytorch, or by the demo): chains from uniform noise over the data's
// box with the recipe's clamped Langevin, written as a .png grid or a .npy [n, C, H, W]; eval
// scores the chains with the committed digit classifier and compares held-out energies with noise.
import { writeFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import * as ebm from '../index.js';
import { readChecked } from './checkpoint.js';
import { posInt, posNumber } from './config.js';
import { CliError, oneLine, UsageError } from './errors.js';
import { encodeNpy } from './formats.js';
import { imageGridPng } from './plot/image-grid.js';
import { makeFolder } from './run-folder.js';
import type { Output } from './progress.js';
import { sampleImages } from './image-train.js';

const M = ebm.CHECKPOINT_METADATA;

/** The ConvEnergyModel a file describes (its metadata's options), with its weights loaded strictly. */
export async function loadImageModel(path: string): Promise<{ model: ebm.ConvEnergyModel; options: ebm.ConvEnergyModelOptions }> {
  const { bytes, parsed } = readChecked(path);
  let options: ebm.ConvEnergyModelOptions;
  try {
    options = JSON.parse(parsed.metadata[M.config] ?? '') as ebm.ConvEnergyModelOptions;
  } catch (e) {
    throw new CliError(`checkpoint '${path}': its metadata '${M.config}' is not valid JSON: ${oneLine(e)}`);
  }
  let model: ebm.ConvEnergyModel;
  try {
    model = new ebm.ConvEnergyModel(options);
  } catch (e) {
    throw new CliError(`checkpoint '${path}': its ConvEnergyModel options are invalid: ${oneLine(e)}`);
  }
  const { tensors } = await ebm.readSafetensors(bytes);
  try {
    model.loadStateDict(new Map([...tensors].filter(([k]) => ebm.isModelTensor(k))), { strict: true });
  } catch (e) {
    throw new CliError(`checkpoint '${path}' does not fit its ConvEnergyModel options: ${oneLine(e)}`);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return { model, options };
}

/** The recipe's sampler around a loaded model: what the training ran, uniform noise as the start. */
function recipeOf(model: ebm.ConvEnergyModel, options: ebm.ConvEnergyModelOptions, stepSize: number): Pick<ebm.ImageEBM, 'sampler' | 'noise'> {
  const d = ebm.IMAGE_DEFAULTS;
  const { min, max } = d.range;
  const sampler = new ebm.LangevinDynamics(model, { stepSize, noiseScale: d.noiseStd / Math.sqrt(2 * stepSize), clamp: { min, max } });
  const s = options.imageSize;
  return { sampler, noise: (n) => ebm.rand([n, options.inputChannels, s, s], { low: min, high: max }) };
}

export interface ImageSampleOptions {
  checkpoint: string;
  n?: string;
  steps?: string;
  out?: string;
  stepSize?: string;
  seed?: string;
  sampler?: string;
}

export async function runSampleImage(o: ImageSampleOptions, out: Output, deviceOptions?: ebm.DeviceOptions): Promise<{ out: string; shape: number[] }> {
  if (o.sampler !== undefined && o.sampler !== 'langevin') throw new UsageError(`an image model samples with the recipe's clamped Langevin; --sampler ${o.sampler} is for 2-D models`);
  const n = posInt('n', o.n, 64, 1, 100_000);
  const steps = posInt('steps', o.steps, 3 * ebm.IMAGE_DEFAULTS.langevinSteps);
  const seed = posInt('seed', o.seed, 0, 0);
  const stepSize = posNumber('step-size', o.stepSize, ebm.IMAGE_DEFAULTS.stepSize);
  const file = o.out ?? 'samples.png';
  const ext = extname(file).toLowerCase();
  if (ext !== '.png' && ext !== '.npy') throw new UsageError(`--out must end in .png (a grid) or .npy ([n, C, H, W]) for an image model, got '${file}'`);
  makeFolder(dirname(file), 'the output folder');
  await ebm.init(deviceOptions);
  const { model, options } = await loadImageModel(o.checkpoint);
  try {
    ebm.manualSeed(seed);
    const samples = sampleImages(recipeOf(model, options, stepSize), n, steps, seed);
    const x = await samples.data();
    const shape = [...samples.shape];
    samples.dispose();
    if (!x.every(Number.isFinite)) throw new CliError(`the samples are not finite (the model's weights or --step-size diverge the chains); nothing written to ${file}`);
    const { min, max } = ebm.IMAGE_DEFAULTS.range;
    writeFileSync(file, ext === '.png' ? imageGridPng(x, [options.inputChannels, options.imageSize, options.imageSize], n, { cols: Math.min(n, 8), range: [min, max], scale: 3 }) : encodeNpy(x, shape));
    out.write(`wrote ${n} samples (${steps} Langevin steps from uniform noise) to ${file}`);
    return { out: file, shape };
  } finally {
    model.dispose?.();
  }
}

/** eval for an image model: classifier figures of n chains, energies of held-out digits and noise. */
export async function runEvalImage(o: { checkpoint: string; n?: string; seed?: string; steps?: string }, out: Output, deviceOptions?: ebm.DeviceOptions): Promise<Record<string, unknown>> {
  const n = posInt('n', o.n, 1000, 1, 100_000);
  const seed = posInt('seed', o.seed, 0, 0);
  const steps = posInt('steps', o.steps, 3 * ebm.IMAGE_DEFAULTS.langevinSteps);
  await ebm.init(deviceOptions);
  const { model, options } = await loadImageModel(o.checkpoint);
  try {
    ebm.manualSeed(seed);
    const recipe = recipeOf(model, options, ebm.IMAGE_DEFAULTS.stepSize);
    const samples = sampleImages(recipe, n, steps, seed);
    const digits = options.inputChannels === 1 && options.imageSize === 28;
    const heldOut = digits ? (await ebm.loadImageDataset('mnist', { split: 'heldOut' })).images : null;
    const [eData, eNoise] = ebm.noGrad(() => ebm.tidy(() => [heldOut ? model.forward(heldOut).mean() : null, model.forward(recipe.noise(256)).mean()].map((t) => (t ? ebm.keep(t) : null))));
    const result: Record<string, unknown> = { checkpoint: o.checkpoint, samples: n, steps, energy_noise: await eNoise!.item() };
    if (eData) result.energy_heldout = await eData.item();
    if (digits) {
      const classifier = await ebm.loadDigitClassifier();
      const q = await ebm.scoreDigits(classifier, samples);
      Object.assign(result, { classifier_confidence: q.meanConfidence, class_histogram: q.histogram, min_class_fraction: q.minClassFraction, inception_score: q.inceptionScore });
      classifier.dispose?.();
    }
    for (const t of [samples, heldOut, eData, eNoise]) t?.dispose();
    const fix = (v: unknown) => (typeof v === 'number' ? v.toFixed(4) : v);
    out.write(
      digits
        ? `${n} samples: classifier confidence ${fix(result.classifier_confidence)}, smallest class ${(100 * (result.min_class_fraction as number)).toFixed(1)}%, inception score ${fix(result.inception_score)}; E(held-out) ${fix(result.energy_heldout)}, E(noise) ${fix(result.energy_noise)}`
        : `${n} samples: E(noise) ${fix(result.energy_noise)} (the digit classifier scores 1x28x28 models only)`,
    );
    out.write(JSON.stringify(result));
    return result;
  } finally {
    model.dispose?.();
  }
}
