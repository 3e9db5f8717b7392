// annealedImportanceSampling and logLikelihood: log Z of energies whose normaliser is known
// (a 10-d Gaussian in closed form; a 2-D double well and a Gaussian mixture by quadrature on a
// fine grid, float64 on the CPU), the standard error's honesty (it shrinks as 1 / sqrt(chains),
// and the scatter of independent estimates matches it), the log-likelihood of Gaussian data,
// and the argument checks. Every run is seeded.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, LONG } from './helpers.js';

beforeAll(async () => {
  await device();
});

/** log of the integral of exp(-E) over [-L, L]^2 on an n x n midpoint grid, float64 (logsumexp). */
function quadrature2d(energy: (x: number, y: number) => number, L: number, n: number): number {
  const h = (2 * L) / n;
  const vals: number[] = [];
  let m = -Infinity;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const v = -energy(-L + (i + 0.5) * h, -L + (j + 0.5) * h);
      vals.push(v);
      if (v > m) m = v;
    }
  let s = 0;
  for (const v of vals) s += Math.exp(v - m);
  return m + Math.log(s) + 2 * Math.log(h);
}

/** log det of a symmetric positive-definite matrix by Cholesky, float64. */
function logDet(a: number[][]): number {
  const n = a.length;
  const l = a.map((r) => r.map(() => 0));
  let s = 0;
  for (let j = 0; j < n; j++) {
    let d = a[j]![j]!;
    for (let k = 0; k < j; k++) d -= l[j]![k]! ** 2;
    l[j]![j] = Math.sqrt(d);
    s += Math.log(l[j]![j]!);
    for (let i = j + 1; i < n; i++) {
      let v = a[i]![j]!;
      for (let k = 0; k < j; k++) v -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = v / l[j]![j]!;
    }
  }
  return 2 * s;
}

/** E(x) = -log sum_k exp(-|x - mu_k|^2 / (2 s^2)) + offset: four equal modes, so log Z = log(4 * 2 pi s^2) - offset. */
class MixtureEnergy extends ebm.BaseEnergyFunction {
  static readonly MODES = [[1.5, 1.5], [-1.5, 1.5], [1.5, -1.5], [-1.2, -1.8]];
  static readonly S = 0.4;
  static readonly OFFSET = 1.3;
  readonly mu = ebm.keep(ebm.tensor(MixtureEnergy.MODES)); // [4, 2]
  override forward(x: ebm.Tensor): ebm.Tensor {
    const n = x.shape[0]!;
    const d2 = x.reshape([n, 1, 2]).sub(this.mu.reshape([1, 4, 2])).square().sum(2); // [n, 4]
    return d2.mul(-0.5 / MixtureEnergy.S ** 2).logsumexp(1).neg().add(MixtureEnergy.OFFSET);
  }
  static host(x: number, y: number): number {
    let m = -Infinity;
    const t = MixtureEnergy.MODES.map(([a, b]) => -((x - a!) ** 2 + (y - b!) ** 2) / (2 * MixtureEnergy.S ** 2));
    for (const v of t) m = Math.max(m, v);
    return -(m + Math.log(t.reduce((s, v) => s + Math.exp(v - m), 0))) + MixtureEnergy.OFFSET;
  }
}

describe('annealedImportanceSampling: log Z', () => {
  // npm test runs shorter paths (fewer chains and temperatures) and holds them to 0.15 nats and 4
  // of their own standard errors; test:long runs the sizes and holds them to 0.05 nats.
  const size = LONG ? { nChains: 1024, nTemperatures: 100 } : { nChains: 512, nTemperatures: 30 };
  const tol = LONG ? 0.05 : 0.15;
  const maxSe = LONG ? 0.025 : 0.06;
  it('a 10-d Gaussian energy: within 0.05 nats (LONG) of the exact log Z = d/2 log 2 pi + 1/2 log det S', async () => {
    const d = 10;
    // S: variances from 0.3 to 2, correlation 0.3 between neighbours; mean 0.5 off the base's.
    const sd = Array.from({ length: d }, (_, i) => Math.sqrt(0.3 + (1.7 * i) / (d - 1)));
    const cov = sd.map((si, i) => sd.map((sj, j) => (i === j ? si * si : Math.abs(i - j) === 1 ? 0.3 * si * sj : 0)));
    const energy = new ebm.GaussianEnergy(new Array(d).fill(0.5), cov);
    const exact = 0.5 * d * Math.log(2 * Math.PI) + 0.5 * logDet(cov);
    const r = await ebm.annealedImportanceSampling(energy, { dim: d, ...size, stepSize: 0.25, nLeapfrogSteps: 5, seed: 1 });
    // The standard error must be well below the tolerance for the check to mean anything.
    expect(r.standardError).toBeLessThan(maxSe);
    expect(Math.abs(r.logZ - exact)).toBeLessThan(tol);
    expect(Math.abs(r.logZ - exact)).toBeLessThan(4 * r.standardError + 0.01);
    expect(r.acceptanceRate).toBeGreaterThan(0.5);
    expect(r.effectiveSampleSize).toBeGreaterThan(size.nChains / 10);
    expect(r.effectiveSampleSize).toBeLessThanOrEqual(size.nChains);
  });

  it('a 2-D double well (barrier 2): within 0.05 nats (LONG) of quadrature on a 1200 x 1200 grid over [-3, 3]^2', async () => {
    const energy = new ebm.DoubleWellEnergy();
    const exact = quadrature2d((x, y) => 2 * ((x * x - 1) ** 2 + (y * y - 1) ** 2), 3, 1200);
    const r = await ebm.annealedImportanceSampling(energy, { dim: 2, ...size, stepSize: 0.2, seed: 2 });
    expect(r.standardError).toBeLessThan(maxSe);
    expect(Math.abs(r.logZ - exact)).toBeLessThan(tol);
    expect(Math.abs(r.logZ - exact)).toBeLessThan(4 * r.standardError + 0.01);
  });

  it('a four-mode Gaussian mixture: within 0.05 nats (LONG) of quadrature (and of its closed form)', async () => {
    const energy = new MixtureEnergy();
    const exact = quadrature2d(MixtureEnergy.host, 6, 1200);
    // The grid sum agrees with the closed form to 1e-6: the quadrature is no looser than the check.
    expect(Math.abs(exact - (Math.log(4 * 2 * Math.PI * MixtureEnergy.S ** 2) - MixtureEnergy.OFFSET))).toBeLessThan(1e-6);
    // A base twice as wide as the modes' spread covers all four.
    const base = new ebm.GaussianNoise({ scale: 2 });
    const r = await ebm.annealedImportanceSampling(energy, { dim: 2, ...size, stepSize: 0.15, base, seed: 3 });
    expect(r.standardError).toBeLessThan(maxSe);
    expect(Math.abs(r.logZ - exact)).toBeLessThan(tol);
    expect(Math.abs(r.logZ - exact)).toBeLessThan(4 * r.standardError + 0.01);
    energy.mu.dispose();
    base.dispose();
  });
});

describe('annealedImportanceSampling: an honest standard error', () => {
  // A short path (8 temperatures) so that the error is large enough to measure.
  const energy = new ebm.DoubleWellEnergy();
  const exact = quadrature2d((x, y) => 2 * ((x * x - 1) ** 2 + (y * y - 1) ** 2), 3, 1200);
  const run = (nChains: number, seed: number) => ebm.annealedImportanceSampling(energy, { dim: 2, nChains, nTemperatures: 8, stepSize: 0.2, seed });

  it('shrinks as 1 / sqrt(chains): 4x the chains, half the error', async () => {
    const small = await run(256, 10);
    const large = await run(1024, 11);
    // The delta-method error of 256 chains is itself uncertain by ~10-20% here: the ratio within [0.35, 0.7].
    const ratio = large.standardError / small.standardError;
    expect(ratio).toBeGreaterThan(0.35);
    expect(ratio).toBeLessThan(0.7);
  });

  it('matches the scatter of independent estimates, which centre on the exact value', async () => {
    const reps = LONG ? 24 : 10;
    const runs = [];
    for (let s = 0; s < reps; s++) runs.push(await run(256, 100 + s));
    const est = runs.map((r) => r.logZ);
    const mean = est.reduce((a, b) => a + b, 0) / reps;
    const spread = Math.sqrt(est.reduce((a, b) => a + (b - mean) ** 2, 0) / (reps - 1));
    const reported = runs.reduce((a, r) => a + r.standardError, 0) / reps;
    // With 10 repeats, s^2 / sigma^2 is chi-square(9) / 9: within [0.19, 2.62] at 99%, so an honest
    // error is within [0.62, 2.3] x the scatter; [0.5, 2.3] allows the error's own scatter over the runs.
    expect(reported / spread).toBeGreaterThan(0.5);
    expect(reported / spread).toBeLessThan(2.3);
    // The mean of the estimates is within 4 standard errors of the mean (plus AIS's small downward bias, ~se^2 / 2).
    expect(Math.abs(mean - exact)).toBeLessThan((4 * reported) / Math.sqrt(reps) + reported ** 2);
    // Every run read back once; the estimates differ (independent seeds), the same seed repeats exactly.
    expect(new Set(est).size).toBe(reps);
    expect((await run(256, 100)).logZ).toBe(est[0]);
  });
});

describe('logLikelihood', () => {
  it('of Gaussian data under its Gaussian energy: -mean E - log Z within 0.05 nats (LONG) of the exact mean log-density', async () => {
    const cov = [[1, 0.5], [0.5, 2]];
    const energy = new ebm.GaussianEnergy([1, -1], cov);
    const data = ebm.keep(ebm.tidy(() => ebm.randn([2000, 2], { seed: 9 }).matmul(ebm.tensor([[1, 0.5], [0, Math.sqrt(1.75)]])).add(ebm.tensor([1, -1]))));
    const xs = await data.data();
    // Exact: log N(x; m, S) averaged on the CPU in float64.
    const det = 2 - 0.25;
    let sum = 0;
    for (let i = 0; i < 2000; i++) {
      const [a, b] = [xs[2 * i]! - 1, xs[2 * i + 1]! + 1];
      // S^-1 = [[2, -0.5], [-0.5, 1]] / det
      sum += -0.5 * ((2 * a * a - a * b + b * b) / det) - Math.log(2 * Math.PI) - 0.5 * Math.log(det);
    }
    const r = await ebm.logLikelihood(energy, data, { nChains: LONG ? 1024 : 512, nTemperatures: LONG ? 100 : 30, stepSize: 0.3, seed: 4 });
    expect(Math.abs(r.logLikelihood - sum / 2000)).toBeLessThan(LONG ? 0.05 : 0.15);
    expect(Math.abs(r.logLikelihood - sum / 2000)).toBeLessThan(4 * r.standardError + 0.01);
    expect(r.logLikelihood).toBeCloseTo(-r.meanEnergy - r.logZ, 5);
    expect(r.standardError).toBeLessThan(LONG ? 0.025 : 0.06);
    data.dispose();
  });
});

describe('argument checks', () => {
  const energy = new ebm.DoubleWellEnergy();
  it('name the argument, what it got and what is valid', async () => {
    await expect(ebm.annealedImportanceSampling({} as never, { dim: 2 })).rejects.toThrow(/^annealedImportanceSampling: energy must be an energy function/);
    await expect(ebm.annealedImportanceSampling(energy, { dim: 0 })).rejects.toThrow('annealedImportanceSampling: dim must be a positive integer or a non-empty array of them (one sample\'s shape), got 0');
    await expect(ebm.annealedImportanceSampling(energy, { dim: 2, nChains: 1 })).rejects.toThrow('annealedImportanceSampling: nChains must be an integer >= 2, got 1');
    await expect(ebm.annealedImportanceSampling(energy, { dim: 2, schedule: [0, 0.5, 0.4, 1] })).rejects.toThrow(/^annealedImportanceSampling: schedule must be 'sigmoid', 'linear' or an increasing array of betas from 0 to 1/);
    await expect(ebm.annealedImportanceSampling(energy, { dim: 2, base: new ebm.GaussianNoise({ loc: ebm.tensor([0, 0, 0]) }) })).rejects.toThrow('annealedImportanceSampling: the base has 3 elements per sample, dim [2] has 2');
    await expect(ebm.annealedImportanceSampling(energy, { dim: 2, steps: 3 } as never)).rejects.toThrow(/annealedImportanceSampling: unknown option 'steps'/);
    await expect(ebm.logLikelihood(energy, ebm.tensor([[1, 2]]))).rejects.toThrow('logLikelihood: data must be an f32 tensor [n >= 2, ...dim], got f32 [1, 2]');
    await expect(ebm.logLikelihood(energy, ebm.tensor([[1, 2], [3, 4]]), { dim: 2 } as never)).rejects.toThrow("logLikelihood: option 'dim' is set by logLikelihood itself (dim is the data's)");
  });

  it('an energy of the wrong shape: one line naming it, and the chains it kept are freed', async () => {
    class TwoPerSample extends ebm.BaseEnergyFunction {
      override forward(x: ebm.Tensor): ebm.Tensor {
        return x.square();
      }
    }
    const before = ebm.memory().liveTensors;
    await expect(ebm.annealedImportanceSampling(new TwoPerSample(), { dim: 2, nChains: 8, nTemperatures: 3, seed: 1 })).rejects.toThrow(
      'annealedImportanceSampling: energy.forward(x) must return f32 [8] (one energy per chain) for x of shape [8, 2], got f32 [8, 2]',
    );
    expect(ebm.memory().liveTensors).toBe(before);
  });

  it('the schedules run from 0 to 1, increasing; the sigmoid one is denser at both ends', () => {
    expect(ebm.annealingSchedule('linear', 4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    const s = ebm.annealingSchedule('sigmoid', 10);
    expect(s[0]).toBe(0);
    expect(s[10]).toBe(1);
    for (let i = 1; i <= 10; i++) expect(s[i]!).toBeGreaterThan(s[i - 1]!);
    expect(s[1]! - s[0]!).toBeLessThan(s[5]! - s[4]!);
    expect(s[10]! - s[9]!).toBeLessThan(s[6]! - s[5]!);
  });
});
