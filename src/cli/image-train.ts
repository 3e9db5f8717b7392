// `webgpu-ebm train --dataset mnist` (or a .npy / .safetensors of [N, C, H, W] images): trains the
// library's image EBM (createImageEBM: ConvEnergyModel, PCD with a replay buffer and uniform
// restarts, clamped short-run Langevin, Adam, gradient clipping) and writes a run folder:
//   config.json, metrics.jsonl (logged steps, then one 'final' line with the quality figures),
//   checkpoint.safetensors (the trainer's whole state: --resume continues bit for bit),
//   model.safetensors (PyTorch's names; the seed's ConvEnergyModel loads it),
//   samples.png (64 model samples: replay-buffer chains run sampleSteps further), buffer.png
//   (64 replay-buffer rows as they are), chain.png (one chain's frames from noise), loss.png.
// The 2-D runs are train.ts; both share the run folder rules, the checkpoint format and the plots.
import { appendFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ebm from '../index.js';
import { checkpointPathOf, readChecked, readTrainerState, saveTrainerState, type ResumeState } from './checkpoint.js';
import { checkImageRunConfig, describeImageConfig, imageConfigFromArgs, type ImageArgs, type ImageRunConfig } from './image-config.js';
import { CliError, oneLine, UsageError } from './errors.js';
import { imageGridPng } from './plot/image-grid.js';
import { curvesFigure, smooth } from './plot/plots.js';
import { lockFolder, makeFolder } from './run-folder.js';
import { createProgress, fmt, type Output } from './progress.js';
import { guardRunFolder, stepLogger, type MetricLine } from './run-log.js';

export interface ImageTrainOptions extends ImageArgs {
  out?: string;
  resume?: string;
  quiet?: boolean;
  force?: boolean;
}

export interface ImageFinalMetrics {
  step: number;
  phase: 'final';
  loss: number;
  /** Mean E of held-out images (MNIST's held-out split; else the first 1,000 training images). */
  energy_data: number;
  /** Mean E of uniform noise over the data's box: a trained model puts data well below it. */
  energy_noise: number;
  /**
   * Mean E of the model's samples: qualitySamples replay-buffer chains run sampleSteps further
   * (the persistent chains are the model's samples in PCD, as IGEBM and JEM draw theirs).
   */
  energy_samples: number;
  /** Digit-classifier figures of those samples (1-channel 28x28 runs only). */
  classifier_confidence?: number;
  class_histogram?: number[];
  min_class_fraction?: number;
  inception_score?: number;
  quality_samples?: number;
  /** The same figures for short-run samples: qualitySamples chains of sampleSteps from uniform noise. */
  noise_classifier_confidence?: number;
  noise_class_histogram?: number[];
  noise_min_class_fraction?: number;
  noise_inception_score?: number;
  seconds: number;
}

export interface ImageTrainResult {
  outDir: string;
  config: ImageRunConfig;
  step: number;
  final: ImageFinalMetrics | null;
  interrupted: boolean;
}

const FILES = ['config.json', 'metrics.jsonl', 'checkpoint.safetensors', 'model.safetensors', 'samples.png', 'buffer.png', 'chain.png', 'loss.png'];
const RUN_FILES = ['config.json', 'checkpoint.safetensors', 'metrics.jsonl', 'model.safetensors'];
/** Options a --resume may change. */
const RESUMABLE = new Set(['steps', 'logEvery', 'checkpointEvery', 'sampleSteps', 'qualitySamples', 'out', 'resume', 'quiet', 'force', 'dataset']);
const GRID = 64;
const CHAIN_FRAMES = 10;
/** Seeds of the final evaluation, apart from the training's streams (the saved model is untouched). */
const EVAL_SEED_OFFSET = 7919;

const M = ebm.CHECKPOINT_METADATA;

function modelMetadata(config: ImageRunConfig, step: number): Record<string, string> {
  return { format: 'pt', [M.model]: 'ConvEnergyModel', [M.config]: JSON.stringify(config.model), [M.step]: String(step), [M.dataset]: config.dataset, [M.source]: 'cli' };
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

export async function runTrainImage(o: ImageTrainOptions, given: Set<string>, out: Output, deviceOptions?: ebm.DeviceOptions): Promise<ImageTrainResult> {
  const name = o.dataset ?? 'mnist';
  const outDir = o.out ?? (o.resume ? dirname(checkpointPathOf(o.resume)) : join('runs', `${name.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '')}-${stamp()}`));
  makeFolder(outDir, 'the run folder');
  const release = lockFolder(outDir);
  try {
    if (!o.resume) {
      guardRunFolder(outDir, RUN_FILES, o.force, out);
    }
    return await trainIn(o, given, out, outDir, deviceOptions);
  } finally {
    release();
  }
}

/** The configuration: from the command line, or the checkpoint's when resuming (only the schedule may change). */
async function settle(o: ImageTrainOptions, given: Set<string>, data: ebm.ImageSet): Promise<{ config: ImageRunConfig; resume: ResumeState<ImageRunConfig> | null }> {
  const [, c, h, w] = data.images.shape as [number, number, number, number];
  if (h !== w) throw new UsageError(`--dataset ${o.dataset}: images must be square, got ${h}x${w}`);
  const fresh = imageConfigFromArgs(o, given, { channels: c, size: h });
  if (!o.resume) return { config: fresh, resume: null };
  const resume = await readTrainerState(o.resume, checkImageRunConfig);
  const changed = [...given].filter((k) => !RESUMABLE.has(k));
  if (changed.length) {
    resume.dispose();
    throw new UsageError(`--resume continues the checkpoint's run as configured; these options cannot change: ${changed.map((k) => `--${k.replace(/[A-Z]/g, (x) => `-${x.toLowerCase()}`)}`).join(', ')}`);
  }
  const saved = resume.config;
  const m = saved.model;
  if (m.inputChannels !== c || m.imageSize !== h) {
    resume.dispose();
    throw new UsageError(`--dataset ${o.dataset} has [${c}, ${h}, ${w}] images; the checkpoint's model takes [${m.inputChannels}, ${m.imageSize}, ${m.imageSize}]`);
  }
  const pick = <K extends 'steps' | 'logEvery' | 'checkpointEvery' | 'sampleSteps' | 'qualitySamples'>(k: K) => (given.has(k) ? fresh[k] : saved[k]);
  const config: ImageRunConfig = { ...saved, steps: pick('steps'), logEvery: pick('logEvery'), checkpointEvery: pick('checkpointEvery'), sampleSteps: pick('sampleSteps'), qualitySamples: pick('qualitySamples') };
  if (config.steps <= resume.step) {
    resume.dispose();
    throw new UsageError(`the checkpoint is at step ${resume.step} and the run has ${config.steps} steps: nothing to do (give a larger --steps to train on)`);
  }
  return { config, resume };
}

function buildRecipe(config: ImageRunConfig, range: { min: number; max: number }): ebm.ImageEBM {
  const { model: m, recipe: r } = config;
  return ebm.createImageEBM({ ...r, range, channels: m.channels, kernelSize: m.kernelSize, activation: m.activation, inputChannels: m.inputChannels, imageSize: m.imageSize, seed: config.seed });
}

async function trainIn(o: ImageTrainOptions, given: Set<string>, out: Output, outDir: string, deviceOptions?: ebm.DeviceOptions): Promise<ImageTrainResult> {
  const started = performance.now();
  const rt = await ebm.init(deviceOptions);
  const dataset = o.dataset ?? 'mnist';
  let train: ebm.ImageSet;
  try {
    train = await ebm.loadImageDataset(dataset, { split: 'train' });
  } catch (e) {
    throw new CliError(`--dataset ${dataset}: ${oneLine(e)}`);
  }
  const data = ebm.keep(train.images);
  let recipe: ebm.ImageEBM | null = null;
  try {
    const { config, resume } = await settle({ ...o, dataset }, given.add('dataset'), train);
    const startStep = resume?.step ?? 0;
    out.write(`device: ${rt.info.description}${rt.info.isSoftware ? ' (software)' : ''}`);
    out.write(`run: ${describeImageConfig(config)}`);
    out.write(`${resume ? `resuming from ${resume.path} at step ${startStep}, writing to` : 'writing to'} ${outDir}/`);
    // The restarts' uniform noise comes from the global generator: seed it, so a run does not
    // depend on what ran before it in the process (a resume then restores it from the checkpoint).
    ebm.manualSeed(config.seed);
    recipe = buildRecipe(config, train.range);
    const { trainer } = recipe;
    if (resume) {
      try {
        trainer.loadStateDict(resume.state);
      } catch (e) {
        throw new CliError(`checkpoint '${resume.path}' cannot be restored: ${oneLine(e)}`);
      } finally {
        resume.dispose();
      }
    } else for (const f of FILES) rmSync(join(outDir, f), { force: true });
    const metricsPath = join(outDir, 'metrics.jsonl');
    if (!resume) writeFileSync(metricsPath, '');
    writeFileSync(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

    const history: MetricLine[] = [];
    const checkpointPath = join(outDir, 'checkpoint.safetensors');
    const checkpoint = async () => {
      const state = await trainer.stateDict();
      try {
        await saveTrainerState(checkpointPath, { run: config, modelMetadata: modelMetadata(config, state.step), state });
      } finally {
        ebm.disposeTrainerState(state);
      }
    };
    const progress = createProgress(out, { total: config.steps, start: startStep, quiet: !!o.quiet });
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    const log = stepLogger({ total: config.steps, startStep, logEvery: config.logEvery, checkpointEvery: config.checkpointEvery, metricsPath, history, started, progress, checkpoint });
    try {
      await trainer.fit({
        data,
        steps: config.steps - startStep,
        batchSize: config.recipe.batchSize,
        wrap: true,
        seed: config.seed + 1,
        logEvery: config.logEvery,
        signal: stop.signal,
        onStep: log.onStep,
      });
      if (stop.signal.aborted && trainer.steps % config.checkpointEvery !== 0 && trainer.steps !== config.steps) await checkpoint();
    } catch (e) {
      if (e instanceof ebm.NonFiniteLossError) throw new CliError(`training failed at step ${e.step}: ${oneLine(e)}${existsSync(checkpointPath) ? ` The last checkpoint is ${checkpointPath}.` : ''}`);
      throw e;
    } finally {
      progress.stop();
      process.removeListener('SIGINT', onSignal);
    }
    const step = trainer.steps;
    if (step < config.steps) {
      out.write(`interrupted at step ${step}; checkpoint written. Continue with: webgpu-ebm train --resume ${checkpointPath}`);
      return { outDir, config, step, final: null, interrupted: true };
    }
    await ebm.saveSafetensors(recipe.model, join(outDir, 'model.safetensors'), { metadata: { ...modelMetadata(config, step), [M.kind]: 'model' } });
    const final = await evaluate(recipe, config, dataset, train, outDir, history, log.last(), step, started);
    const noise = final.noise_classifier_confidence !== undefined ? ` (short-run from noise: ${final.noise_classifier_confidence.toFixed(3)}, ${(100 * final.noise_min_class_fraction!).toFixed(1)}%, ${final.noise_inception_score!.toFixed(2)})` : '';
    const q = final.classifier_confidence !== undefined ? `; samples: classifier confidence ${final.classifier_confidence.toFixed(3)}, smallest class ${(100 * final.min_class_fraction!).toFixed(1)}%, inception score ${final.inception_score!.toFixed(2)}${noise}` : '';
    out.write(`done in ${final.seconds.toFixed(1)} s: loss ${fmt(final.loss)}, E(held-out) ${fmt(final.energy_data)}, E(noise) ${fmt(final.energy_noise)}, E(samples) ${fmt(final.energy_samples)}${q}`);
    out.write(`wrote ${FILES.map((f) => join(outDir, f)).join(', ')}`);
    return { outDir, config, step, final, interrupted: false };
  } finally {
    recipe?.model.dispose?.();
    data.dispose();
  }
}

/**
 * The model's samples: `n` chains of `steps`, in batches that keep memory bounded, from uniform
 * noise, or continuing rows [0, n) of `from` (a replay buffer, whose rows are in no order: PCD
 * writes its chains back to uniformly drawn rows).
 */
export function sampleImages(recipe: Pick<ebm.ImageEBM, 'sampler' | 'noise'>, n: number, steps: number, seed: number, from?: ebm.Tensor): ebm.Tensor {
  const batch = 256;
  const parts: ebm.Tensor[] = [];
  for (let at = 0; at < n; at += batch) {
    const m = Math.min(batch, n - at);
    parts.push(ebm.keep(ebm.tidy(() => recipe.sampler.sample({ x: from ? from.slice(0, at, at + m).clone() : recipe.noise(m), nSteps: steps, seed: seed + at }))));
  }
  if (parts.length === 1) return parts[0]!;
  const all = ebm.concat(parts, 0);
  for (const p of parts) p.dispose();
  return all;
}

async function evaluate(
  recipe: ebm.ImageEBM,
  config: ImageRunConfig,
  dataset: string,
  train: ebm.ImageSet,
  outDir: string,
  history: MetricLine[],
  last: Record<string, number>,
  step: number,
  started: number,
): Promise<ImageFinalMetrics> {
  const { model } = recipe;
  const { imageSize: s, inputChannels: c } = config.model;
  const seed = config.seed + EVAL_SEED_OFFSET;
  ebm.manualSeed(seed);
  const heldOut = dataset === 'mnist' ? (await ebm.loadImageDataset('mnist', { split: 'heldOut' })).images : ebm.keep(train.images.slice(0, 0, Math.min(1000, train.images.shape[0]!)));
  const buffer = recipe.loss.replayBuffer;
  const fromNoise = sampleImages(recipe, config.qualitySamples, config.sampleSteps, seed);
  // A resumed run's buffer can be smaller than qualitySamples only if bufferSize is: then noise alone.
  const samples = buffer && buffer.shape[0]! >= config.qualitySamples ? sampleImages(recipe, config.qualitySamples, config.sampleSteps, seed + 1, buffer) : fromNoise;
  const [eData, eNoise, eSamples] = ebm.noGrad(() => ebm.tidy(() => [model.forward(heldOut).mean(), model.forward(recipe.noise(256)).mean(), model.forward(samples).mean()].map((t) => ebm.keep(t))));
  const chain = ebm.tidy(() => ebm.keep((recipe.sampler.sample({ x: recipe.noise(1), nSteps: config.sampleSteps, thin: Math.max(1, Math.floor(config.sampleSteps / CHAIN_FRAMES)), returnTrajectory: true, seed: seed + 1 }).trajectory!)));
  const sTop = samples.slice(0, 0, GRID);
  const bTop = buffer ? buffer.slice(0, 0, GRID) : null;
  const [sx, cx, bx, ed, en, es] = await Promise.all([sTop.data(), chain.data(), bTop ? bTop.data() : Promise.resolve(null), eData!.item(), eNoise!.item(), eSamples!.item()]);
  sTop.dispose();
  bTop?.dispose();
  const range: [number, number] = [train.range.min, train.range.max];
  writeFileSync(join(outDir, 'samples.png'), imageGridPng(sx, [c, s, s], Math.min(GRID, samples.shape[0]!), { cols: 8, range, scale: 3 }));
  writeFileSync(join(outDir, 'chain.png'), imageGridPng(cx, [c, s, s], chain.shape[1]!, { cols: chain.shape[1]!, range, scale: 3 }));
  if (bx && bTop) writeFileSync(join(outDir, 'buffer.png'), imageGridPng(bx, [c, s, s], bTop.shape[0]!, { cols: 8, range, scale: 3 }));
  let quality: Partial<ImageFinalMetrics> = {};
  if (c === 1 && s === 28) {
    const classifier = await ebm.loadDigitClassifier();
    const q = await ebm.scoreDigits(classifier, samples);
    const r = (v: number) => Number(v.toFixed(4));
    quality = { classifier_confidence: r(q.meanConfidence), class_histogram: q.histogram.map(r), min_class_fraction: r(q.minClassFraction), inception_score: r(q.inceptionScore), quality_samples: q.n };
    if (samples !== fromNoise) {
      const z = await ebm.scoreDigits(classifier, fromNoise);
      Object.assign(quality, { noise_classifier_confidence: r(z.meanConfidence), noise_class_histogram: z.histogram.map(r), noise_min_class_fraction: r(z.minClassFraction), noise_inception_score: r(z.inceptionScore) });
    }
    classifier.dispose?.();
  }
  for (const t of new Set([heldOut, samples, fromNoise, chain, eData!, eNoise!, eSamples!])) t.dispose();
  const final: ImageFinalMetrics = { step, phase: 'final', loss: last.loss ?? NaN, energy_data: ed, energy_noise: en, energy_samples: es, ...quality, seconds: Number(((performance.now() - started) / 1000).toFixed(2)) };
  appendFileSync(join(outDir, 'metrics.jsonl'), `${JSON.stringify(final)}\n`);
  const xs = history.map((r) => r.step!);
  const col = (k: string) => history.map((r) => (typeof r[k] === 'number' ? r[k]! : NaN));
  writeFileSync(
    join(outDir, 'loss.png'),
    curvesFigure(
      [
        { yLabel: 'loss', series: [{ label: 'loss', x: xs, y: col('loss'), color: [160, 190, 235], width: 1.2, hideLabel: true }, { label: 'loss (smoothed)', x: xs, y: smooth(col('loss'), 0.8), color: [31, 90, 200], width: 2.2 }] },
        { yLabel: 'mean energy', series: [{ label: 'E(data)', x: xs, y: col('posEnergy'), color: [34, 139, 34] }, { label: 'E(negatives)', x: xs, y: col('negEnergy'), color: [220, 80, 30] }] },
      ],
      { title: `${dataset}: image EBM training (PCD-${config.recipe.langevinSteps}, lr ${config.recipe.lr})`, xLabel: 'step' },
    ),
  );
  return final;
}

/** Whether a model or checkpoint file holds an image model (a ConvEnergyModel), by its metadata. */
export function isImageModelFile(path: string): boolean {
  try {
    return readChecked(checkpointPathOf(path)).parsed.metadata[M.model] === 'ConvEnergyModel';
  } catch {
    return false; // the 2-D path reports the file's problem
  }
}
