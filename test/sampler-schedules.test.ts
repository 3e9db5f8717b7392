// Step-size and noise-scale schedules are read at the right step, on every path: the value of a
// schedule at step t (0 = the first transition of a call) is what transition t uses. A schedule
// that differs from a constant at one step k only, run with the same seed as the constant, must
// give bit-identical frames before k and different ones from frame k (the state after step k)
// on. Checked on the general Langevin path, the fused MLP path (its own indexing of the
// (h, sigma) table) and HMC, each against that closed form rather than against each other.
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm } from './helpers.js';

const { LangevinDynamics, HamiltonianMonteCarlo, GaussianEnergy, MLPEnergyModel } = ebm;

beforeAll(async () => {
  await device();
});

const CHAINS = 64;
const STEPS = 9;

/** Frames [STEPS][CHAINS * 2] of a trajectory [CHAINS, STEPS, 2]. */
async function frames(traj: ebm.Tensor): Promise<Float32Array[]> {
  const v = await traj.data();
  return Array.from({ length: STEPS }, (_, t) => {
    const f = new Float32Array(CHAINS * 2);
    for (let c = 0; c < CHAINS; c++) for (let d = 0; d < 2; d++) f[c * 2 + d] = v[(c * STEPS + t) * 2 + d]!;
    return f;
  });
}

/** For each chain, whether frame a and frame b differ in any coordinate (bits, not tolerance). */
function moved(a: Float32Array, b: Float32Array): boolean[] {
  return Array.from({ length: CHAINS }, (_, c) => a[2 * c] !== b[2 * c] || a[2 * c + 1] !== b[2 * c + 1]);
}

const start = () => ebm.randn([CHAINS, 2], { seed: 5 });

/** Runs sampler with the trajectory; returns the start and the frames, and the dispatch count. */
async function run(sampler: { sample(o: ebm.SampleOptions & { returnTrajectory: true }): ebm.SampleResult }, seed = 7) {
  const x0 = start();
  const before = ebm.getDevice().stats.dispatches;
  const r = sampler.sample({ x: x0, nSteps: STEPS, returnTrajectory: true, seed });
  const f = await frames(r.trajectory!);
  const dispatches = ebm.getDevice().stats.dispatches - before;
  const x = await x0.data();
  r.samples.dispose();
  r.trajectory!.dispose();
  x0.dispose();
  return { x0: x, f, dispatches };
}

const energies = {
  general: () => new GaussianEnergy([0.5, -0.5], [[1, 0.3], [0.3, 2]]),
  fused: () => new MLPEnergyModel({ inputDim: 2, hiddenDims: [16, 16], activation: 'silu', seed: 3 }),
};

describe.each(Object.keys(energies) as (keyof typeof energies)[])('Langevin, %s path', (path) => {
  test.each([0, 4, 8])('a step size that differs only at step %d changes the chains from that step on, not before', async (k) => {
    const scheduled = new LangevinDynamics(energies[path](), { stepSize: (t: number) => (t === k ? 0.05 : 0.01), noiseScale: 1 });
    const constant = new LangevinDynamics(energies[path](), { stepSize: 0.01, noiseScale: 1 });
    const a = await run(scheduled);
    const b = await run(constant);
    // The fused path records a trajectory frame per kept step (about one dispatch a step here);
    // the general path of this MLP takes over ten a step (forward, backward, update).
    if (path === 'fused') expect(a.dispatches, 'the fused kernel ran').toBeLessThan(2 * STEPS);
    else expect(a.dispatches, 'the general path ran').toBeGreaterThan(2 * STEPS);
    for (let t = 0; t < STEPS; t++) {
      const differs = moved(a.f[t]!, b.f[t]!);
      expect(differs.every((d) => d === t >= k), `frame ${t}: ${differs.filter(Boolean).length} chains differ`).toBe(true);
    }
  });

  test.each([0, 5])('a noise scale that is non-zero only at step %d changes the chains from that step on, not before', async (k) => {
    const noisy = new LangevinDynamics(energies[path](), { stepSize: 0.02, noiseScale: (t: number) => (t === k ? 1 : 0) });
    const quiet = new LangevinDynamics(energies[path](), { stepSize: 0.02, noiseScale: 0 });
    const a = await run(noisy);
    const b = await run(quiet);
    for (let t = 0; t < STEPS; t++) {
      const differs = moved(a.f[t]!, b.f[t]!);
      // Before k both are the same gradient descent; from k on every chain carries step k's noise.
      expect(differs.every((d) => d === t >= k), `frame ${t}: ${differs.filter(Boolean).length} chains differ`).toBe(true);
    }
  });
});

describe('HMC', () => {
  test.each([0, 3, 8])('a step size that differs only at step %d changes the chains from that step on, not before', async (k) => {
    // Same momentum and uniforms in both runs (same seed); at step k the longer leapfrog gives
    // another proposal, accepted almost always at h <= 0.3, L = 3 on a unit-scale Gaussian
    // (expected acceptance above 0.97), so nearly every chain differs from frame k on.
    const scheduled = new HamiltonianMonteCarlo(energies.general(), { stepSize: (t: number) => (t === k ? 0.3 : 0.1), nLeapfrogSteps: 3 });
    const constant = new HamiltonianMonteCarlo(energies.general(), { stepSize: 0.1, nLeapfrogSteps: 3 });
    const a = await run(scheduled);
    const b = await run(constant);
    for (let t = 0; t < STEPS; t++) {
      const n = moved(a.f[t]!, b.f[t]!).filter(Boolean).length;
      if (t < k) expect(n, `frame ${t}: chains that differ`).toBe(0);
      else expect(n, `frame ${t}: chains that differ`).toBeGreaterThanOrEqual(CHAINS - 6);
    }
  });
});
