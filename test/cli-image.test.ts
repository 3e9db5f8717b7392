// The image run of the CLI (`train --dataset mnist`, src/cli/image-train.ts), in-process through
// run(): a tiny ConvEnergyModel (channels 4,8) for a few steps, so the files, the metrics, resume
// and the errors are checked in seconds; the real run is the documented 15-minute command.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { run, type RunIO } from '../src/cli/main.js';
import * as ebm from '../src/index.js';
import { device } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'ebm-cli-image-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  await device();
});

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: RunIO = { write: (l) => out.push(l), error: (l) => err.push(l) };
  const code = await run(args, io, undefined, { keepDevice: true });
  return { code, out, err };
}

const TINY = ['--dataset', 'mnist', '--channels', '4,8', '--batch-size', '16', '--k-steps', '2', '--sample-steps', '4', '--quality-samples', '32', '--log-every', '2', '--quiet'];
const png = (path: string) => PNG.sync.read(readFileSync(path));
const metrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

// One 4-step run serves the file checks, the resume comparison (it is the run straight
// through) and sample/eval: each run costs a device, a pipeline compile and the final quality
// pass, however few its steps.
const runDir = join(root, 'run');
let runResult: { code: number; out: string[]; err: string[] };
beforeAll(async () => {
  runResult = await cli(['train', ...TINY, '--steps', '4', '--checkpoint-every', '2', '--out', runDir]);
}, 300_000);

test('train --dataset mnist writes the run folder: grids, loss plot, metrics with quality figures, a model the seed class loads', async () => {
  const dir = runDir;
  const r = runResult;
  expect(r.err).toEqual([]);
  expect(r.code).toBe(0);
  for (const f of ['config.json', 'metrics.jsonl', 'checkpoint.safetensors', 'model.safetensors', 'samples.png', 'buffer.png', 'chain.png', 'loss.png']) expect(existsSync(join(dir, f)), f).toBe(true);
  // Rows of 8 digits, 28 px at scale 3 with a 2 px gutter: 8 * (84 + 2) + 2 wide.
  const grid = png(join(dir, 'samples.png'));
  expect([grid.width, grid.height]).toEqual([690, 4 * 86 + 2]); // the 32 scored samples: 4 rows of 8
  expect(png(join(dir, 'buffer.png')).width).toBe(690);
  expect(png(join(dir, 'chain.png')).height).toBe(84 + 4);
  const lines = metrics(dir);
  expect(lines.filter((l) => l.phase === undefined).map((l) => l.step)).toEqual([2, 4]);
  const final = lines.at(-1)!;
  expect(final.phase).toBe('final');
  for (const k of ['energy_data', 'energy_noise', 'energy_samples', 'loss']) expect(Number.isFinite(final[k]), k).toBe(true);
  expect(final.classifier_confidence).toBeGreaterThan(0);
  expect(final.classifier_confidence).toBeLessThanOrEqual(1);
  const hist = final.class_histogram as number[];
  expect(hist).toHaveLength(10);
  expect(hist.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
  expect(final.quality_samples).toBe(32);
  // The headline samples continue replay-buffer chains; short-run samples from noise are scored beside them.
  expect(final.noise_classifier_confidence).toBeGreaterThan(0);
  expect(final.noise_classifier_confidence).toBeLessThanOrEqual(1);
  expect((final.noise_class_histogram as number[]).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
  // model.safetensors: ConvEnergyModel's options in the metadata, strict load, same energies as the run's checkpoint.
  const bytes = new Uint8Array(readFileSync(join(dir, 'model.safetensors')));
  const meta = ebm.parseSafetensors(bytes).metadata;
  const M = ebm.CHECKPOINT_METADATA;
  expect(meta[M.model]).toBe('ConvEnergyModel');
  expect(JSON.parse(meta[M.config]!)).toEqual({ inputChannels: 1, imageSize: 28, channels: [4, 8], kernelSize: 3, activation: 'silu' });
  await device(); // the command released its device
  const model = new ebm.ConvEnergyModel(JSON.parse(meta[M.config]!) as ebm.ConvEnergyModelOptions);
  await ebm.loadSafetensors(model, bytes, { strict: true });
  const e = ebm.noGrad(() => model.forward(ebm.zeros([2, 1, 28, 28])));
  expect((await e.data()).every(Number.isFinite)).toBe(true);
  e.dispose();
});

test('an image run resumed from its checkpoint writes the same model bytes as the run straight through', async () => {
  const straight = runDir; // 4 steps, checkpoints every 2 (beforeAll)
  expect(runResult.code).toBe(0);
  const split = join(root, 'split');
  expect((await cli(['train', ...TINY, '--steps', '2', '--out', split])).code).toBe(0);
  const r = await cli(['train', '--resume', split, '--steps', '4', '--quiet']);
  expect(r.err).toEqual([]);
  expect(r.code).toBe(0);
  expect(Buffer.compare(readFileSync(join(split, 'model.safetensors')), readFileSync(join(straight, 'model.safetensors')))).toBe(0);
});

test('image runs refuse what does not apply, naming the option', async () => {
  const bad = async (args: string[]) => {
    const r = await cli(['train', ...args, '--out', join(root, `bad-${args.join('')}`)]);
    expect(r.code).toBe(2);
    return r.err.join('\n');
  };
  expect(await bad(['--dataset', 'mnist', '--hidden', '8,8'])).toMatch(/--hidden does not apply to an image run/);
  expect(await bad(['--dataset', 'mnist', '--image-size', '32'])).toMatch(/--image-size 32 does not match the dataset's 28x28 images/);
  expect(await bad(['--dataset', 'mnist', '--model', 'mlp'])).toMatch(/--model must be conv/);
  expect(await bad(['--dataset', 'mnist', '--channels', '4,x'])).toMatch(/--channels must be a comma-separated list/);
  expect(await bad(['--dataset', 'eight-gaussians', '--channels', '4,8'])).toMatch(/--channels, --image-size and --quality-samples are for image datasets/);
});

test('a users .npy of the wrong rank fails with one line naming the file and the shape', async () => {
  const path = join(root, 'flat.npy');
  writeFileSync(path, ebm.serializeNpy(new Float32Array(12), [3, 4]));
  const r = await cli(['train', '--dataset', path, '--steps', '2', '--quiet', '--out', join(root, 'flat-run')]);
  expect(r.code).toBe(1);
  expect(r.err.join('\n')).toMatch(/flat\.npy.*\[3, 4\]/);
});

test('sample and eval take an image run model: a digit grid, an .npy of [n, 1, 28, 28], the classifier figures', async () => {
  const model = join(runDir, 'model.safetensors');
  expect(existsSync(model)).toBe(true); // from beforeAll
  const grid = join(root, 'digits.png');
  let r = await cli(['sample', '--checkpoint', model, '--n', '16', '--steps', '3', '--out', grid]);
  expect(r.err).toEqual([]);
  expect(png(grid).width).toBe(8 * 86 + 2);
  expect(png(grid).height).toBe(2 * 86 + 2);
  const npy = join(root, 'digits.npy');
  r = await cli(['sample', '--checkpoint', model, '--n', '5', '--steps', '3', '--out', npy]);
  expect(r.code).toBe(0);
  const arr = ebm.parseNpy(new Uint8Array(readFileSync(npy)));
  expect(arr.shape).toEqual([5, 1, 28, 28]);
  // Chains are clamped to the data's box [-1, 1].
  expect(Array.from(arr.data as Float32Array).every((v) => v >= -1 && v <= 1)).toBe(true);
  r = await cli(['eval', '--checkpoint', model, '--n', '16']);
  expect(r.err).toEqual([]);
  const json = JSON.parse(r.out.at(-1)!) as Record<string, number>;
  expect(json.samples).toBe(16);
  expect(json.classifier_confidence).toBeGreaterThan(0);
  expect(Number.isFinite(json.energy_heldout) && Number.isFinite(json.energy_noise)).toBe(true);
  expect((await cli(['sample', '--checkpoint', model, '--out', join(root, 'x.csv')])).err.join('')).toMatch(/--out must end in \.png .* or \.npy/);
});
