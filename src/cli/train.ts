// `webgpu-ebm train`: trains an energy-based model on a built-in 2-D dataset and writes a run
// folder:
//   config.json             the full configuration (every default filled in)
//   metrics.jsonl           one JSON line per logged step, then one with the final evaluation
//   checkpoint.safetensors  the trainer's whole state (see checkpoint.ts), every checkpointEvery steps
//   model.safetensors       the trained model, PyTorch's names, its config in __metadata__
//   samples.npy             the model's samples the landscape plot shows
//   landscape.png           the energy on a grid (one batched forward) with data and samples
//   loss.png                the loss and the mean energies over training
// The training itself is the library's EBMTrainer.fit (the data order, the steps, the readbacks
// on logged steps); this file is configuration, files and plots around it. A resumed run loads
// the trainer's stateDict() from the checkpoint and takes exactly the steps the uninterrupted
// run would have.
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ebm from '../index.js';
import { checkpointPathOf, readCheckpoint, saveCheckpoint, saveModel, type ResumeState } from './checkpoint.js';
import { lockFolder, makeFolder } from './run-folder.js';
import { configFromArgs, describeConfig, type TrainArgs, type TrainConfig } from './config.js';
import { heldOutLogLikelihood } from './eval.js';
import { createEngine, seedFor, streamSeed, type Engine } from './engine.js';
import { CliError, oneLine, UsageError } from './errors.js';
import { encodeNpy } from './formats.js';
import { gridPoints } from './grid.js';
import { curvesFigure, landscapeFigure, smooth } from './plot/plots.js';
import { createProgress, fmt, type Output } from './progress.js';
import { guardRunFolder, stepLogger, type MetricLine } from './run-log.js';

export interface TrainCliOptions extends TrainArgs {
  out?: string;
  resume?: string;
  quiet?: boolean;
  /** Train into a folder that holds an earlier run, replacing its files. */
  force?: boolean;
}

export interface TrainResult {
  outDir: string;
  config: TrainConfig;
  /** The last step trained (less than config.steps when interrupted). */
  step: number;
  final: FinalMetrics | null;
  seconds: number;
  interrupted: boolean;
}

export interface FinalMetrics {
  step: number;
  phase: 'final';
  /** The last logged training metrics. */
  loss: number;
  /** Mean E over the evaluation data (a fixed, seeded draw of the dataset). */
  energy_data: number;
  /** Mean E over the model's samples (samples.npy). */
  energy_samples: number;
  /** Eight gaussians / gaussian mixture: modes holding >= 5% of the samples, of how many. */
  modes_covered?: number;
  modes?: number;
  /** The fraction of samples within 4 std of some mode. */
  near_mode_fraction?: number;
  /** Per-mode fraction of samples, in the dataset's mode order. */
  mode_fractions?: number[];
  /** Mean log p(x) of held-out data (nats per point; p = exp(-E) / Z, log Z by AIS). */
  heldout_log_likelihood: number;
  /** Its standard error (AIS's, over the chains). */
  heldout_log_likelihood_se: number;
  /** The AIS estimate of log Z. */
  log_z: number;
  /**
   * log Z by quadrature on the landscape's grid (the plot's square only): a cross-check of
   * log_z that misses any mass the model puts outside the square.
   */
  log_z_grid: number;
  seconds: number;
}

/** Options a --resume may change; any other training option must match the checkpoint's. */
const RESUMABLE = new Set(['steps', 'logEvery', 'checkpointEvery', 'sampleSteps', 'aisChains', 'aisTemperatures', 'out', 'resume', 'quiet', 'force']);

/** Where a run that stopped on a NaN or inf loss keeps its state (the parameters from before the bad step). */
export const NONFINITE_CHECKPOINT = 'checkpoint-nonfinite.safetensors';

const FILES = ['metrics.jsonl', 'model.safetensors', 'checkpoint.safetensors', 'samples.npy', 'landscape.png', 'loss.png', 'config.json'];
/** The files that show a folder holds a run (a second run into it needs --resume or --force). */
const RUN_FILES = ['config.json', 'checkpoint.safetensors', 'metrics.jsonl', 'model.safetensors', NONFINITE_CHECKPOINT];

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** The dataset's modes, where it has them (for mode coverage). */
function modesOf(dataset: ebm.DatasetName): { centres: number[][]; std: number } | null {
  if (dataset === 'eight-gaussians') {
    const s = Math.SQRT1_2;
    const unit = [[1, 0], [-1, 0], [0, 1], [0, -1], [s, s], [s, -s], [-s, s], [-s, -s]];
    return { centres: unit.map(([x, y]) => [2 * x!, 2 * y!]), std: 0.02 };
  }
  if (dataset === 'gaussian-mixture') {
    return { centres: Array.from({ length: 8 }, (_, k) => [Math.cos((2 * Math.PI * k) / 8), Math.sin((2 * Math.PI * k) / 8)]), std: 0.05 };
  }
  return null;
}

/**
 * How well samples cover a mixture's modes, by the train issue's criterion: a sample is "near"
 * a mode when within 4 std of it; a mode is covered when at least 5% of all samples are near it.
 */
export function modeCoverage(samples: Float32Array, dataset: ebm.DatasetName): Pick<FinalMetrics, 'modes_covered' | 'modes' | 'near_mode_fraction' | 'mode_fractions'> {
  const modes = modesOf(dataset);
  if (!modes) return {};
  const n = samples.length / 2;
  const near = new Array<number>(modes.centres.length).fill(0);
  for (let i = 0; i < n; i++) {
    modes.centres.forEach(([cx, cy], k) => {
      if (Math.hypot(samples[2 * i]! - cx!, samples[2 * i + 1]! - cy!) <= 4 * modes.std) near[k]!++;
    });
  }
  const fractions = near.map((c) => c / n);
  return {
    modes_covered: fractions.filter((f) => f >= 0.05).length,
    modes: modes.centres.length,
    near_mode_fraction: Number(fractions.reduce((a, b) => a + b, 0).toFixed(4)),
    mode_fractions: fractions.map((f) => Number(f.toFixed(4))),
  };
}


function readMetrics(path: string): MetricLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as MetricLine];
      } catch {
        return []; // a line cut short by a kill
      }
    });
}

/** Settles the configuration: from the command line, or from the checkpoint when resuming. */
async function settle(o: TrainCliOptions, given: Set<string>): Promise<{ config: TrainConfig; resume: ResumeState | null }> {
  if (!o.resume) return { config: configFromArgs(o), resume: null };
  const resume = await readCheckpoint(o.resume);
  const fresh = configFromArgs(o);
  const saved = resume.config;
  // A changed training option would make the resumed run a different run: refuse it.
  const diffs: string[] = [];
  const compare = (flag: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`--${flag} (checkpoint: ${JSON.stringify(b)})`);
  };
  // Each training option, and the part of the config it sets.
  const part: Record<string, (c: TrainConfig) => unknown> = {
    dataset: (c) => c.dataset,
    model: (c) => c.model.type,
    hidden: (c) => (c.model.type === 'mlp' ? c.model.hiddenDims : [c.model.hiddenDim, c.model.nBlocks]),
    activation: (c) => c.model.activation,
    loss: (c) => c.loss.type,
    kSteps: (c) => ('kSteps' in c.loss ? c.loss.kSteps : null),
    energyReg: (c) => ('energyRegWeight' in c.loss ? c.loss.energyRegWeight : null),
    noiseRatio: (c) => ('noiseRatio' in c.loss ? c.loss.noiseRatio : null),
    interpolant: (c) => ('interpolant' in c.loss ? c.loss.interpolant : null),
    sampler: (c) => c.sampler.type,
    stepSize: (c) => c.sampler.stepSize,
    noiseScale: (c) => ('noiseScale' in c.sampler ? c.sampler.noiseScale : null),
    momentum: (c) => ('momentum' in c.sampler ? c.sampler.momentum : null),
    replicas: (c) => ('nReplicas' in c.sampler ? c.sampler.nReplicas : null),
    maxTemperature: (c) => ('maxTemperature' in c.sampler ? c.sampler.maxTemperature : null),
    lr: (c) => c.optimizer.lr,
    batchSize: (c) => c.batchSize,
    seed: (c) => c.seed,
    mixedPrecision: (c) => c.mixedPrecision,
  };
  for (const key of given) {
    if (RESUMABLE.has(key)) continue;
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const get = part[key];
    if (!get) diffs.push(`--${flag}`);
    else compare(flag, get(fresh), get(saved));
  }
  if (diffs.length) {
    resume.dispose();
    throw new UsageError(`--resume continues the checkpoint's run as configured; these options cannot change: ${diffs.join(', ')} (allowed with --resume: --steps --log-every --checkpoint-every --sample-steps --ais-chains --ais-temperatures --out --quiet)`);
  }
  const config: TrainConfig = {
    ...saved,
    steps: given.has('steps') ? fresh.steps : saved.steps,
    logEvery: given.has('logEvery') ? fresh.logEvery : saved.logEvery,
    checkpointEvery: given.has('checkpointEvery') ? fresh.checkpointEvery : saved.checkpointEvery,
    plot: {
      ...saved.plot,
      sampleSteps: given.has('sampleSteps') ? fresh.plot.sampleSteps : saved.plot.sampleSteps,
      aisChains: given.has('aisChains') ? fresh.plot.aisChains : saved.plot.aisChains,
      aisTemperatures: given.has('aisTemperatures') ? fresh.plot.aisTemperatures : saved.plot.aisTemperatures,
    },
  };
  if (config.steps <= resume.step) {
    resume.dispose();
    throw new UsageError(`the checkpoint is at step ${resume.step} and the run has ${config.steps} steps: nothing to do (give a larger --steps to train on)`);
  }
  return { config, resume };
}

/** The model's samples for the plot and the evaluation: the training's chains, from N(0, I). */
export function drawSamples(engine: Pick<Engine, 'sampler'>, n: number, nSteps: number, seed: number): ebm.Tensor {
  return engine.sampler.sample({ dim: 2, nSamples: n, nSteps, seed });
}

/** The data order of a checkpoint written before trainer states carried it: the same wrapped order, at its step. */
function legacyDataOrder(config: TrainConfig, rows: number, step: number): ebm.DataLoaderState {
  const flat = step * config.batchSize;
  return { rows, batchSize: config.batchSize, shuffle: true, dropLast: false, wrap: true, seed: streamSeed(config, 'batches'), epoch: Math.floor(flat / rows), offset: flat % rows };
}

export async function runTrain(o: TrainCliOptions, given: Set<string>, out: Output, deviceOptions?: ebm.DeviceOptions): Promise<TrainResult> {
  const started = performance.now();
  const args = configFromArgs(o); // a bad command line fails before any device is made
  // The folder is made, written and locked before the device: a folder that cannot be written,
  // or that another run is using, fails at once.
  const outDir = o.out ?? (o.resume ? dirname(checkpointPathOf(o.resume)) : join('runs', `${args.dataset}-${args.loss.type}-${timestamp()}`));
  makeFolder(outDir, 'the run folder');
  const release = lockFolder(outDir);
  try {
    if (!o.resume) {
      guardRunFolder(outDir, RUN_FILES, o.force, out);
    }
    return await trainIn(o, given, out, outDir, started, deviceOptions);
  } finally {
    release();
  }
}

async function trainIn(o: TrainCliOptions, given: Set<string>, out: Output, outDir: string, started: number, deviceOptions?: ebm.DeviceOptions): Promise<TrainResult> {
  const rt = await ebm.init(deviceOptions);
  const { config, resume } = await settle(o, given);
  const startStep = resume?.step ?? 0;
  out.write(`device: ${rt.info.description}${rt.info.isSoftware ? ' (software)' : ''}`);
  out.write(`run: ${describeConfig(config)}`);
  out.write(`${resume ? `resuming from ${resume.path} at step ${startStep}, writing to` : 'writing to'} ${outDir}/`);

  // An older checkpoint resumes as it always did: a fresh loss stream seeded by its step.
  const engine = createEngine(config, { legacyResumeStep: resume && !resume.complete ? startStep : undefined });
  const { trainer } = engine;
  const data = ebm.keep(ebm.makeDataset(config.dataset, { nSamples: config.datasetSize, seed: seedFor(config, 'data') }));
  if (resume) {
    try {
      trainer.loadStateDict(resume.complete ? resume.state : { ...resume.state, data: legacyDataOrder(config, data.shape[0]!, startStep) });
    } catch (e) {
      engine.dispose();
      data.dispose();
      throw new CliError(`checkpoint '${resume.path}' cannot be restored: ${oneLine(e)}`);
    } finally {
      resume.dispose();
    }
  }
  const metricsPath = join(outDir, 'metrics.jsonl');
  // A resumed run keeps the lines up to its checkpoint (a killed run may have logged past it).
  const kept = resume ? readMetrics(metricsPath).filter((m) => m.phase === undefined && m.step <= startStep) : [];
  if (!resume) for (const f of [...FILES, NONFINITE_CHECKPOINT]) rmSync(join(outDir, f), { force: true }); // an earlier run's files (--force)
  writeFileSync(metricsPath, kept.map((m) => `${JSON.stringify(m)}\n`).join(''));
  writeFileSync(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const progress = createProgress(out, { total: config.steps, start: startStep, quiet: !!o.quiet });
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  const checkpointPath = join(outDir, 'checkpoint.safetensors');
  const checkpoint = async () => {
    const state = await trainer.stateDict();
    try {
      await saveCheckpoint(checkpointPath, { config, state });
    } finally {
      ebm.disposeTrainerState(state);
    }
  };
  const history: MetricLine[] = [...kept];
  const log = stepLogger({ total: config.steps, startStep, logEvery: config.logEvery, checkpointEvery: config.checkpointEvery, metricsPath, history, started, progress, checkpoint });
  try {
    await trainer.fit({
      data,
      steps: config.steps - startStep,
      batchSize: config.batchSize,
      // Batches run on across epoch ends, each epoch in its own seeded order.
      wrap: true,
      seed: streamSeed(config, 'batches'),
      logEvery: config.logEvery,
      signal: stop.signal,
      onStep: log.onStep,
    });
    const step = trainer.steps;
    if (stop.signal.aborted && step % config.checkpointEvery !== 0 && step !== config.steps) await checkpoint();
  } catch (e) {
    try {
      if (e instanceof ebm.NonFiniteLossError) throw new CliError(`training failed at step ${e.step}: ${oneLine(e)} ${await keepNonFinite(trainer, config, outDir, checkpointPath)}`);
      throw e;
    } finally {
      engine.dispose();
      data.dispose();
    }
  } finally {
    progress.stop();
    process.removeListener('SIGINT', onSignal);
  }
  const step = trainer.steps;
  if (step < config.steps) {
    out.write(`interrupted at step ${step}; checkpoint written. Continue with: webgpu-ebm train --resume ${checkpointPath}`);
    engine.dispose();
    data.dispose();
    return { outDir, config, step, final: null, seconds: (performance.now() - started) / 1000, interrupted: true };
  }

  // ---- the trained model, its evaluation and the plots ----
  await saveModel(join(outDir, 'model.safetensors'), engine.model, config, step);
  const final = await evaluate(engine, config, data, outDir, history, log.last(), step, started);
  engine.dispose();
  data.dispose();
  const cov = final.modes_covered !== undefined ? `, modes covered ${final.modes_covered}/${final.modes}, ${(100 * final.near_mode_fraction!).toFixed(1)}% of samples within 4 std of a mode` : '';
  out.write(`done in ${final.seconds.toFixed(1)} s: loss ${fmt(final.loss)}, E(data) ${fmt(final.energy_data)}, E(samples) ${fmt(final.energy_samples)}${cov}`);
  out.write(`held-out log-likelihood ${final.heldout_log_likelihood.toFixed(3)} +- ${final.heldout_log_likelihood_se.toFixed(3)} nats per point (log Z ${final.log_z.toFixed(3)} by AIS, ${final.log_z_grid.toFixed(3)} on the plot's grid)`);
  out.write(`wrote ${FILES.map((f) => join(outDir, f)).join(', ')}`);
  return { outDir, config, step, final, seconds: final.seconds, interrupted: false };
}

/**
 * A run stopped by a NaN or inf loss: the bad updates were skipped on the GPU, so the trainer
 * still holds the parameters and optimizer state from before the bad step. They go to their own
 * file (the periodic checkpoint.safetensors, if any, stays as it was); the returned sentence names
 * what exists.
 */
async function keepNonFinite(trainer: ebm.EBMTrainer, config: TrainConfig, outDir: string, checkpointPath: string): Promise<string> {
  const path = join(outDir, NONFINITE_CHECKPOINT);
  const last = existsSync(checkpointPath) ? ` The last periodic checkpoint is ${checkpointPath}.` : '';
  try {
    const state = await trainer.stateDict();
    try {
      await saveCheckpoint(path, { config, state });
    } finally {
      ebm.disposeTrainerState(state);
    }
    return `The parameters and optimizer state from before the bad step are saved in ${path}.${last}`;
  } catch (e) {
    return `Saving the parameters to ${path} failed too (${oneLine(e)}).${last || ' No checkpoint was written.'}`;
  }
}

async function evaluate(
  engine: Engine,
  config: TrainConfig,
  data: ebm.Tensor,
  outDir: string,
  history: MetricLine[],
  last: Record<string, number>,
  step: number,
  started: number,
): Promise<FinalMetrics> {
  const { extent, grid, samples: nSamples, sampleSteps } = config.plot;
  const evalData = ebm.keep(ebm.makeDataset(config.dataset, { nSamples: Math.min(1000, config.datasetSize), seed: seedFor(config, 'evalData') }));
  const samples = ebm.keep(drawSamples(engine, nSamples, sampleSteps, seedFor(config, 'eval')));
  // One batched forward over the whole grid; three readbacks started together.
  const [energyGrid, eData, eSamples, gridLogZ] = ebm.noGrad(() =>
    ebm.tidy(() => {
      const pts = gridPoints(extent, grid);
      const e = engine.model.forward(pts);
      // The grid's cells are (2 extent / (grid - 1))^2 (gridPoints spans the square's edges).
      const cell = 2 * Math.log((2 * extent) / (grid - 1));
      return [e, engine.model.forward(evalData).mean(), engine.model.forward(samples).mean(), e.neg().logsumexp().add(cell)].map((t) => ebm.keep(t));
    }),
  ) as [ebm.Tensor, ebm.Tensor, ebm.Tensor, ebm.Tensor];
  const [gridE, sampleXY, dataXY, eD, eS, logZGrid] = await Promise.all([energyGrid.data(), samples.data(), evalData.data(), eData.item(), eSamples.item(), gridLogZ.item()]);
  for (const t of [energyGrid, eData, eSamples, samples, gridLogZ]) t.dispose();
  writeFileSync(join(outDir, 'samples.npy'), encodeNpy(sampleXY, [nSamples, 2]));

  // The held-out log-likelihood, after the model is saved and with its own seed stream (the
  // training's streams and the saved model are untouched). Its AIS reads back once.
  const ll = await heldOutLogLikelihood(engine.model, evalData, { ...config.plot, seed: seedFor(config, 'eval', 1) });
  evalData.dispose();
  const final: FinalMetrics = {
    step,
    phase: 'final',
    loss: last.loss ?? NaN,
    energy_data: eD,
    energy_samples: eS,
    ...modeCoverage(sampleXY, config.dataset),
    heldout_log_likelihood: Number(ll.logLikelihood.toFixed(5)),
    heldout_log_likelihood_se: Number(ll.standardError.toFixed(5)),
    log_z: Number(ll.logZ.toFixed(5)),
    log_z_grid: Number(logZGrid.toFixed(5)),
    seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  };
  appendFileSync(join(outDir, 'metrics.jsonl'), `${JSON.stringify(final)}\n`);

  writeFileSync(
    join(outDir, 'landscape.png'),
    landscapeFigure({
      energy: gridE,
      nx: grid,
      ny: grid,
      xLim: [-extent, extent],
      yLim: [-extent, extent],
      title: `${config.dataset}: energy after ${step} steps`,
      pointSets: [
        { points: dataXY, label: 'data', color: [255, 255, 255], radius: 1.4, alpha: 0.9, outline: true },
        { points: sampleXY, label: `model samples (${config.sampler.type}, ${sampleSteps} steps)`, color: [235, 64, 52], radius: 1.6, alpha: 0.85 },
      ],
    }),
  );
  const rows = history.filter((h) => h.phase === undefined);
  const xs = rows.map((r) => r.step);
  const col = (k: string) => rows.map((r) => (typeof r[k] === 'number' ? (r[k] as number) : NaN));
  const energies = [
    { label: 'E(data)', x: xs, y: col('posEnergy'), color: [34, 139, 34] as const },
    ...(engine.trainer.metricNames.includes('negEnergy') ? [{ label: 'E(negatives)', x: xs, y: col('negEnergy'), color: [220, 80, 30] as const }] : []),
  ];
  writeFileSync(
    join(outDir, 'loss.png'),
    curvesFigure(
      [
        {
          yLabel: 'loss',
          series: [
            { label: 'loss', x: xs, y: col('loss'), color: [160, 190, 235], width: 1.2, hideLabel: true },
            { label: 'loss (smoothed)', x: xs, y: smooth(col('loss'), 0.8), color: [31, 90, 200], width: 2.2 },
          ],
        },
        { yLabel: 'mean energy', series: energies },
      ],
      { title: `${config.dataset}: training (${config.loss.type}, lr ${config.optimizer.lr})`, xLabel: 'step' },
    ),
  );
  return final;
}

