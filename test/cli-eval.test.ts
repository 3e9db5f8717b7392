// The CLI's new losses, samplers and held-out log-likelihood: `train --loss nce|eqm` runs and writes
// the log-likelihood (nats, with its standard error) into the final metrics; `eval --checkpoint`
// prints it, and its log Z agrees with quadrature of the model's own energy on a fine grid; an
// NCE run resumed from its checkpoint (which carries c) ends on the uninterrupted run's model,
// byte for byte; bad options fail with one line naming the option. Runs are small (a 2-16-1 MLP,
// a few dozen steps, a small AIS).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { run, type RunIO } from '../src/cli/main.js';
import { loadModel } from '../src/cli/checkpoint.js';
import * as ebm from '../src/index.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ebm-cli-eval-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: RunIO = { write: (l) => out.push(l), error: (l) => err.push(l) };
  const code = await run(args, io, undefined, { keepDevice: true });
  return { code, out, err };
}

const SMALL = ['--hidden', '16', '--batch-size', '64', '--sample-steps', '10', '--ais-chains', '128', '--ais-temperatures', '20', '--quiet'];

interface Final {
  phase: string;
  log_z_grid: number;
  heldout_log_likelihood: number;
  heldout_log_likelihood_se: number;
  log_z: number;
}

const finalOf = (dir: string): Final => {
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
  return JSON.parse(lines.at(-1)!) as Final;
};

/** log of the integral of exp(-E) over [-L, L]^2, E the model's on an n x n midpoint grid (one forward), float64 logsumexp. */
async function gridLogZ(model: ebm.BaseEnergyFunction, L: number, n: number): Promise<number> {
  const h = (2 * L) / n;
  const pts = new Float32Array(2 * n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      pts[2 * (i * n + j)] = -L + (i + 0.5) * h;
      pts[2 * (i * n + j) + 1] = -L + (j + 0.5) * h;
    }
  const e = await ebm.noGrad(() => model.forward(ebm.tensor(pts, [n * n, 2]))).data();
  let m = -Infinity;
  for (const v of e) m = Math.max(m, -v);
  let s = 0;
  for (const v of e) s += Math.exp(-v - m);
  return m + Math.log(s) + 2 * Math.log(h);
}

describe('train --loss nce and eval', () => {
  // One 40-step NCE run: its final metrics and eval are checked, and it is the uninterrupted run
  // the resumed one must reproduce (a run costs a device and a pipeline compile, however short).
  const NCE = ['train', '--loss', 'nce', '--dataset', 'gaussian-mixture'];
  let dir: string;
  let r: { code: number; out: string[]; err: string[] };
  beforeAll(async () => {
    dir = tmp();
    r = await cli([...NCE, '--steps', '40', '--out', dir, ...SMALL]);
  }, 300_000);

  test('the final metrics hold the held-out log-likelihood; eval prints it, its log Z within 4 standard errors of grid quadrature', async () => {
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/NCE nu=1/);
    expect(r.out.join('\n')).toMatch(/held-out log-likelihood -?\d+\.\d{3} \+- \d+\.\d{3} nats per point/);
    const f = finalOf(dir);
    expect(f.phase).toBe('final');
    expect(Number.isFinite(f.heldout_log_likelihood)).toBe(true);
    expect(f.heldout_log_likelihood_se).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).loss).toEqual({ type: 'nce', noiseRatio: 1, noiseScaleFactor: 1.2 });

    const e = await cli(['eval', '--checkpoint', join(dir, 'model.safetensors'), '--ais-chains', '256', '--ais-temperatures', '25']);
    expect(e.err).toEqual([]);
    expect(e.code).toBe(0);
    expect(e.out[1]).toMatch(/^gaussian-mixture: held-out log-likelihood -?\d+\.\d{4} \+- \d+\.\d{4} nats per point \(1000 points; log Z/);
    const metrics = JSON.parse(e.out.at(-1)!.replace(/^metrics: /, '')) as Record<string, number>;
    expect(metrics.heldout_log_likelihood).toBeCloseTo(-metrics.energy_data! - metrics.log_z!, 5);
    // The model's own log Z by quadrature on a 600 x 600 grid over [-6, 6]^2 (the data sit within
    // [-1.2, 1.2]^2; an NCE model's energy rises away from them).
    await ebm.init();
    const { model } = await loadModel(join(dir, 'model.safetensors'));
    const exact = await gridLogZ(model, 6, 600);
    expect(Math.abs(metrics.log_z! - exact)).toBeLessThan(4 * metrics.heldout_log_likelihood_se! + 0.02);
    // The run's own cross-check: log Z on the plot's grid, within the square [-2, 2]^2, is at most the whole integral.
    expect(f.log_z_grid).toBeLessThan(exact + 1e-3);
  });

  test('a resumed NCE run (its checkpoint carries c) ends on the uninterrupted run\'s model, byte for byte', async () => {
    const whole = dir; // the 40-step run of beforeAll
    expect(r.code).toBe(0);
    const split = tmp();
    // The final log-likelihood is not what this checks: the smallest AIS (the AIS runs after the
    // model is final, so its size does not change the model's bytes).
    const tiny = [...SMALL, '--ais-chains', '2', '--ais-temperatures', '1'];
    expect((await cli([...NCE, '--steps', '20', '--out', split, ...tiny])).code).toBe(0);
    const resumed = await cli(['train', '--resume', join(split, 'checkpoint.safetensors'), '--steps', '40', '--checkpoint-every', '10', '--quiet']);
    expect(resumed.err).toEqual([]);
    expect(Buffer.compare(readFileSync(join(split, 'model.safetensors')), readFileSync(join(whole, 'model.safetensors')))).toBe(0);
  });
});

describe('train --sampler mala|pt|gd|nesterov|flow', () => {
  // CD's negatives from each sampler: a few steps each, to show the choice is wired through (its
  // statistics are the samplers' own tests); the config records the sampler with its defaults.
  const TINY = ['--hidden', '8', '--batch-size', '32', '--k-steps', '3', '--steps', '3', '--sample-steps', '3', '--ais-chains', '2', '--ais-temperatures', '1', '--quiet'];
  test.each([
    ['mala', [], { type: 'mala', stepSize: 0.01 }, /MALA h=0\.01/],
    ['pt', ['--replicas', '3', '--max-temperature', '5'], { type: 'pt', stepSize: 0.01, nReplicas: 3, maxTemperature: 5 }, /parallel tempering \(MALA h=0\.01, 3 replicas to T=5\)/],
    // EqM draws no chain in training: the gd run trains with it (the cosine path), the sampler draws the plot's samples.
    ['gd', ['--loss', 'eqm', '--interpolant', 'cosine'], { type: 'gd', stepSize: 0.02 }, /run: .*EqM cosine/],
    ['nesterov', ['--momentum', '0.5'], { type: 'nesterov', stepSize: 0.005, momentum: 0.5 }, /Nesterov h=0\.005 mu=0\.5/],
    ['flow', ['--step-size', '0.5'], { type: 'flow', stepSize: 0.5 }, /gradient flow over \[0, 0\.5\]/],
  ] as [string, string[], object, RegExp][])('%s', async (sampler, extra, config, described) => {
    const dir = tmp();
    const r = await cli(['train', '--sampler', sampler, ...extra, '--out', dir, ...TINY]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(described);
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(saved.sampler).toEqual(config);
    if (sampler === 'gd') expect(saved.loss).toEqual({ type: 'eqm', interpolant: 'cosine', ctThreshold: 0.8, ctMultiplier: 4 });
    expect(Number.isFinite(finalOf(dir).heldout_log_likelihood)).toBe(true);
    if (sampler === 'nesterov') {
      // sample takes the trained sampler from the model file, or another one by name.
      const s = await cli(['sample', '--checkpoint', join(dir, 'model.safetensors'), '--n', '16', '--steps', '3', '--sampler', 'mala', '--out', join(dir, 'mala.npy')]);
      expect(s.err).toEqual([]);
      expect(s.out[0]).toMatch(/16 chains x 3 mala steps \(step size 0\.01\)/);
    }
  });
});

describe('bad options: one line, exit status 2', () => {
  test.each([
    [['train', '--loss', 'cd', '--noise-ratio', '2'], "webgpu-ebm train: --noise-ratio is an option of --loss nce (this run's loss is cd)"],
    [['train', '--loss', 'eqm', '--interpolant', 'spline'], "webgpu-ebm train: unknown interpolant 'spline' (valid: linear, cosine, vp)"],
    [['train', '--loss', 'nce', '--noise-ratio', '0'], "webgpu-ebm train: --noise-ratio must be a positive number, got '0'"],
    [['train', '--ais-chains', '1'], "webgpu-ebm train: --ais-chains must be an integer >= 2, got '1'"],
    [['train', '--loss', 'mle'], "webgpu-ebm train: unknown loss 'mle' (valid: cd, pcd, dsm, ssm, nce, eqm)"],
    [['train', '--momentum', '0.5'], "webgpu-ebm train: --momentum is an option of --sampler nesterov (this run's sampler is langevin)"],
    [['train', '--sampler', 'nesterov', '--momentum', '1'], "webgpu-ebm train: --momentum must be in [0, 1), got '1'"],
    [['train', '--sampler', 'pt', '--replicas', '1'], "webgpu-ebm train: --replicas must be an integer >= 2, got '1'"],
    [['train', '--sampler', 'pt', '--max-temperature', '1'], "webgpu-ebm train: --max-temperature must be > 1, got '1'"],
    [['train', '--sampler', 'hmc', '--noise-scale', '0.1'], "webgpu-ebm train: --noise-scale is an option of --sampler langevin (this run's sampler is hmc)"],
    [['eval'], 'webgpu-ebm eval: eval needs --checkpoint PATH (a model.safetensors or checkpoint.safetensors)'],
    [['eval', '--checkpoint', 'x.safetensors', '--steps', '3'], /^webgpu-ebm eval: unknown option '--steps' for eval \(valid: --checkpoint --dataset --n --seed --ais-chains --ais-temperatures --activation\)$/],
  ] as [string[], string | RegExp][])('%j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    if (typeof message === 'string') expect(r.err[0]).toBe(message);
    else expect(r.err[0]).toMatch(message);
  });

  test('--help lists eval and the new options', async () => {
    const r = await cli(['--help']);
    const text = r.out.join('\n');
    for (const s of ['eval     a trained model', '--noise-ratio X', '--interpolant NAME', '--ais-chains N', 'nce (noise-', 'eqm (equilibrium matching)', 'pt (parallel', '--momentum X', '--replicas N', '--max-temperature X', 'flow: the time span'])
      expect(text).toContain(s);
  });
});
