// HMC held to what it claims, step by step and in distribution.
//
// - The host Philox (test/philox.ts) is pinned to the GPU's streams: ebm.rand's uniforms bit for
//   bit, ebm.randn's normals through the Box-Muller map in tensor ops.
// - Every step of every chain against a one-step reference written in tensor ops: leapfrog with
//   the energy's own gradient from the momentum p = sqrt(m) eps, with eps the normal stream the
//   kernel draws (shaders/hmc.wgsl: element e of step t is lane e % 4 of Philox counter
//   (e / 4, t, STREAM_MOMENTUM = 1, 0)), H = E(x) + |p|^2 / 2m, accepted iff log u < H_old - H_new
//   with u chain c's uniform (counter (c / 4, t, STREAM_ACCEPT = 2, 0)). A rejected step leaves
//   x bit-identical; an accepted one moves it to the reference's proposal; the accept flags this
//   gives per chain and per step are the ones the diagnostics count. Mass 1 and 2.
// - The stationary acceptance against its expectation computed in float64 on the host (floor at
//   h = 0.25, L = 6; a run near 0.65), and mean and covariance within tolerances derived from the
//   sample size.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { keyOf, normalStream, philox, uniformAt } from './philox.js';

const MEAN = [1, -1];
const COV = [
  [1, 0.5],
  [0.5, 2],
];

let gauss: ebm.GaussianEnergy;

beforeAll(async () => {
  await device();
  gauss = new ebm.GaussianEnergy(MEAN, COV);
});

describe('the host Philox is the GPU one', () => {
  it('gives ebm.rand bit for bit and ebm.randn through Box-Muller in tensor ops (counter (g, 0, 0, 0)), for keys below and above 2^32', async () => {
    for (const seed of [0, 11, 0xdeadbeef, 2 ** 40 + 17]) {
      const n = 1027; // not a multiple of 4: the last group is cut
      const key = keyOf(seed);
      const u = ebm.rand([n], { seed });
      const z = ebm.randn([n], { seed });
      const ours = normalStream(n, 0, 0, 0, key);
      const [uv, zv, ov] = await Promise.all([u.data(), z.data(), ours.data()]);
      for (let e = 0; e < n; e++) if (uv[e] !== uniformAt(e, 0, 0, 0, key)) expect.fail(`seed ${seed}: uniform ${e} is ${uv[e]} on the GPU, ${uniformAt(e, 0, 0, 0, key)} here`);
      // The same WGSL log, cos, sin and sqrt on the same values: equal up to the GPU compiler's freedom.
      for (let e = 0; e < n; e++) if (!(Math.abs(zv[e]! - ov[e]!) <= 1e-6)) expect.fail(`seed ${seed}: normal ${e} is ${zv[e]} from randn, ${ov[e]} from the host uniforms`);
      for (const t of [u, z, ours]) t.dispose();
    }
    // A Philox 4x32-10 known-answer value (Random123's kat_vectors: counter 0, key 0).
    expect(philox([0, 0, 0, 0], [0, 0]).map((v) => v.toString(16))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
  });
});

/**
 * One HMC step written in tensor ops, from the chains x [n, d] at step t of a call with `seed`:
 * the proposal xp and H_old - H_new per chain.
 */
function referenceStep(energy: ebm.BaseEnergyFunction, x: Tensor, t: number, seed: number, h: number, L: number, mass: number): [Tensor, Tensor] {
  const [n, d] = x.shape as [number, number];
  return ebm.tidy(() => {
    const eps = normalStream(n * d, t, 1, 0, keyOf(seed)).reshape([n, d]);
    let p = eps.mul(Math.sqrt(mass)).sub(energy.gradient(x).mul(h / 2));
    let xp = x.add(p.mul(h).div(mass));
    for (let l = 1; l < L; l++) {
      p = p.sub(energy.gradient(xp).mul(h));
      xp = xp.add(p.mul(h).div(mass));
    }
    p = p.sub(energy.gradient(xp).mul(h / 2));
    // The starting momentum sqrt(m) eps has kinetic energy |eps|^2 / 2.
    const hOld = energy.forward(x).add(eps.square().sum(1).mul(0.5));
    const hNew = energy.forward(xp).add(p.square().div(mass).sum(1).mul(0.5));
    return [xp, hOld.sub(hNew)];
  });
}

interface StepCounts {
  accepted: number;
  rejected: number;
  /** Decisions within round-off of the threshold, where either outcome is allowed. */
  borderline: number;
  /** Per chain, the accepted steps. */
  perChain: number[];
}

/**
 * Runs the sampler from x0 for nSteps with the trajectory and diagnostics, and checks every
 * step of every chain against referenceStep: a chain whose reference rejects stays bit-identical,
 * one whose reference accepts moves (some coordinate changes) to the reference's proposal (to
 * f32 round-off). The moves, read off the trajectory, must be the accept flags the diagnostics
 * count: per chain (chainAcceptanceRate * nSteps) and per step (acceptanceRate).
 */
async function checkEveryStep(energy: ebm.BaseEnergyFunction, o: { stepSize: number; nLeapfrogSteps: number; mass?: number }, x0: Tensor, nSteps: number, seed: number): Promise<StepCounts> {
  const [n, d] = x0.shape as [number, number];
  const mass = o.mass ?? 1;
  const r = new ebm.HamiltonianMonteCarlo(energy, o).sample({ x: x0, nSteps, returnTrajectory: true, returnDiagnostics: true, seed });
  const traj = await r.trajectory!.data(); // [n, nSteps, d]
  const perStepRate = await r.diagnostics!.acceptanceRate!.data();
  const perChainRate = await r.diagnostics!.chainAcceptanceRate!.data();
  const counts: StepCounts = { accepted: 0, rejected: 0, borderline: 0, perChain: new Array<number>(n).fill(0) };
  let before = await x0.data();
  for (let t = 0; t < nSteps; t++) {
    const after = new Float32Array(n * d);
    for (let c = 0; c < n; c++) for (let j = 0; j < d; j++) after[c * d + j] = traj[(c * nSteps + t) * d + j]!;
    const xb = ebm.tensor(before, [n, d]);
    const [xp, dH] = referenceStep(energy, xb, t, seed, o.stepSize, o.nLeapfrogSteps, mass);
    const [xpv, dHv] = await Promise.all([xp.data(), dH.data()]);
    let moved = 0;
    for (let c = 0; c < n; c++) {
      const row = (a: Float32Array) => Array.from(a.subarray(c * d, (c + 1) * d));
      const stayed = row(after).every((v, j) => Object.is(v, before[c * d + j]));
      const logU = Math.log(uniformAt(c, t, 2, 0, keyOf(seed)));
      const margin = logU - dHv[c]!;
      // The GPU sums the kinetic energy in another order: decisions within 1e-4 of the
      // threshold may go either way (none did in the seeds here; the count is reported).
      const clear = Math.abs(margin) > 1e-4 * Math.max(1, Math.abs(dHv[c]!));
      const where = `step ${t}, chain ${c} (log u ${logU.toFixed(6)}, H_old - H_new ${dHv[c]!.toFixed(6)})`;
      const nearProposal = () => {
        const want = row(xpv);
        const scale = Math.max(1, ...want.map(Math.abs));
        return row(after).every((v, j) => Math.abs(v - want[j]!) <= 1e-5 * scale);
      };
      if (!clear) {
        counts.borderline++;
        expect(stayed || nearProposal(), `${where}: borderline, yet neither kept nor the proposal`).toBe(true);
      } else if (margin < 0) {
        counts.accepted++;
        expect(stayed, `${where}: accepted, so the chain must move`).toBe(false);
        if (!nearProposal()) expect.fail(`${where}: accepted, x is [${row(after)}], the reference proposal [${row(xpv)}]`);
      } else {
        counts.rejected++;
        if (!stayed) expect.fail(`${where}: rejected, so x must stay [${row(before)}] bit for bit, got [${row(after)}]`);
      }
      if (!stayed) {
        moved++;
        counts.perChain[c]!++;
      }
    }
    expect(Math.abs(perStepRate[t]! - moved / n), `step ${t}: acceptanceRate ${perStepRate[t]} vs ${moved} of ${n} chains moved`).toBeLessThan(1e-6);
    for (const q of [xb, xp, dH]) q.dispose();
    before = after;
  }
  for (let c = 0; c < n; c++) expect(Math.round(perChainRate[c]! * nSteps), `chain ${c}: chainAcceptanceRate vs steps that moved it`).toBe(counts.perChain[c]);
  for (const q of [r.samples, r.trajectory!, ...Object.values(r.diagnostics!)]) q.dispose();
  return counts;
}

describe('HMC, every step against a one-step reference in tensor ops', () => {
  it('a step too large for the energy is mostly rejected: rejected chains stay bit-identical, accepted ones move to the proposal', async () => {
    // Leapfrog with h = 3 on precision eigenvalues up to 1.26 is unstable (h sqrt(lambda) > 2):
    // proposals blow up and must be refused.
    const x0 = ebm.tidy(() => ebm.randn([64, 2], { seed: 40 }).mul(0.7).add(ebm.tensor(MEAN)));
    const c = await checkEveryStep(gauss, { stepSize: 3, nLeapfrogSteps: 4 }, x0, 10, 2);
    console.log(`HMC h = 3, L = 4, 64 chains x 10 steps: ${c.accepted} accepted, ${c.rejected} rejected, ${c.borderline} borderline`);
    expect(Math.max(...c.perChain) / 10, 'largest chain acceptance').toBeLessThan(0.5);
    // (Here every proposal is refused; the tests below exercise both branches.)
    expect(c.rejected).toBeGreaterThan(500);
    expect(c.borderline).toBeLessThanOrEqual(2);
    x0.dispose();
  });

  for (const mass of [1, 2])
    it(`mass ${mass}: the Gaussian target near 0.65 acceptance (h = ${mass === 1 ? 1.45 : 2.05}, L = 4), 256 chains x 4 steps`, async () => {
      // With mass m the dynamics are those of mass 1 with step h / sqrt(m): 2.05 / sqrt(2) ~ 1.45.
      const x0 = ebm.randn([256, 2], { seed: 41 + mass });
      const c = await checkEveryStep(gauss, { stepSize: mass === 1 ? 1.45 : 2.05, nLeapfrogSteps: 4, mass }, x0, 4, 70 + mass);
      console.log(`HMC mass ${mass}: ${c.accepted} accepted, ${c.rejected} rejected, ${c.borderline} borderline of 1024`);
      expect(c.accepted).toBeGreaterThan(300);
      expect(c.rejected).toBeGreaterThan(150);
      expect(c.borderline).toBeLessThanOrEqual(2);
      x0.dispose();
    });

  it('mass 2 on an MLP energy (the gradient by autodiff), 3-D, 128 chains x 3 steps', async () => {
    const model = new ebm.MLPEnergyModel({ inputDim: 3, hiddenDims: [16, 16], activation: 'silu', seed: 5 });
    // Freshly initialised the energy is nearly flat and every proposal passes: steepen it
    // (energies then span about -4.5 to 1.2 over N(0, I) draws) so both branches are taken.
    ebm.noGrad(() => ebm.tidy(() => void model.output_layer.weight.assign(model.output_layer.weight.mul(25))));
    const x0 = ebm.randn([128, 3], { seed: 43 });
    const c = await checkEveryStep(model, { stepSize: 1.5, nLeapfrogSteps: 3, mass: 2 }, x0, 3, 81);
    console.log(`HMC on an MLP, mass 2: ${c.accepted} accepted, ${c.rejected} rejected, ${c.borderline} borderline of 384`);
    expect(c.accepted).toBeGreaterThan(200);
    expect(c.rejected).toBeGreaterThan(20);
    expect(c.borderline).toBeLessThanOrEqual(2);
    x0.dispose();
    model.dispose();
  });
});

// ---- the stationary distribution -------------------------------------------------------------

/** A seeded float in (0, 1) (mulberry32), for the host's float64 simulations. */
function mulberry(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 2 ** 32;
  };
}

/**
 * E[min(1, exp(-dH))] at stationarity for HMC on N(MEAN, COV), in float64: x from the target
 * (Cholesky of COV), p ~ N(0, m I), L leapfrog steps of h. A Monte Carlo estimate over `draws`
 * draws; its standard error is sqrt(a (1 - a) / draws) or less.
 */
function expectedAcceptance(h: number, L: number, mass: number, draws: number): number {
  const r = mulberry(2024);
  const normal = () => Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r());
  const det = COV[0]![0]! * COV[1]![1]! - COV[0]![1]! ** 2;
  const P = [
    [COV[1]![1]! / det, -COV[0]![1]! / det],
    [-COV[1]![0]! / det, COV[0]![0]! / det],
  ];
  const l11 = Math.sqrt(COV[0]![0]!);
  const l21 = COV[1]![0]! / l11;
  const l22 = Math.sqrt(COV[1]![1]! - l21 * l21);
  const grad = (x: number[]) => [P[0]![0]! * x[0]! + P[0]![1]! * x[1]!, P[1]![0]! * x[0]! + P[1]![1]! * x[1]!];
  const energy = (x: number[]) => {
    const g = grad(x);
    return 0.5 * (x[0]! * g[0]! + x[1]! * g[1]!);
  };
  let sum = 0;
  for (let i = 0; i < draws; i++) {
    const z0 = normal();
    const z1 = normal();
    // Centred at the mean (the dynamics do not depend on where the Gaussian sits).
    const x = [l11 * z0, l21 * z0 + l22 * z1];
    const p0 = [Math.sqrt(mass) * normal(), Math.sqrt(mass) * normal()];
    let g = grad(x);
    const p = p0.map((v, j) => v - (h / 2) * g[j]!);
    const y = x.map((v, j) => v + (h * p[j]!) / mass);
    for (let l = 1; l < L; l++) {
      g = grad(y);
      for (let j = 0; j < 2; j++) p[j] = p[j]! - h * g[j]!;
      for (let j = 0; j < 2; j++) y[j] = y[j]! + (h * p[j]!) / mass;
    }
    g = grad(y);
    for (let j = 0; j < 2; j++) p[j] = p[j]! - (h / 2) * g[j]!;
    const dH = energy(y) + (p[0]! ** 2 + p[1]! ** 2) / (2 * mass) - energy(x) - (p0[0]! ** 2 + p0[1]! ** 2) / (2 * mass);
    sum += Math.min(1, Math.exp(-dH));
  }
  return sum / draws;
}

/**
 * Runs `chains` chains for burn + keep steps from N(0, I) and checks, over the kept steps:
 * - acceptance (the per-step rates averaged) against the float64 expectation. At stationarity each
 *   step's rate is a mean over independent chains, variance a (1 - a) / chains; the average of
 *   correlated such rates has no larger variance. With the host estimate's own error, the
 *   tolerance is 4 sqrt(a (1 - a) (1 / chains + 1 / draws)).
 * - the mean and the covariance (centred at the true mean). The kept states of one chain are
 *   correlated, the chains independent: each chain's average of x and of (x - mu)(x - mu)^T is one
 *   independent draw, and the standard error of the overall average is the spread of those
 *   per-chain averages / sqrt(chains) (batch means with the chains as batches, valid whatever
 *   the autocorrelation). Every entry must lie within 4 such standard errors, and the standard
 *   errors themselves must be under 1% of sqrt(C_ii C_jj), so "4 SE" means "within a few percent"
 *   (a sampler that inflated the spread could not widen its own tolerance).
 */
async function stationaryCheck(h: number, L: number, chains: number, burn: number, keep: number, seed: number): Promise<{ acceptance: number; expected: number }> {
  const draws = 200_000;
  const expected = expectedAcceptance(h, L, 1, draws);
  const steps = burn + keep;
  const r = new ebm.HamiltonianMonteCarlo(gauss, { stepSize: h, nLeapfrogSteps: L }).sample({ dim: 2, nSamples: chains, nSteps: steps, returnTrajectory: true, returnDiagnostics: true, seed });
  const [traj, rates] = await Promise.all([r.trajectory!.data(), r.diagnostics!.acceptanceRate!.data()]);
  let acceptance = 0;
  for (let t = burn; t < steps; t++) acceptance += rates[t]!;
  acceptance /= keep;
  const accTol = 4 * Math.sqrt(expected * (1 - expected) * (1 / chains + 1 / draws));
  expect(Math.abs(acceptance - expected), `acceptance ${acceptance.toFixed(4)} vs the float64 expectation ${expected.toFixed(4)} (tolerance ${accTol.toFixed(4)})`).toBeLessThan(accTol);

  // Per chain: averages of x0, x1, (x0 - mu0)^2, (x0 - mu0)(x1 - mu1), (x1 - mu1)^2.
  const stats = [new Float64Array(chains), new Float64Array(chains), new Float64Array(chains), new Float64Array(chains), new Float64Array(chains)];
  for (let c = 0; c < chains; c++) {
    for (let t = burn; t < steps; t++) {
      const a = traj[(c * steps + t) * 2]!;
      const b = traj[(c * steps + t) * 2 + 1]!;
      const da = a - MEAN[0]!;
      const db = b - MEAN[1]!;
      stats[0]![c]! += a / keep;
      stats[1]![c]! += b / keep;
      stats[2]![c]! += (da * da) / keep;
      stats[3]![c]! += (da * db) / keep;
      stats[4]![c]! += (db * db) / keep;
    }
  }
  const targets = [MEAN[0]!, MEAN[1]!, COV[0]![0]!, COV[0]![1]!, COV[1]![1]!];
  const scales = [1, Math.sqrt(COV[1]![1]!), COV[0]![0]!, Math.sqrt(COV[0]![0]! * COV[1]![1]!), COV[1]![1]!];
  const names = ['mean[0]', 'mean[1]', 'cov[0][0]', 'cov[0][1]', 'cov[1][1]'];
  const report: string[] = [];
  stats.forEach((s, k) => {
    const m = s.reduce((p, q) => p + q, 0) / chains;
    const sd = Math.sqrt(s.reduce((p, q) => p + (q - m) ** 2, 0) / (chains - 1));
    const se = sd / Math.sqrt(chains);
    report.push(`${names[k]} ${m.toFixed(4)} (target ${targets[k]}, SE ${se.toFixed(4)})`);
    if (k >= 2) expect(se / scales[k]!, `${names[k]}: standard error relative to its scale`).toBeLessThan(0.01);
    expect(Math.abs(m - targets[k]!), `${names[k]} = ${m} vs ${targets[k]}: more than 4 standard errors (${se.toExponential(2)}) off`).toBeLessThan(4 * se);
  });
  console.log(`HMC h = ${h}, L = ${L}, ${chains} chains x ${keep} kept steps: acceptance ${acceptance.toFixed(4)} (float64 expectation ${expected.toFixed(4)}); ${report.join('; ')}`);
  for (const q of [r.samples, r.trajectory!, ...Object.values(r.diagnostics!)]) q.dispose();
  return { acceptance, expected };
}

describe('HMC in distribution (the Gaussian target, mean (1, -1), cov [[1, 0.5], [0.5, 2]])', () => {
  it('h = 0.25, L = 6: acceptance above 0.98 (float64 expectation 0.993) and equal to its expectation; mean and covariance', async () => {
    const { acceptance, expected } = await stationaryCheck(0.25, 6, 1024, 15, 45, 11);
    expect(expected).toBeGreaterThan(0.99);
    expect(acceptance).toBeGreaterThan(0.98);
  });

  it('h = 1.45, L = 4: acceptance near 0.65 (float64 expectation 0.658), mean and covariance within a few percent', async () => {
    const { acceptance, expected } = await stationaryCheck(1.45, 4, 4096, 20, 40, 12);
    expect(Math.abs(expected - 0.65)).toBeLessThan(0.02);
    expect(Math.abs(acceptance - 0.65)).toBeLessThan(0.03);
  });
});
