// The fused Langevin sampler for MLP energies (shaders/langevin-mlp.wgsl,
// src/train/samplers/fused-mlp.ts): the same chains as the general path (energy.gradient by the
// tape + the fused update kernel) for the same seed, to f32 round-off, across activations,
// depths, widths (padded ones too), clamps, spectral norm and the other MLP-shaped energies;
// chunking at trajectory boundaries; dispatch counts; fusedSupport(); memory. (The fallbacks'
// bit-equality with fused: false and the kinked ReLU/LeakyReLU configs: fused-fallback.test.ts.)
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, fusedIt, settleGarbage } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { LangevinDynamics, type LangevinOptions } from '../src/train/index.js';
import { BaseEnergyFunction } from '../src/nn/energy.js';

type Energy = BaseEnergyFunction;

const dispatches = () => ebm.getDevice().stats.dispatches;

/** Per-chain largest |a - b| over the chain's coordinates, scaled by max(1, |b|). */
async function chainErrors(a: Tensor, b: Tensor): Promise<number[]> {
  const [x, y] = await Promise.all([a.data(), b.data()]);
  const d = a.shape.slice(1).reduce((p, q) => p * q, 1);
  const errs: number[] = [];
  for (let c = 0; c < x.length / d; c++) {
    let e = 0;
    for (let i = c * d; i < (c + 1) * d; i++) e = Math.max(e, Math.abs(x[i]! - y[i]!) / Math.max(1, Math.abs(y[i]!)));
    errs.push(e);
  }
  return errs;
}

/**
 * The fused and the general path agree to f32 round-off. (Kinked activations, ReLU and
 * LeakyReLU, where one chain may take the other branch at a pre-activation within round-off of
 * 0, are tested with a per-chain bound in fused-fallback.test.ts.)
 */
async function expectSameChains(fused: Tensor, general: Tensor, tol: number): Promise<void> {
  const errs = await chainErrors(fused, general);
  const bad = errs.filter((e) => !(e <= tol));
  expect(bad.length, `chains off by more than ${tol}: ${bad.length} of ${errs.length} (worst ${Math.max(...errs).toExponential(2)})`).toBe(0);
  const sorted = [...errs].sort((p, q) => p - q);
  expect(sorted[Math.floor(sorted.length / 2)]!, 'median chain error').toBeLessThan(tol / 10);
}

function run(energy: Energy, opts: LangevinOptions, x: Tensor, nSteps: number, seed = 11) {
  const sampler = new LangevinDynamics(energy, opts);
  const before = dispatches();
  const y = sampler.sample({ x, nSteps, seed });
  return { y, dispatches: dispatches() - before, sampler };
}

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});


interface Config {
  name: string;
  make: () => Energy;
  dim: number;
  chains: number;
  opts?: LangevinOptions;
  steps?: number;
}

const mlp = (o: ConstructorParameters<typeof ebm.MLPEnergyModel>[0]) => () => new ebm.MLPEnergyModel(o);

/**
 * A spectral-norm MLP whose power iteration has run a while (training-mode forwards), then in
 * eval mode. Straight from initialisation u and v are random, so sigma = u^T W v can be near 0,
 * W / sigma huge, and the chains chaotic enough that round-off alone sets them apart.
 */
function settledSpectralNorm(o: ConstructorParameters<typeof ebm.MLPEnergyModel>[0]): ebm.MLPEnergyModel {
  const m = new ebm.MLPEnergyModel({ ...o, spectralNorm: true });
  const x = ebm.randn([8, o.inputDim], { seed: 1 });
  for (let i = 0; i < 50; i++) ebm.noGrad(() => m.forward(x)).dispose();
  x.dispose();
  return m.eval();
}

const CONFIGS: Config[] = [
  { name: 'SiLU 2-128-128-128-1 (the benchmark model)', make: mlp({ inputDim: 2, hiddenDims: [128, 128, 128], activation: 'silu', seed: 1 }), dim: 2, chains: 61 },
  { name: 'Tanh 3-32-48-1 (48 padded to 64)', make: mlp({ inputDim: 3, hiddenDims: [32, 48], activation: 'tanh', seed: 3 }), dim: 3, chains: 37 },
  { name: 'GELU 5-16-16-16-1 (16 padded to 32; noise groups straddle chains)', make: mlp({ inputDim: 5, hiddenDims: [16, 16, 16], activation: 'gelu', seed: 4 }), dim: 5, chains: 29 },
  { name: 'Sigmoid 2-128-1, 3 steps per dispatch', make: mlp({ inputDim: 2, hiddenDims: [128], activation: 'sigmoid', seed: 6 }), dim: 2, chains: 16, opts: { fused: { stepsPerDispatch: 3 } } },
  {
    name: 'SiLU 2-64-64-1 with spectral norm (eval mode)',
    make: () => settledSpectralNorm({ inputDim: 2, hiddenDims: [64, 64], activation: 'silu', seed: 7 }),
    dim: 2,
    chains: 40,
  },
  {
    name: 'NeuralEnergyFunction(Sequential(Linear, Tanh, Linear (no bias), Linear, Linear(., 1)))',
    make: () =>
      new ebm.NeuralEnergyFunction(
        new ebm.Sequential(new ebm.Linear(2, 32, { seed: 8 }), new ebm.Tanh(), new ebm.Linear(32, 40, { bias: false, seed: 9 }), new ebm.Linear(40, 24, { seed: 10 }), new ebm.Linear(24, 1, { seed: 11 })),
      ),
    dim: 2,
    chains: 24,
  },
  { name: 'CustomEnergyModel (SiLU, orthogonal init) 2-64-64-1', make: () => new ebm.CustomEnergyModel({ inputDim: 2, hiddenDim: 64, seed: 12 }), dim: 2, chains: 20 },
];

describe('the fused path gives the general path chains, for the same seed', () => {
  for (const c of CONFIGS)
    fusedIt(c.name, async () => {
      const energy = c.make();
      const steps = c.steps ?? 20;
      const x0 = ebm.randn([c.chains, c.dim], { seed: 100 });
      const base = { stepSize: 0.01, ...c.opts };
      const fused = run(energy, base, x0, steps);
      expect(fused.sampler.fusedSupport()).toEqual({ fused: true });
      const general = run(energy, { ...base, fused: false }, x0, steps);
      const perDispatch = typeof c.opts?.fused === 'object' ? c.opts.fused.stepsPerDispatch! : 32;
      // The packing is copies, not dispatches; spectral norm adds one W / sigma per Linear.
      const sn = energy instanceof ebm.MLPEnergyModel && energy.useSpectralNorm ? energy.hiddenDims.length + 1 : 0;
      expect(fused.dispatches).toBe(Math.ceil(steps / perDispatch) + sn);
      expect(general.dispatches).toBeGreaterThan(steps * 2);
      await expectSameChains(fused.y, general.y, 1e-4);
      for (const t of [x0, fused.y, general.y]) t.dispose();
    });

  fusedIt('chains run in blocks where their scratch would not fit one binding: the same chains, one dispatch per block', async () => {
    const energy = new ebm.MLPEnergyModel({ inputDim: 3, hiddenDims: [64, 32], activation: 'silu', seed: 13 });
    const x0 = ebm.randn([27, 3], { seed: 101 });
    const saved = rt.tuning.langevinMlpMaxChains;
    rt.tuning.langevinMlpMaxChains = '8';
    let blocked;
    try {
      blocked = run(energy, { stepSize: 0.02 }, x0, 12);
    } finally {
      rt.tuning.langevinMlpMaxChains = saved;
    }
    expect(blocked.dispatches).toBe(4);
    const general = run(energy, { stepSize: 0.02, fused: false }, x0, 12).y;
    await expectSameChains(blocked.y, general, 1e-4);
    for (const t of [x0, blocked.y, general]) t.dispose();
  });

  fusedIt('starting from N(0, 1) (no x) draws the same starting points', async () => {
    const energy = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [32], activation: 'tanh', seed: 14 });
    const a = new LangevinDynamics(energy, { stepSize: 0.05 }).sample({ dim: 2, nSamples: 64, nSteps: 10, seed: 3 });
    const b = new LangevinDynamics(energy, { stepSize: 0.05, fused: false }).sample({ dim: 2, nSamples: 64, nSteps: 10, seed: 3 });
    await expectSameChains(a, b, 1e-4);
    a.dispose();
    b.dispose();
  });
});

describe('trajectories and diagnostics: fused chunks end where the chains are recorded', () => {
  fusedIt('thin 5 over 23 steps (chunks of up to 32 cut at 5, 10, 15, 20): trajectory, diagnostics and samples match', async () => {
    const energy = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [64, 64], activation: 'silu', seed: 15 });
    const x0 = ebm.randn([40, 2], { seed: 102 });
    const call = { x: x0, nSteps: 23, thin: 5, returnTrajectory: true, returnDiagnostics: true, seed: 4 } as const;
    const sf = new LangevinDynamics(energy, { stepSize: 0.01 });
    const before = dispatches();
    const f = sf.sample(call);
    const fusedDispatches = dispatches() - before;
    const g = new LangevinDynamics(energy, { stepSize: 0.01, fused: false }).sample(call);
    expect(f.trajectory!.shape).toEqual([40, 4, 2]);
    await expectSameChains(f.trajectory!.reshape([40, 8]), g.trajectory!.reshape([40, 8]), 1e-4);
    await expectSameChains(f.samples, g.samples, 1e-4);
    for (const k of ['mean', 'var', 'energy'] as const) await expectSameChains(f.diagnostics![k].reshape([1, -1]), g.diagnostics![k].reshape([1, -1]), 1e-4);
    // 5 chunks (5, 5, 5, 5, 3 steps) plus what the recorder does at the 4 kept steps.
    expect(fusedDispatches).toBeLessThan(5 + 4 * 12);
    for (const t of [x0, f.samples, f.trajectory!, g.samples, g.trajectory!]) t.dispose();
  });
});

describe('dispatches for a 100-step chain', () => {
  fusedIt('256 chains x 100 steps on the 2-128-128-128-1 SiLU MLP: 4 fused dispatches, against 100 x (the general path per step)', async () => {
    const energy = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [128, 128, 128], activation: 'silu', seed: 16 });
    const x0 = ebm.randn([256, 2], { seed: 103 });
    const fused = run(energy, { stepSize: 0.01 }, x0, 100);
    const general = run(energy, { stepSize: 0.01, fused: false }, x0, 100);
    const oneStep = run(energy, { stepSize: 0.01, fused: false }, x0, 1);
    expect(fused.dispatches).toBe(4);
    expect(general.dispatches).toBe(100 * oneStep.dispatches);
    console.log(`dispatches for 256 chains x 100 steps: fused ${fused.dispatches}, general ${general.dispatches} (${oneStep.dispatches} per step)`);
    // The same with spectral norm in eval mode: plus one W / sigma per Linear, once per call.
    const sn = settledSpectralNorm({ inputDim: 2, hiddenDims: [128, 128, 128], activation: 'silu', seed: 16 });
    expect(run(sn, { stepSize: 0.01 }, x0, 100).dispatches).toBe(4 + 4);
    await expectSameChains(fused.y, general.y, 1e-4);
    for (const t of [x0, fused.y, general.y, oneStep.y]) t.dispose();
  });
});

describe('spectral norm in training mode', () => {
  fusedIt('runs one power iteration at the start of the call (the general path runs one per step) and holds W / sigma for the chain', async () => {
    const make = () => new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [32, 32], activation: 'silu', spectralNorm: true, seed: 17 });
    const a = make();
    const b = make();
    const x0 = ebm.randn([24, 2], { seed: 104 });
    expect(a.training).toBe(true);
    const fused = run(a, { stepSize: 0.01 }, x0, 15).y;
    // The reference: one training-mode forward (one power iteration), then the chain in eval mode.
    ebm.noGrad(() => b.forward(x0)).dispose();
    b.eval();
    const general = run(b, { stepSize: 0.01, fused: false }, x0, 15).y;
    await expectSameChains(fused, general, 1e-4);
    const [ua, ub] = await Promise.all([a.network.at(0).getBuffer('weight_u').data(), b.network.at(0).getBuffer('weight_u').data()]);
    expect(Array.from(ua)).toEqual(Array.from(ub));
    for (const t of [x0, fused, general]) t.dispose();
  });
});

describe('falls back to the general path, without error', () => {
  // Each fallback's chains against fused: false, bit for bit: fused-fallback.test.ts.
  fusedIt('fused: false, and samples whose shape is not [n, inputDim]', () => {
    const energy = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [16], seed: 1 });
    expect(new LangevinDynamics(energy, { fused: false }).fusedSupport()).toEqual({ fused: false, reason: 'switched off (fused: false)' });
    expect(new LangevinDynamics(energy).fusedSupport([2, 1]).reason).toMatch(/not \[2\]/);
    expect(new LangevinDynamics(energy).fusedSupport()).toEqual({ fused: true });
  });

  it('rejects a bad fused option', () => {
    const energy = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [16], seed: 1 });
    expect(() => new LangevinDynamics(energy, { fused: 'yes' as unknown as boolean })).toThrow(/fused must be an object/);
    expect(() => new LangevinDynamics(energy, { fused: { stepsPerDispatch: 0 } })).toThrow(/stepsPerDispatch must be an integer >= 1/);
    expect(() => new LangevinDynamics(energy, { fused: { stepsPerDispatch: 65 } })).toThrow(/at most 64/);
    expect(() => new LangevinDynamics(energy, { fused: { steps: 4 } as unknown as { stepsPerDispatch: number } })).toThrow(/unknown fused key 'steps'/);
  });
});

describe('memory', () => {
  fusedIt('repeated fused calls (with spectral norm) leave live tensors and bytes flat', async () => {
    const energy = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [32, 32], activation: 'silu', spectralNorm: true, seed: 18 });
    const sampler = new LangevinDynamics(energy, { stepSize: 0.01 });
    const x0 = ebm.randn([32, 2], { seed: 105 });
    sampler.sample({ x: x0, nSteps: 5 }).dispose();
    await rt.sync();
    // Tensors earlier tests dropped would otherwise be finalized mid-count.
    await settleGarbage();
    const before = ebm.memory();
    for (let i = 0; i < 50; i++) {
      const r = sampler.sample({ x: x0, nSteps: 5, returnDiagnostics: true });
      for (const t of [r.samples, r.diagnostics!.mean, r.diagnostics!.var, r.diagnostics!.energy]) t.dispose();
    }
    await rt.sync();
    const after = ebm.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    x0.dispose();
  });
});
