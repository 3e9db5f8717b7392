// Samplers: Langevin reaches the right Gaussian (TorchEBM's test, with statistics reduced on the
// GPU and only the results read back; HMC's step-by-step reference, acceptance and stationary
// statistics are in samplers-strict.test.ts), reproducibility, the fused Langevin kernel against
// the same update written with tensor ops, clamp, schedules, dispatches per step, trajectories
// and thinning, diagnostics, memory over 10,000 steps, and the errors for bad input.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, expectClose, LONG } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { BaseEnergyFunction } from '../src/nn/energy.js';
import { GaussianEnergy } from '../src/nn/energies/index.js';
import { HamiltonianMonteCarlo, LangevinDynamics } from '../src/train/index.js';

const MEAN = [1, -1];
const COV = [
  [1, 0.5],
  [0.5, 2],
];

/** E = |x|^2 / 2 over all of one sample's dims (any sample shape), closed-form gradient x. */
class StandardNormal extends BaseEnergyFunction {
  override forward(x: Tensor): Tensor {
    return x.square().reshape([x.shape[0]!, -1]).sum(1).mul(0.5);
  }
  override gradient(x: Tensor): Tensor {
    return x.mul(1);
  }
}

/** E = 0: Langevin is then a pure random walk, x_t = x_0 + sqrt(2h) sum of the step noises. */
class Flat extends BaseEnergyFunction {
  override forward(x: Tensor): Tensor {
    return ebm.zeros([x.shape[0]!], { device: x.device });
  }
  override gradient(x: Tensor): Tensor {
    return ebm.zeros(x.shape, { device: x.device });
  }
}

let gauss: GaussianEnergy;

/** Mean [d] and covariance [d, d] (unbiased) of rows [N, d], reduced on the GPU; reads back d + d^2 numbers. */
async function meanCov(samples: Tensor): Promise<{ mean: number[]; cov: number[][] }> {
  const [m, c] = ebm.tidy(() => {
    const mean = samples.mean(0);
    const centred = samples.sub(mean);
    return [mean, centred.T.matmul(centred).div(samples.shape[0]! - 1)];
  });
  const [mv, cv] = await Promise.all([m.data(), c.data()]);
  m.dispose();
  c.dispose();
  const d = mv.length;
  return { mean: [...mv], cov: Array.from({ length: d }, (_, i) => [...cv.slice(i * d, (i + 1) * d)]) };
}

function maxError(a: number[][] | number[], b: number[][] | number[]): number {
  const fa = (a as number[]).flat(), fb = (b as number[]).flat();
  return Math.max(...fa.map((v, i) => Math.abs(v - fb[i]!)));
}

/** Kept samples after burn-in: trajectory [n, K, d] -> [n * (K - burn), d]. */
function afterBurnIn(trajectory: Tensor, burn: number): Tensor {
  const [n, k, d] = trajectory.shape as [number, number, number];
  return trajectory.slice(1, burn, k).reshape([n * (k - burn), d]);
}

async function same(a: Tensor, b: Tensor): Promise<boolean> {
  const [x, y] = await Promise.all([a.data(), b.data()]);
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
}

const dispatches = () => ebm.getDevice().stats.dispatches;

beforeAll(async () => {
  await device();
  gauss = new GaussianEnergy(MEAN, COV);
});

describe('LangevinDynamics on the 2-D Gaussian (TorchEBM test: mean (1, -1), cov [[1, 0.5], [0.5, 2]], h = 0.05)', () => {
  it('4000 chains x 500 steps, first 200 discarded: mean within 0.2, covariance within 0.4', async () => {
    const sampler = new LangevinDynamics(gauss, { stepSize: 0.05 });
    const t0 = performance.now();
    const { samples, trajectory } = sampler.sample({ dim: 2, nSamples: 4000, nSteps: 500, returnTrajectory: true, seed: 7 });
    const kept = afterBurnIn(trajectory!, 200);
    const { mean, cov } = await meanCov(kept);
    const ms = performance.now() - t0;
    console.log(`Langevin 4000 x 500: mean (${mean.map((v) => v.toFixed(3)).join(', ')}), cov ${JSON.stringify(cov.map((r) => r.map((v) => +v.toFixed(3))))} in ${ms.toFixed(0)} ms`);
    expect(samples.shape).toEqual([4000, 2]);
    expect(maxError(mean, MEAN)).toBeLessThan(0.2);
    expect(maxError(cov, COV)).toBeLessThan(0.4);
    // PyTorch gives mean (0.994, -0.992), cov [[1.02, 0.497], [0.497, 2.03]] (h = 0.05 inflates
    // the variance by 1 / (1 - h lambda / 2)); a seeded run here lands as close.
    expect(maxError(mean, MEAN)).toBeLessThan(0.05);
    expect(maxError(cov, COV)).toBeLessThan(0.1);
    for (const t of [samples, trajectory!, kept]) t.dispose();
  });
});

describe('reproducibility', () => {
  it('the same seed gives the same chains; another seed, or no seed, gives others', async () => {
    const lang = new LangevinDynamics(gauss, { stepSize: 0.05 });
    const hmc = new HamiltonianMonteCarlo(gauss, { stepSize: 0.2, nLeapfrogSteps: 3 });
    for (const s of [lang, hmc]) {
      const run = (seed?: number) => s.sample({ dim: 2, nSamples: 64, nSteps: 30, seed });
      const [a, b, c, d, e] = [run(5), run(5), run(6), run(), run()];
      expect(await same(a, b), `${s.constructor.name}: seed 5 twice`).toBe(true);
      expect(await same(a, c), `${s.constructor.name}: seeds 5 and 6`).toBe(false);
      expect(await same(d, e), `${s.constructor.name}: two unseeded calls`).toBe(false);
      for (const t of [a, b, c, d, e]) t.dispose();
    }
  });

  it('sampling inside noGrad uses the real gradient (the same chains as outside)', async () => {
    const s = new LangevinDynamics(gauss, { stepSize: 0.05 });
    const a = s.sample({ dim: 2, nSamples: 32, nSteps: 20, seed: 3 });
    const b = ebm.noGrad(() => s.sample({ dim: 2, nSamples: 32, nSteps: 20, seed: 3 }));
    expect(await same(a, b)).toBe(true);
    a.dispose();
    b.dispose();
  });

  it('leaves the caller x untouched', async () => {
    const x = ebm.randn([16, 2], { seed: 1 });
    const before = await x.data();
    const y = new LangevinDynamics(gauss, { stepSize: 0.05 }).sample({ x, nSteps: 5, seed: 1 });
    expect([...(await x.data())]).toEqual([...before]);
    x.dispose();
    y.dispose();
  });
});

describe('the fused Langevin kernel', () => {
  it('equals x - h grad + noiseScale sqrt(2h) eps written with tensor ops, for the same noise', async () => {
    // Step 0's noise is ebm.randn(shape, { seed }) by construction (see shaders/langevin.wgsl).
    const [h, s, seed] = [0.07, 0.8, 1234];
    const x0 = ebm.randn([257, 3], { seed: 99 });
    const e = new GaussianEnergy([0.5, -1, 2], [[2, 0.3, 0], [0.3, 1, 0.2], [0, 0.2, 0.5]]);
    const fused = new LangevinDynamics(e, { stepSize: h, noiseScale: s }).sample({ x: x0, nSteps: 1, seed });
    const unfused = ebm.tidy(() => x0.sub(e.gradient(x0).mul(h)).add(ebm.randn(x0.shape, { seed }).mul(s * Math.sqrt(2 * h))));
    expectClose(await fused.data(), await unfused.data(), 1e-6, 'fused vs tensor ops');
    for (const t of [x0, fused, unfused]) t.dispose();
    e.dispose();
  });

  it('with noiseScale 0 and a scheduled step size, 5 steps equal gradient descent written with tensor ops', async () => {
    const sizes = [0.1, 0.05, 0.2, 0.01, 0.15];
    const x0 = ebm.randn([33, 2], { seed: 4 });
    const got = new LangevinDynamics(gauss, { stepSize: { value: (t: number) => sizes[t]! }, noiseScale: 0 }).sample({ x: x0, nSteps: 5 });
    let want = x0.clone();
    for (const h of sizes) {
      const next = ebm.tidy(() => want.sub(gauss.gradient(want).mul(h)));
      want.dispose();
      want = next;
    }
    expectClose(await got.data(), await want.data(), 1e-6, 'scheduled descent');
    for (const t of [x0, got, want]) t.dispose();
  });

  it('draws fresh noise every step: on a flat energy the increments are independent N(0, 2h)', async () => {
    const h = 0.5;
    const r = new LangevinDynamics(new Flat(), { stepSize: h }).sample({ x: ebm.zeros([4096, 1]), nSteps: 3, returnTrajectory: true, seed: 8 });
    const tr = await r.trajectory!.data(); // [4096, 3, 1]
    const inc = (k: number) => Array.from({ length: 4096 }, (_, i) => tr[i * 3 + k]! - (k ? tr[i * 3 + k - 1]! : 0));
    const [d0, d1, d2] = [inc(0), inc(1), inc(2)];
    const dot = (a: number[], b: number[]) => a.reduce((acc, v, i) => acc + v * b[i]!, 0) / a.length;
    for (const d of [d0, d1, d2]) expect(Math.abs(dot(d, d) - 2 * h)).toBeLessThan(0.1);
    // Correlation of successive steps' noise ~ N(0, 1/4096): far below 0.1 unless the counter stood still.
    expect(Math.abs(dot(d0, d1) / (2 * h))).toBeLessThan(0.1);
    expect(Math.abs(dot(d1, d2) / (2 * h))).toBeLessThan(0.1);
    r.samples.dispose();
    r.trajectory!.dispose();
  });

  it('clamps every coordinate into [min, max] in the same kernel, as clamp() after the update would', async () => {
    const x0 = ebm.randn([500, 2], { seed: 12 });
    const e = new StandardNormal();
    const clamp = { min: -0.3, max: 0.4 };
    const got = new LangevinDynamics(e, { stepSize: 0.1, clamp }).sample({ x: x0, nSteps: 1, seed: 21 });
    const want = ebm.tidy(() => x0.sub(x0.mul(0.1)).add(ebm.randn(x0.shape, { seed: 21 }).mul(Math.sqrt(0.2))).clamp(clamp.min, clamp.max));
    const g = await got.data();
    expectClose(g, await want.data(), 1e-6, 'clamped step');
    expect(Math.min(...g)).toBe(Math.fround(clamp.min));
    expect(Math.max(...g)).toBe(Math.fround(clamp.max));
    // One bound alone.
    const upper = new LangevinDynamics(e, { stepSize: 0.1, clamp: { max: 0 } }).sample({ x: x0, nSteps: 3, seed: 2 });
    const u = await upper.data();
    expect(Math.max(...u)).toBe(0);
    expect(Math.min(...u)).toBeLessThan(-1);
    for (const t of [x0, got, want, upper]) t.dispose();
  });
});

describe('dispatches per step', () => {
  it('Langevin: the energy gradient plus one fused dispatch; HMC: L gradients + 1 energy + L + 1', () => {
    const x = ebm.randn([256, 2], { seed: 1 });
    let d = dispatches();
    ebm.tidy(() => gauss.gradient(x));
    const grad = dispatches() - d;
    d = dispatches();
    ebm.tidy(() => gauss.forward(x));
    const energy = dispatches() - d;

    const perStep = (s: LangevinDynamics | HamiltonianMonteCarlo, steps: number) => {
      const before = dispatches();
      s.sample({ x, nSteps: steps, seed: 1 }).dispose();
      return dispatches() - before;
    };
    const lang = new LangevinDynamics(gauss, { stepSize: 0.05 });
    const langevinPerStep = (perStep(lang, 60) - perStep(lang, 10)) / 50;
    const L = 5;
    const hmc = new HamiltonianMonteCarlo(gauss, { stepSize: 0.1, nLeapfrogSteps: L });
    const hmcPerStep = (perStep(hmc, 30) - perStep(hmc, 10)) / 20;
    console.log(`dispatches per step: gradient ${grad}, energy ${energy}; Langevin ${langevinPerStep}; HMC (L = ${L}) ${hmcPerStep}; a 100-step Langevin chain ${perStep(lang, 100)}`);
    expect(langevinPerStep).toBe(grad + 1);
    expect(hmcPerStep).toBe(L * grad + energy + L + 1);
    x.dispose();
  });
});

describe('trajectories and thinning', () => {
  it('trajectory is [n, floor(nSteps / thin), ...dim], row k the state after (k + 1) * thin steps', async () => {
    const s = new LangevinDynamics(gauss, { stepSize: 0.05 });
    const r = s.sample({ dim: 2, nSamples: 10, nSteps: 7, thin: 3, returnTrajectory: true, seed: 4 });
    expect(r.trajectory!.shape).toEqual([10, 2, 2]);
    // The state after 6 steps is what a 6-step call with the same seed ends at.
    const six = s.sample({ dim: 2, nSamples: 10, nSteps: 6, seed: 4 });
    const row1 = ebm.tidy(() => r.trajectory!.slice(1, 1, 2).reshape([10, 2]));
    expect(await same(row1, six)).toBe(true);
    // With nSteps divisible by thin the last row is the final sample.
    const r2 = s.sample({ dim: 2, nSamples: 10, nSteps: 6, thin: 2, returnTrajectory: true, seed: 4 });
    expect(r2.trajectory!.shape).toEqual([10, 3, 2]);
    const last = ebm.tidy(() => r2.trajectory!.slice(1, 2, 3).reshape([10, 2]));
    expect(await same(last, r2.samples)).toBe(true);
    for (const t of [r.samples, r.trajectory!, six, row1, r2.samples, r2.trajectory!, last]) t.dispose();
  });

  it('works for samples with several dims ([n, 2, 3]) and for HMC', async () => {
    const e = new StandardNormal();
    for (const s of [new LangevinDynamics(e, { stepSize: 0.1 }), new HamiltonianMonteCarlo(e, { stepSize: 0.3, nLeapfrogSteps: 3 })]) {
      const r = s.sample({ dim: [2, 3], nSamples: 5, nSteps: 8, thin: 4, returnTrajectory: true, returnDiagnostics: true, seed: 1 });
      expect(r.samples.shape).toEqual([5, 2, 3]);
      expect(r.trajectory!.shape).toEqual([5, 2, 2, 3]);
      expect(r.diagnostics!.mean.shape).toEqual([2, 2, 3]);
      expect(r.diagnostics!.var.shape).toEqual([2, 2, 3]);
      expect(r.diagnostics!.energy.shape).toEqual([2]);
      const last = ebm.tidy(() => r.trajectory!.slice(1, 1, 2).reshape([5, 2, 3]));
      expect(await same(last, r.samples)).toBe(true);
      for (const t of [r.samples, r.trajectory!, last, ...Object.values(r.diagnostics!)]) t.dispose();
    }
  });

  it('sample() returns the tensor alone unless a trajectory or diagnostics are asked for', () => {
    const s = new LangevinDynamics(gauss);
    const t = s.sample({ dim: 2, nSteps: 2 });
    expect(t).toBeInstanceOf(ebm.Tensor);
    expect(t.shape).toEqual([1, 2]); // nSamples defaults to 1, as TorchEBM
    const r = s.sampleWith({ dim: 2, nSamples: 3, nSteps: 2 });
    expect(Object.keys(r)).toEqual(['samples']);
    t.dispose();
    r.samples.dispose();
  });
});

describe('diagnostics', () => {
  it('per kept step: mean and variance over chains and the mean energy, equal to the same from the trajectory', async () => {
    for (const s of [new LangevinDynamics(gauss, { stepSize: 0.05 }), new HamiltonianMonteCarlo(gauss, { stepSize: 0.2, nLeapfrogSteps: 4 })]) {
      const r = s.sample({ dim: 2, nSamples: 300, nSteps: 12, thin: 4, returnTrajectory: true, returnDiagnostics: true, seed: 9 });
      const d = r.diagnostics!;
      expect(d.mean.shape).toEqual([3, 2]);
      const [mean, variance, energy] = ebm.tidy(() => {
        const tr = r.trajectory!; // [300, 3, 2]
        const m = tr.mean(0);
        return [m, tr.sub(m).square().mean(0), gauss.forward(tr.reshape([900, 2])).reshape([300, 3]).mean(0)];
      });
      expectClose(await d.mean.data(), await mean.data(), 1e-5, `${s.constructor.name} mean`);
      expectClose(await d.var.data(), await variance.data(), 1e-5, `${s.constructor.name} var`);
      expectClose(await d.energy.data(), await energy.data(), 1e-5, `${s.constructor.name} energy`);
      for (const t of [r.samples, r.trajectory!, mean, variance, energy, ...Object.values(d)]) t.dispose();
    }
  });

  it('HMC: per-step acceptance averages to the per-chain acceptance rates', async () => {
    const s = new HamiltonianMonteCarlo(gauss, { stepSize: 0.6, nLeapfrogSteps: 5 });
    const r = s.sample({ dim: 2, nSamples: 200, nSteps: 40, returnDiagnostics: true, seed: 5 });
    const perStep = await r.diagnostics!.acceptanceRate!.data();
    const perChain = await r.diagnostics!.chainAcceptanceRate!.data();
    expect(perChain.length).toBe(200);
    const mean = (a: Float32Array) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(Math.abs(mean(perStep) - mean(perChain))).toBeLessThan(1e-5);
    // Every rate is a count / 40.
    expect(perChain.every((v) => Math.abs(v * 40 - Math.round(v * 40)) < 1e-4)).toBe(true);
    for (const t of [r.samples, ...Object.values(r.diagnostics!)]) t.dispose();
  });
});

describe('memory', () => {
  const live = () => {
    const m = ebm.memory();
    return { liveTensors: m.liveTensors, liveBytes: m.liveBytes };
  };

  // 10,000 steps under `npm run test:long`; 300 catch a per-step leak (one tensor a step is 300).
  const ENDURANCE_STEPS = LONG ? 10_000 : 300;
  it(`${ENDURANCE_STEPS.toLocaleString('en')} Langevin steps leave live tensors and bytes flat`, () => {
    const s = new LangevinDynamics(gauss, { stepSize: 0.05 });
    const before = live();
    s.sample({ dim: 2, nSamples: 256, nSteps: LONG ? 1000 : 100, seed: 1 }).dispose();
    expect(live()).toEqual(before);
    const pooled = ebm.memory().pooledBytes;
    const t0 = performance.now();
    s.sample({ dim: 2, nSamples: 256, nSteps: ENDURANCE_STEPS, seed: 2 }).dispose();
    // Recording only: the GPU may still be working when this returns.
    const ms = performance.now() - t0;
    // The step temporaries are released every step, but the pool can hand a buffer out again
    // only after the event loop has seen its submission complete, which a synchronous loop
    // never lets happen: the pool (not the live bytes) grows by the temporaries of each step.
    console.log(`${ENDURANCE_STEPS} Langevin steps (256 chains) recorded in ${ms.toFixed(0)} ms; pooled bytes grew by ${((ebm.memory().pooledBytes - pooled) / 2 ** 20).toFixed(1)} MiB`);
    expect(live()).toEqual(before);
  });

  it('HMC with diagnostics and trajectory keeps only what it returns', () => {
    const s = new HamiltonianMonteCarlo(gauss, { stepSize: 0.2, nLeapfrogSteps: 3 });
    const before = live();
    const r = s.sample({ dim: 2, nSamples: 64, nSteps: 300, thin: 10, returnTrajectory: true, returnDiagnostics: true, seed: 1 });
    const returned = [r.samples, r.trajectory!, ...Object.values(r.diagnostics!)];
    expect(live().liveTensors).toBe(before.liveTensors + returned.length);
    for (const t of returned) t.dispose();
    expect(live()).toEqual(before);
  });
});

describe('bad input', () => {
  const lang = () => new LangevinDynamics(gauss, { stepSize: 0.05 });

  it('a non-energy', () => {
    for (const bad of [null, {}, 42, (x: Tensor) => x, { forward: () => null }])
      expect(() => new LangevinDynamics(bad)).toThrow(/LangevinDynamics: the energy function must be a BaseEnergyFunction/);
    expect(() => new HamiltonianMonteCarlo({ gradient: () => null })).toThrow(/HamiltonianMonteCarlo: the energy function must be a BaseEnergyFunction .* got Object/);
  });

  it('nSteps < 1, thin < 1, thin > nSteps', () => {
    expect(() => lang().sample({ dim: 2, nSteps: 0 })).toThrow('LangevinDynamics.sample: nSteps must be an integer >= 1, got 0');
    expect(() => lang().sample({ dim: 2, nSteps: 2.5 })).toThrow('LangevinDynamics.sample: nSteps must be an integer >= 1, got 2.5');
    expect(() => lang().sample({ dim: 2 } as never)).toThrow('LangevinDynamics.sample: nSteps must be an integer >= 1, got undefined');
    expect(() => lang().sample({ dim: 2, nSteps: 5, thin: 0 })).toThrow('LangevinDynamics.sample: thin must be an integer >= 1, got 0');
    expect(() => lang().sample({ dim: 2, nSteps: 5, thin: 6 })).toThrow('LangevinDynamics.sample: thin (6) exceeds nSteps (5)');
    expect(() => new HamiltonianMonteCarlo(gauss).sample({ dim: 2, nSteps: -1 })).toThrow('HamiltonianMonteCarlo.sample: nSteps must be an integer >= 1, got -1');
  });

  it('a wrong dim, or x, nSamples and dim that disagree', () => {
    const x = ebm.zeros([4, 2]);
    expect(() => lang().sample({ nSteps: 1 })).toThrow('LangevinDynamics.sample: give the starting points x, or dim');
    expect(() => lang().sample({ dim: 0, nSteps: 1 })).toThrow('LangevinDynamics.sample: dim must be a positive integer or a non-empty array of them, got 0');
    expect(() => lang().sample({ dim: [2, -1], nSteps: 1 })).toThrow('dim must be a positive integer or a non-empty array of them, got [2, -1]');
    expect(() => lang().sample({ x, dim: 3, nSteps: 1 })).toThrow('LangevinDynamics.sample: dim [3] disagrees with x of shape [4, 2]');
    expect(() => lang().sample({ x, nSamples: 5, nSteps: 1 })).toThrow('LangevinDynamics.sample: nSamples (5) disagrees with x of shape [4, 2]');
    expect(() => lang().sample({ dim: 2, nSamples: 0, nSteps: 1 })).toThrow('LangevinDynamics.sample: nSamples must be an integer >= 1, got 0');
    const flat = ebm.zeros([2]);
    expect(() => lang().sample({ x: flat, nSteps: 1 })).toThrow('LangevinDynamics.sample: x must have shape [nSamples, ...dim] with nSamples >= 1, got [2]');
    // A dim the energy cannot take fails in the energy, named by it (GaussianEnergy is 2-D).
    expect(() => lang().sample({ dim: 3, nSamples: 2, nSteps: 1 })).toThrow(/GaussianEnergy: expected input of shape \[batch, 2\]/);
    x.dispose();
    flat.dispose();
  });

  it('a bad stepSize, noiseScale, clamp, nLeapfrogSteps, mass, or an unknown option', () => {
    for (const v of [0, -0.1, NaN, Infinity, '0.1', null])
      expect(() => new LangevinDynamics(gauss, { stepSize: v as never })).toThrow(/^LangevinDynamics: stepSize must be/);
    expect(() => new LangevinDynamics(gauss, { stepSize: -1 })).toThrow('LangevinDynamics: stepSize must be a finite number > 0, got -1');
    expect(() => new HamiltonianMonteCarlo(gauss, { stepSize: 0 })).toThrow('HamiltonianMonteCarlo: stepSize must be a finite number > 0, got 0');
    expect(() => new LangevinDynamics(gauss, { noiseScale: -1 })).toThrow('LangevinDynamics: noiseScale must be a finite number >= 0, got -1');
    expect(() => new LangevinDynamics(gauss, { clamp: { min: 1, max: 0 } })).toThrow('LangevinDynamics: clamp.min (1) exceeds clamp.max (0)');
    expect(() => new LangevinDynamics(gauss, { clamp: {} })).toThrow('LangevinDynamics: clamp needs min, max or both');
    expect(() => new LangevinDynamics(gauss, { clamp: { min: NaN } })).toThrow('LangevinDynamics: clamp.min must be a finite number, got NaN');
    expect(() => new LangevinDynamics(gauss, { clamp: { lo: 0 } as never })).toThrow("LangevinDynamics: unknown clamp key 'lo' (known: min, max)");
    expect(() => new LangevinDynamics(gauss, { step_size: 0.1 } as never)).toThrow("LangevinDynamics: unknown option 'step_size' (known: stepSize, noiseScale, clamp, fused)");
    expect(() => new HamiltonianMonteCarlo(gauss, { nLeapfrogSteps: 0 })).toThrow('HamiltonianMonteCarlo: nLeapfrogSteps must be an integer >= 1, got 0');
    expect(() => new HamiltonianMonteCarlo(gauss, { mass: 0 })).toThrow('HamiltonianMonteCarlo: mass must be a finite number > 0, got 0');
    expect(() => lang().sample({ dim: 2, nSteps: 1, n_steps: 3 } as never)).toThrow("LangevinDynamics.sample: unknown option 'n_steps'");
    expect(() => lang().sample({ dim: 2, nSteps: 1, seed: -1 })).toThrow('LangevinDynamics.sample: seed must be a non-negative safe integer, got -1');
  });

  it('a schedule that gives a bad value names the step, and leaves nothing behind', () => {
    const before = ebm.memory().liveTensors;
    const s = new LangevinDynamics(gauss, { stepSize: { value: (t: number) => (t < 3 ? 0.1 : NaN) } });
    expect(() => s.sample({ dim: 2, nSamples: 4, nSteps: 5 })).toThrow('LangevinDynamics: stepSize must be a finite number > 0, but its schedule gave NaN at step 3');
    const f = new LangevinDynamics(gauss, { stepSize: 0.1, noiseScale: (t: number) => 1 - t });
    expect(() => f.sample({ dim: 2, nSamples: 4, nSteps: 5 })).toThrow('LangevinDynamics: noiseScale must be a finite number >= 0, but its schedule gave -1 at step 2');
    expect(ebm.memory().liveTensors).toBe(before);
  });

  it('an energy whose gradient or energy has the wrong shape', () => {
    class BadGrad extends BaseEnergyFunction {
      override forward(x: Tensor): Tensor {
        return x.sum(1);
      }
      override gradient(x: Tensor): Tensor {
        return x.sum(1);
      }
    }
    class BadEnergy extends StandardNormal {
      override forward(x: Tensor): Tensor {
        return x.mul(1);
      }
    }
    expect(() => new LangevinDynamics(new BadGrad()).sample({ dim: 2, nSamples: 3, nSteps: 1 })).toThrow(
      'LangevinDynamics: energy.gradient(x) returned f32 [3] for x of shape [3, 2]; it must match x (f32)',
    );
    expect(() => new HamiltonianMonteCarlo(new BadEnergy()).sample({ dim: 2, nSamples: 3, nSteps: 1 })).toThrow(
      'HamiltonianMonteCarlo: energy.forward(x) returned f32 [3, 2] for 3 chains; it must be f32 [3] (one energy per chain)',
    );
    expect(() => new LangevinDynamics(new BadEnergy()).sample({ dim: 2, nSamples: 3, nSteps: 1, returnDiagnostics: true })).toThrow(/LangevinDynamics: energy.forward\(x\) returned/);
  });
});
