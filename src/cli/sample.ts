// `webgpu-ebm sample`: loads a model (model.safetensors or a training checkpoint; its config from
// the file's metadata, a config.json beside it, or its tensor names), runs the sampler's chains
// on the GPU and writes the samples as .npy, .csv, or a .png of them over the energy landscape.
import { writeFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import * as ebm from '../index.js';
import { loadModel } from './checkpoint.js';
import { buildSampler, choice, DATASET_EXTENT, defaultSamplerConfig, posInt, posNumber, SAMPLERS, type SamplerConfig } from './config.js';
import { CliError, UsageError } from './errors.js';
import { encodeCsv, encodeNpy } from './formats.js';
import { gridPoints } from './grid.js';
import { landscapeFigure } from './plot/plots.js';
import { makeFolder } from './run-folder.js';
import type { Output } from './progress.js';

export const SAMPLE_FORMATS = ['.npy', '.csv', '.png'] as const;

export interface SampleCliOptions {
  checkpoint?: string;
  n?: string;
  steps?: string;
  out?: string;
  sampler?: string;
  stepSize?: string;
  seed?: string;
  activation?: string;
}

export interface SampleResult {
  out: string;
  samples: Float32Array;
  shape: number[];
  meanEnergy: number;
}

export async function runSample(o: SampleCliOptions, out: Output, deviceOptions?: ebm.DeviceOptions): Promise<SampleResult> {
  if (!o.checkpoint) throw new UsageError('sample needs --checkpoint PATH (a model.safetensors or checkpoint.safetensors)');
  const n = posInt('n', o.n, 1000);
  const nSteps = posInt('steps', o.steps, 200);
  const seed = posInt('seed', o.seed, 0, 0);
  const path = o.out ?? 'samples.npy';
  const format = extname(path).toLowerCase();
  if (!(SAMPLE_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--out '${path}': unknown format '${format || '(none)'}' (valid: ${SAMPLE_FORMATS.join(', ')})`);
  await ebm.init(deviceOptions);
  const loaded = await loadModel(o.checkpoint, { activation: o.activation });
  const dim = loaded.modelConfig.inputDim;
  const trained = loaded.samplerConfig;
  const type = choice('sampler', o.sampler, SAMPLERS, trained?.type ?? 'langevin');
  const base: SamplerConfig = trained?.type === type ? trained : type === 'langevin' ? { type, stepSize: 0.01, noiseScale: 1 } : type === 'hmc' ? { type, stepSize: 0.05, nLeapfrogSteps: 5 } : defaultSamplerConfig(type);
  const samplerConfig: SamplerConfig = { ...base, stepSize: posNumber('step-size', o.stepSize, base.stepSize) };
  const sampler = buildSampler(samplerConfig, loaded.model);
  out.write(`model: ${loaded.model.constructor.name} (config from ${loaded.configSource}); ${n} chains x ${nSteps} ${type} steps (step size ${samplerConfig.stepSize}), seed ${seed}`);
  const x = ebm.keep(sampler.sample({ dim, nSamples: n, nSteps, seed }));
  const e = ebm.keep(ebm.noGrad(() => loaded.model.forward(x).mean()));
  const [data, meanEnergy] = await Promise.all([x.data(), e.item()]);
  e.dispose();
  // NaN samples (from NaN weights, or chains that blew up) are no samples: say so, write nothing.
  let bad = 0;
  for (let i = 0; i < n; i++) if (!data.subarray(i * dim, (i + 1) * dim).every(Number.isFinite)) bad++;
  // Finite samples whose energy is not (weights so large that E overflows) come from a broken
  // model just the same.
  if (bad || !Number.isFinite(meanEnergy)) {
    x.dispose();
    if (!bad)
      throw new CliError(`the model's mean energy over the ${n} samples is ${meanEnergy}, not finite: its weights overflow (a run that diverged?); nothing written to '${path}' (check the checkpoint)`);
    throw new CliError(
      `${bad} of ${n} samples are not finite (NaN or inf): the chains diverged or the model's weights are not finite (mean energy ${meanEnergy}); nothing written to '${path}' (try a smaller --step-size, or check the checkpoint)`,
    );
  }
  try {
    if (dirname(path) !== '.') makeFolder(dirname(path), '--out folder');
    if (format === '.npy') writeFileSync(path, encodeNpy(data, [n, dim]));
    else if (format === '.csv') writeFileSync(path, encodeCsv(data, dim));
    else {
      if (dim !== 2) throw new CliError(`--out ${path}: a .png shows 2-D samples; this model's input has ${dim} dimensions (write .npy or .csv)`);
      writeFileSync(path, await samplesPng(loaded.model, data, loaded.metadata[ebm.CHECKPOINT_METADATA.dataset], type, nSteps));
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot write '${path}': ${(e as Error).message}`);
  } finally {
    x.dispose();
  }
  out.write(`wrote ${n} samples to ${path} (mean energy ${meanEnergy.toFixed(4)})`);
  return { out: path, samples: data, shape: [n, dim], meanEnergy };
}

/** The samples over the model's energy on a grid (one batched forward). */
async function samplesPng(model: ebm.BaseEnergyFunction, xy: Float32Array, dataset: string | undefined, sampler: string, nSteps: number): Promise<Uint8Array> {
  let extent = DATASET_EXTENT[dataset as ebm.DatasetName];
  if (extent === undefined) {
    const abs = Array.from(xy, Math.abs).filter(Number.isFinite).sort((a, b) => a - b);
    extent = Math.max(1, Math.ceil((abs[Math.floor(0.99 * (abs.length - 1))] ?? 1) * 1.25 * 2) / 2);
  }
  const g = 128;
  const energy = ebm.keep(
    ebm.noGrad(() =>
      ebm.tidy(() => model.forward(gridPoints(extent, g))),
    ),
  );
  const grid = await energy.data();
  energy.dispose();
  return landscapeFigure({
    energy: grid,
    nx: g,
    ny: g,
    xLim: [-extent, extent],
    yLim: [-extent, extent],
    title: `samples: ${xy.length / 2} chains, ${nSteps} ${sampler} steps`,
    pointSets: [{ points: xy, label: 'model samples', color: [235, 64, 52], radius: 1.6, alpha: 0.85 }],
  });
}
