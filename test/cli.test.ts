// The `webgpu-ebm` CLI, run in-process through run() (the bin's main() is run() plus the exit
// status) on small runs in temporary folders: train writes every file of a run folder; the
// model file loads with loadSafetensors and reproduces the logged final energies; an
// interrupted run resumes from the step it stopped at; the PNGs decode and are not blank;
// sample writes .npy, .csv and .png; bad options, corrupt checkpoints and a missing adapter
// fail with one line and a non-zero status.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main, run, type RunIO } from '../src/cli/main.js';
import { createEngine, seedFor } from '../src/cli/engine.js';
import { readCheckpoint } from '../src/cli/checkpoint.js';
import { decodeNpy } from '../src/cli/formats.js';
import type { TrainConfig } from '../src/cli/config.js';
import * as ebm from '../src/index.js';

interface Captured extends RunIO {
  out: string[];
  err: string[];
}

function capture(onLine?: (line: string) => void, stream?: RunIO['stream']): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stream,
    write: (l) => {
      out.push(l);
      onLine?.(l);
    },
    error: (l) => err.push(l),
  };
}

async function cli(args: string[], io = capture()): Promise<{ code: number; out: string[]; err: string[] }> {
  const code = await run(args, io, undefined, { keepDevice: true });
  return { code, out: io.out, err: io.err };
}

// Small and quick: a 2-32-32-1 MLP, CD-10, batch 64.
// The final held-out log-likelihood's AIS at its smallest useful size (its accuracy is cli-eval.test.ts's).
const SMALL = ['--hidden', '32,32', '--batch-size', '64', '--k-steps', '10', '--sample-steps', '20', '--ais-chains', '16', '--ais-temperatures', '3', '--quiet'];

interface MetricLine {
  step: number;
  phase?: string;
  loss: number;
  posEnergy?: number;
  negEnergy?: number;
  energy_data?: number;
  energy_samples?: number;
  modes_covered?: number;
}

const metricsOf = (dir: string): MetricLine[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as MetricLine);

function decodePng(path: string): PNG {
  return PNG.sync.read(readFileSync(path));
}

/** The variance of the pixels' grey levels: 0 for a blank (uniform) image. */
function greyVariance(png: PNG): number {
  let s = 0;
  let s2 = 0;
  const n = png.width * png.height;
  for (let i = 0; i < n; i++) {
    const g = (png.data[4 * i]! + png.data[4 * i + 1]! + png.data[4 * i + 2]!) / 3;
    s += g;
    s2 += g * g;
  }
  return s2 / n - (s / n) ** 2;
}

/** Distinct colours in the image: a heat map has many, a frame-and-text image few. */
function distinctColours(png: PNG): number {
  const seen = new Set<number>();
  for (let i = 0; i < png.width * png.height; i++) seen.add((png.data[4 * i]! << 16) | (png.data[4 * i + 1]! << 8) | png.data[4 * i + 2]!);
  return seen.size;
}

let pcdBase: Promise<string> | undefined;
/**
 * The folder of a finished 4-step persistent-CD, mixed-precision run (replay buffer and loss
 * scale in its checkpoint), trained once on first use and never changed afterwards: the resume
 * tests each continue a copy of it instead of training their own first half.
 */
function pcdRun(): Promise<string> {
  pcdBase ??= (async () => {
    const dir = join(root, 'pcd-base');
    const r = await cli(['train', '--loss', 'pcd', '--mixed-precision', '--steps', '4', '--log-every', '2', '--out', dir, ...SMALL]);
    expect(r.err.join('\n')).toBe('');
    expect(r.code).toBe(0);
    return dir;
  })();
  return pcdBase;
}

/** A copy of the shared PCD run in root/name (resuming writes beside the checkpoint). */
async function pcdCopy(name: string): Promise<string> {
  const dir = join(root, name);
  cpSync(await pcdRun(), dir, { recursive: true });
  return dir;
}

/** A stream that says it is a terminal (what the progress bar draws on), keeping what is drawn. */
function fakeTerminal(): { stream: RunIO['stream']; drawn: () => string } {
  let drawn = '';
  const tty = Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        drawn += String(chunk);
        cb();
      },
    }),
    { isTTY: true, columns: 160, cursorTo: () => true, clearLine: () => true, moveCursor: () => true },
  );
  return { stream: tty as unknown as RunIO['stream'], drawn: () => drawn };
}

let root: string;
let runDir: string;
/** The shared run's output: on a terminal (no --quiet), so it also shows the progress bar. */
let terminal: ReturnType<typeof fakeTerminal>;
let runOut: string[];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'webgpu-ebm-cli-'));
  runDir = join(root, 'run');
  // One run serves the file, the bar and the sample tests (each cli() call starts a device and
  // compiles its pipelines afresh: a run costs seconds however few its steps).
  terminal = fakeTerminal();
  const r = await cli(['train', '--steps', '12', '--log-every', '4', '--checkpoint-every', '4', '--out', runDir, ...SMALL.filter((a) => a !== '--quiet')], capture(undefined, terminal.stream));
  expect(r.err.join('\n')).toBe('');
  expect(r.code).toBe(0);
  runOut = r.out;
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('webgpu-ebm train', () => {
  test('writes every file of the run folder', () => {
    for (const f of ['config.json', 'metrics.jsonl', 'model.safetensors', 'checkpoint.safetensors', 'samples.npy', 'landscape.png', 'loss.png'])
      expect(existsSync(join(runDir, f)), f).toBe(true);
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as TrainConfig;
    expect(config).toMatchObject({ dataset: 'eight-gaussians', steps: 12, batchSize: 64, logEvery: 4, model: { type: 'mlp', hiddenDims: [32, 32] }, loss: { type: 'cd', kSteps: 10 } });
    const lines = metricsOf(runDir);
    // One line per logged step, then the final evaluation.
    expect(lines.map((l) => l.step)).toEqual([4, 8, 12, 12]);
    for (const l of lines.slice(0, 3)) {
      expect(l.phase).toBeUndefined();
      for (const k of ['loss', 'posEnergy', 'negEnergy'] as const) expect(Number.isFinite(l[k]), `${k} at step ${l.step}`).toBe(true);
    }
    const final = lines.at(-1)!;
    expect(final).toMatchObject({ phase: 'final', modes: 8 });
    expect(final.loss).toBe(lines[2]!.loss);
    const { data, shape } = decodeNpy(new Uint8Array(readFileSync(join(runDir, 'samples.npy'))));
    expect(shape).toEqual([1000, 2]);
    expect(data.every(Number.isFinite)).toBe(true);
  });

  test('model.safetensors loads with loadSafetensors and reproduces the logged final energies', async () => {
    const bytes = new Uint8Array(readFileSync(join(runDir, 'model.safetensors')));
    const { metadata, tensors } = ebm.parseSafetensors(bytes);
    // PyTorch's names, and the model config in the metadata.
    expect([...tensors.keys()].sort()).toEqual(['network.0.bias', 'network.0.weight', 'network.2.bias', 'network.2.weight', 'output_layer.bias', 'output_layer.weight']);
    expect(tensors.get('network.0.weight')!.shape).toEqual([32, 2]);
    // The same keys as the browser demo's checkpoints: the class and its options.
    expect(metadata['webgpu-ebm.model']).toBe('MLPEnergyModel');
    expect(JSON.parse(metadata['webgpu-ebm.config']!)).toEqual({ inputDim: 2, hiddenDims: [32, 32], activation: 'silu', useSpectralNorm: false });
    expect(metadata.format).toBe('pt');

    await ebm.init();
    const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [32, 32], activation: 'silu' });
    await ebm.loadSafetensors(model, bytes);
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as TrainConfig;
    const final = metricsOf(runDir).at(-1)!;
    const evalData = ebm.makeDataset('eight-gaussians', { nSamples: 1000, seed: seedFor(config, 'evalData') });
    const samples = decodeNpy(new Uint8Array(readFileSync(join(runDir, 'samples.npy'))));
    const eData = await ebm.noGrad(() => model.forward(evalData).mean()).item();
    const eSamples = await ebm.noGrad(() => model.forward(ebm.tensor(samples.data, samples.shape)).mean()).item();
    expect(eData).toBeCloseTo(final.energy_data!, 5);
    expect(eSamples).toBeCloseTo(final.energy_samples!, 5);
    ebm.shutdown();
  });

  test('the PNGs decode and are not blank', () => {
    const land = decodePng(join(runDir, 'landscape.png'));
    expect([land.width, land.height]).toEqual([760, 660]);
    expect(greyVariance(land)).toBeGreaterThan(100);
    // The heat map's gradient and the points: far more colours than axes and text alone.
    expect(distinctColours(land)).toBeGreaterThan(500);
    const loss = decodePng(join(runDir, 'loss.png'));
    expect(loss.width).toBe(760);
    expect(greyVariance(loss)).toBeGreaterThan(10);
    expect(distinctColours(loss)).toBeGreaterThan(20);
  });

  test('an interrupted run resumes from the step it stopped at', async () => {
    const dir = join(root, 'interrupted');
    // SIGINT after step 5's log line: the run stops after that step and writes a checkpoint.
    const io = capture((l) => {
      if (/^step\s+5\//.test(l)) process.emit('SIGINT');
    });
    const first = await cli(['train', '--steps', '20', '--log-every', '5', '--checkpoint-every', '10', '--out', dir, ...SMALL], io);
    expect(first.code).toBe(0);
    const stopped = first.out.find((l) => l.startsWith('interrupted at step'));
    expect(stopped).toMatch(/^interrupted at step 5; checkpoint written\. Continue with: webgpu-ebm train --resume .*checkpoint\.safetensors$/);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
    const ckptMeta = ebm.parseSafetensors(new Uint8Array(readFileSync(join(dir, 'checkpoint.safetensors')))).metadata;
    expect(ckptMeta['webgpu-ebm.step']).toBe('5');
    // A killed run may have logged past its checkpoint; resuming drops those lines.
    writeFileSync(join(dir, 'metrics.jsonl'), `${readFileSync(join(dir, 'metrics.jsonl'), 'utf8')}{"step":6,"loss":1}\n{"step":7,"lo`);

    const second = await cli(['train', '--resume', join(dir, 'checkpoint.safetensors')]);
    expect(second.err.join('\n')).toBe('');
    expect(second.code).toBe(0);
    expect(second.out.some((l) => l.includes('resuming from') && l.includes('at step 5'))).toBe(true);
    // Plain lines (not a TTY), from step 10 on: the run continued at step 6.
    const logged = second.out.filter((l) => l.startsWith('step ')).map((l) => Number(/^step\s+(\d+)/.exec(l)![1]));
    expect(logged).toEqual([10, 15, 20]);
    const lines = metricsOf(dir);
    expect(lines.map((l) => l.step)).toEqual([5, 10, 15, 20, 20]);
    expect(lines.at(-1)!.phase).toBe('final');
    // The optimizer continued too: Adam's step counter is at 20, not 15.
    await ebm.init();
    const { tensors, metadata } = await ebm.readSafetensors(join(dir, 'checkpoint.safetensors'));
    expect(metadata['webgpu-ebm.step']).toBe('20');
    expect(await tensors.get('optimizer.state.0.step')!.item()).toBe(20);
    ebm.shutdown();
  });

  test('persistent CD and mixed precision resume with their replay buffer and loss scale', async () => {
    const dir = await pcdCopy('pcd');
    await ebm.init();
    const { tensors, metadata } = await ebm.readSafetensors(join(dir, 'checkpoint.safetensors'));
    expect(tensors.get('trainer.replay_buffer')!.shape).toEqual([8192, 2]);
    const saved = await tensors.get('trainer.replay_buffer')!.data();
    // The scale starts at 2^16 and only doubles or halves: a power of two, saved with the run.
    expect(Number.isInteger(Math.log2(JSON.parse(metadata['webgpu-ebm.trainer']!).scaler.scale))).toBe(true);
    ebm.shutdown();
    // Repeating the run's own options is fine; only changes are refused.
    const resumed = await cli(['train', '--resume', dir, '--steps', '6', '--hidden', '32,32', '--loss', 'pcd', '--batch-size', '64', '--quiet']);
    expect(resumed.err.join('\n')).toBe('');
    expect(metricsOf(dir).map((l) => l.step)).toEqual([2, 4, 6, 6]);
    await ebm.init();
    // The buffer continued: most rows are the saved ones (each step rewrites only a batch of them).
    const after = await (await ebm.readSafetensors(join(dir, 'checkpoint.safetensors'))).tensors.get('trainer.replay_buffer')!.data();
    let same = 0;
    for (let i = 0; i < after.length; i += 2) if (after[i] === saved[i] && after[i + 1] === saved[i + 1]) same++;
    expect(same).toBeGreaterThan(8192 - 2 * 64 - 1);
    ebm.shutdown();
  });

  test('right after --resume restores a checkpoint, weights, Adam moments, replay buffer and loss scale equal the file to the bit', async () => {
    // The restore path of `train --resume` (readCheckpoint, createEngine, loadStateDict), stopped
    // before any step: a resume that rebuilt the model from its seed, or dropped the optimizer's
    // moments or the scaler's scale, differs here at once.
    const dir = join(root, 'pcd');
    await ebm.init();
    const { tensors, metadata } = await ebm.readSafetensors(join(dir, 'checkpoint.safetensors'));
    const resume = await readCheckpoint(dir);
    const engine = createEngine(resume.config);
    engine.trainer.loadStateDict(resume.state);
    resume.dispose();
    const now = await engine.trainer.stateDict();
    const bits = async (t: ebm.Tensor) => new Uint32Array((await t.data()).buffer);
    let compared = 0;
    for (const [name, t] of now.model) {
      expect(tensors.has(name), `the checkpoint holds ${name}`).toBe(true);
      expect(await bits(t), name).toEqual(await bits(tensors.get(name)!));
      compared++;
    }
    expect(compared).toBe(6);
    let moments = 0;
    for (const [index, entry] of Object.entries(now.optimizer.state))
      for (const [key, v] of Object.entries(entry)) {
        const saved = tensors.get(`optimizer.state.${index}.${key}`);
        if (v instanceof ebm.Tensor) {
          expect(await bits(v), `optimizer.state.${index}.${key}`).toEqual(await bits(saved!));
          if (key.startsWith('exp_avg')) moments++;
        }
      }
    expect(moments, 'exp_avg and exp_avg_sq of every parameter').toBe(12);
    expect(await bits(now.loss!.replayBuffer!)).toEqual(await bits(tensors.get('trainer.replay_buffer')!));
    const savedScaler = JSON.parse(metadata['webgpu-ebm.trainer']!).scaler as ebm.GradScalerState;
    expect(now.scaler!.scale).toBe(savedScaler.scale);
    expect(now.scaler!.growthTracker).toBe(savedScaler.growthTracker);
    expect(now.step).toBe(Number(metadata['webgpu-ebm.step']));
    ebm.disposeTrainerState(now);
    engine.dispose();
    for (const t of tensors.values()) t.dispose();
    ebm.shutdown();
  });

  test('a resumed run is bit-identical: 12 steps straight and 4 + --resume to 12 write the same model.safetensors', { timeout: 600_000 }, async () => {
    // Persistent CD in mixed precision: the replay buffer, its row generator, the loss's call
    // counter, the grad scaler, Adam and the data order all have to continue exactly. The first
    // 4 steps are the shared PCD run's (a finished run, final evaluation included, as a user
    // would resume it); 8 steps after the resume show every piece of state carried on (each
    // enters every step, so a lost one differs at the first step after it).
    const args = ['--loss', 'pcd', '--mixed-precision', '--log-every', '2', ...SMALL];
    const straight = join(root, 'straight');
    const split = await pcdCopy('split');
    const t0 = performance.now();
    expect((await cli(['train', '--steps', '12', '--out', straight, ...args])).code).toBe(0);
    const t1 = performance.now();
    const resumed = await cli(['train', '--resume', split, '--steps', '12', '--quiet']);
    expect(resumed.err.join('\n')).toBe('');
    expect(resumed.code).toBe(0);
    console.log(`resume test: 12 steps straight ${((t1 - t0) / 1000).toFixed(1)} s, 4 + 8 resumed ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    expect(readFileSync(join(split, 'model.safetensors')).equals(readFileSync(join(straight, 'model.safetensors')))).toBe(true);
    // The logged metrics after the resume are the straight run's, number for number.
    const after = (dir: string) => metricsOf(dir).filter((l) => l.phase === undefined && l.step > 4).map(({ step, loss, posEnergy, negEnergy }) => ({ step, loss, posEnergy, negEnergy }));
    expect(after(split)).toEqual(after(straight));
    expect(after(split).map((l) => l.step)).toEqual([6, 8, 10, 12]);
  });

  test('a checkpoint in the older format (model, optimizer, scaler and replay buffer only) still resumes', async () => {
    const dir = await pcdCopy('legacy');
    // Rewrite the checkpoint as the CLI wrote it before trainer states: the trainer's JSON held the scaler only.
    await ebm.init();
    const path = join(dir, 'checkpoint.safetensors');
    const { tensors, metadata } = await ebm.readSafetensors(path);
    const trainer = JSON.parse(metadata['webgpu-ebm.trainer']!) as { scaler: unknown; loss?: unknown; data?: unknown; random?: unknown };
    expect(Object.keys(trainer).sort()).toEqual(['data', 'loss', 'random', 'scaler', 'scheduler']);
    await ebm.saveSafetensors(tensors, path, { metadata: { ...metadata, 'webgpu-ebm.trainer': JSON.stringify({ scaler: trainer.scaler }) } });
    const saved = await tensors.get('trainer.replay_buffer')!.data();
    ebm.shutdown();
    const resumed = await cli(['train', '--resume', dir, '--steps', '6', '--quiet']);
    expect(resumed.err.join('\n')).toBe('');
    expect(resumed.code).toBe(0);
    expect(metricsOf(dir).map((l) => l.step)).toEqual([2, 4, 6, 6]);
    await ebm.init();
    const after = await (await ebm.readSafetensors(path)).tensors.get('trainer.replay_buffer')!.data();
    let same = 0;
    for (let i = 0; i < after.length; i += 2) if (after[i] === saved[i] && after[i + 1] === saved[i + 1]) same++;
    expect(same).toBeGreaterThan(8192 - 2 * 64 - 1);
    ebm.shutdown();
  });

  test('a resumed run refuses changed training options', async () => {
    const r = await cli(['train', '--resume', join(runDir, 'checkpoint.safetensors'), '--steps', '16', '--lr', '0.5']);
    expect(r.err).toHaveLength(1);
    expect(r.code, r.err[0]).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/--lr \(checkpoint: 0\.005\)/);
    const done = await cli(['train', '--resume', runDir]);
    expect(done.code).toBe(2);
    expect(done.err[0]).toMatch(/checkpoint is at step 12 and the run has 12 steps/);
  });

  test('a terminal gets a progress bar with step, loss, energies and steps/s', () => {
    // The shared run (beforeAll) wrote to a terminal without --quiet.
    expect(terminal.drawn()).toMatch(/train .* 12\/12 \| loss -?\d+\.\d+ \| E\(data\) -?\d+\.\d+ \| E\(neg\) -?\d+\.\d+ \| \d+\.\d steps\/s/);
    // No plain step lines when the bar is drawn.
    expect(runOut.some((l) => l.startsWith('step '))).toBe(false);
  });
});

describe('webgpu-ebm sample', () => {
  test('writes .npy, .csv and .png', async () => {
    const model = join(runDir, 'model.safetensors');
    const npy = join(root, 'out', 'samples.npy');
    let r = await cli(['sample', '--checkpoint', model, '--n', '300', '--steps', '20', '--out', npy]);
    expect(r.err.join('\n')).toBe('');
    expect(r.code).toBe(0);
    const { data, shape } = decodeNpy(new Uint8Array(readFileSync(npy)));
    expect(shape).toEqual([300, 2]);
    expect(data.every(Number.isFinite)).toBe(true);

    const csv = join(root, 'out', 'samples.csv');
    r = await cli(['sample', '--checkpoint', model, '--n', '50', '--steps', '5', '--out', csv]);
    expect(r.code).toBe(0);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('x0,x1');
    expect(rows).toHaveLength(51);
    expect(rows.slice(1).every((row) => row.split(',').length === 2 && row.split(',').every((v) => Number.isFinite(Number(v))))).toBe(true);

    const png = join(root, 'out', 'samples.png');
    // From the training checkpoint this time (its optimizer tensors are ignored), with HMC.
    r = await cli(['sample', '--checkpoint', join(runDir, 'checkpoint.safetensors'), '--n', '200', '--steps', '5', '--sampler', 'hmc', '--out', png]);
    expect(r.err.join('\n')).toBe('');
    expect(r.code).toBe(0);
    const img = decodePng(png);
    expect(greyVariance(img)).toBeGreaterThan(100);
    expect(distinctColours(img)).toBeGreaterThan(500);
  });

  test('the same seed gives the same samples', async () => {
    const a = join(root, 'a.npy');
    const b = join(root, 'b.npy');
    for (const out of [a, b]) expect((await cli(['sample', '--checkpoint', join(runDir, 'model.safetensors'), '--n', '64', '--steps', '10', '--seed', '7', '--out', out])).code).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  test('a PyTorch-style file without metadata loads from config.json beside it, or from its tensor names', async () => {
    // Strip the metadata: what torch's safetensors save_file writes.
    await ebm.init();
    const { tensors } = await ebm.readSafetensors(join(runDir, 'model.safetensors'));
    const bare = join(root, 'bare', 'model.safetensors');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(root, 'bare'));
    await ebm.saveSafetensors(tensors, bare);
    ebm.shutdown();
    const r = await cli(['sample', '--checkpoint', bare, '--n', '10', '--steps', '2', '--out', join(root, 'bare', 's.csv')]);
    expect(r.err.join('\n')).toBe('');
    expect(r.out[0]).toMatch(/MLPEnergyModel \(config from tensor names\)/);
  });
});

describe('errors are one line and a non-zero exit', () => {
  const oneLineError = async (args: string[], code: number, pattern: RegExp) => {
    const r = await cli(args);
    expect(r.code, args.join(' ')).toBe(code);
    expect(r.err, args.join(' ')).toHaveLength(1);
    expect(r.err[0]).not.toContain('\n');
    expect(r.err[0]).toMatch(pattern);
  };

  test('unknown dataset, option, value or command lists the valid ones', async () => {
    await oneLineError(['train', '--dataset', 'nine-gaussians'], 2, /unknown dataset 'nine-gaussians' \(valid: gaussian-mixture, eight-gaussians, two-moons, swiss-roll, circle, checkerboard, pinwheel, grid\)/);
    await oneLineError(['train', '--model', 'transformer'], 2, /unknown model 'transformer' \(valid: mlp, resnet\)/);
    await oneLineError(['train', '--loss', 'mle'], 2, /unknown loss 'mle' \(valid: cd, pcd, dsm, ssm, nce, eqm\)/);
    await oneLineError(['train', '--sampler', 'gibbs'], 2, /unknown sampler 'gibbs' \(valid: langevin, hmc, mala, pt, gd, nesterov, flow\)/);
    await oneLineError(['train', '--bogus', '1'], 2, /unknown option '--bogus' for train \(valid: --dataset --model .*--quiet\)/);
    await oneLineError(['train', '--steps', 'many'], 2, /--steps must be an integer >= 1, got 'many'/);
    await oneLineError(['train', '--lr=-1'], 2, /--lr must be a positive number, got '-1'/);
    await oneLineError(['train', '--lr', '-1'], 2, /--lr needs a value \(write one that starts with '-' as --lr=-X\)/);
    await oneLineError(['train', '--steps'], 2, /--steps needs a value/);
    await oneLineError(['sample', '--checkpoint', 'x.safetensors', '--out', 'x.txt'], 2, /unknown format '\.txt' \(valid: \.npy, \.csv, \.png\)/);
    await oneLineError(['sample'], 2, /sample needs --checkpoint/);
    await oneLineError(['fly'], 2, /unknown command 'fly' \(valid: train, sample, eval, info, bench/);
  });

  test('unreadable and corrupt checkpoints', async () => {
    const corrupt = join(root, 'corrupt.safetensors');
    writeFileSync(corrupt, Buffer.from('this is not a checkpoint at all'));
    await oneLineError(['sample', '--checkpoint', corrupt], 1, /checkpoint '.*corrupt\.safetensors' is not a valid safetensors file \(corrupt or truncated\?\): safetensors: header length .* exceeds/);
    // A truncated real checkpoint.
    const truncated = join(root, 'truncated.safetensors');
    const whole = readFileSync(join(runDir, 'model.safetensors'));
    writeFileSync(truncated, whole.subarray(0, whole.length - 100));
    await oneLineError(['sample', '--checkpoint', truncated], 1, /is not a valid safetensors file \(corrupt or truncated\?\)/);
    await oneLineError(['train', '--resume', corrupt], 1, /is not a valid safetensors file/);
    await oneLineError(['sample', '--checkpoint', join(root, 'missing.safetensors')], 1, /cannot read checkpoint '.*missing\.safetensors': no such file/);
    await oneLineError(['train', '--resume', join(runDir, 'model.safetensors')], 1, /is not a training checkpoint \(it is a model file; resume from checkpoint\.safetensors/);
  });

  test('no WebGPU adapter says how to get one', async () => {
    const io = capture();
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    // The other tests keep one device between commands; this one starts without any.
    ebm.shutdown();
    for (const args of [['info'], ['train', '--steps', '1', '--out', join(root, 'none')]]) {
      io.err.length = 0;
      const code = await run(args, io, { gpu: noAdapter });
      expect(code).toBe(1);
      expect(io.err).toHaveLength(1);
      expect(io.err[0]).toMatch(/no WebGPU adapter found.*lavapipe.*bookworm-backports/);
    }
  });

  test("the bin's main() sets the exit status", async () => {
    const before = process.exitCode;
    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await main(['train', '--dataset', 'nope']);
      expect(process.exitCode).toBe(2);
    } finally {
      process.stderr.write = write;
      process.exitCode = before;
    }
  });
});

describe('webgpu-ebm info', () => {
  test('shows the adapter, features, limits and whether f16 is on', async () => {
    const r = await cli(['info']);
    expect(r.code).toBe(0);
    const text = r.out.join('\n');
    expect(text).toMatch(/^adapter: /m);
    expect(text).toMatch(/^features: /m);
    expect(text).toMatch(/^f16: (on|fallback) \(/m);
    expect(text).toMatch(/^maxStorageBufferBindingSize: \d+$/m);
  });
});
