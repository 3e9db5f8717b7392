// Issue 10, item 1: the samplers on chains whose state is over maxStorageBufferBindingSize split
// by chains. The fused MLP kernel runs blocks of chains, each binding a window of x; the
// general path's ops (matmul by rows, elementwise, reductions, the activation gradient, the
// Langevin update) bind windows. Each chain's noise is keyed by its global index, so the split
// run must give the same numbers as the unsplit one, bit for bit. Here the window is shrunk
// through rt.tuning.windowBytes so the split paths run on small tensors (test/limits.test.ts
// runs real chains over the 128 MiB limit under LONG). Also where, split over windows.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, fusedIt, expectSameBits } from './helpers.js';
import { LangevinDynamics } from '../src/train/index.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

afterEach(() => {
  delete rt.tuning.windowBytes;
});

/** The chains after `nSteps` steps from x0, unsplit and with windows of `bytes`, and each run's dispatches. */
async function sampleBoth(fused: boolean, chains: number, bytes: number, nSteps: number) {
  const energy = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [16, 16], seed: 3 });
  const x0 = ebm.randn([chains, 2], { seed: 4 });
  const run = async () => {
    const before = rt.stats.dispatches;
    const y = new LangevinDynamics(energy, { stepSize: 0.01, noiseScale: 1, fused }).sample({ x: x0, nSteps, seed: 5 });
    const dispatches = rt.stats.dispatches - before;
    const v = await y.data();
    y.dispose();
    return { v, dispatches };
  };
  const whole = await run();
  rt.tuning.windowBytes = String(bytes);
  const split = await run();
  delete rt.tuning.windowBytes;
  const start = await x0.data();
  x0.dispose();
  for (const p of energy.parameters()) p.dispose();
  return { whole, split, start };
}

describe('Langevin on chains over one binding', () => {
  fusedIt('fused MLP kernel: 10,000 chains (80 KB of x) in blocks under 64 KB windows, each binding a window of x; the same chains as unsplit', async () => {
    const r = await sampleBoth(true, 10_000, 65_536, 3);
    expect(r.split.dispatches, 'blocks of chains').toBeGreaterThan(r.whole.dispatches);
    expectSameBits(r.whole.v, r.split.v, 'fused chains');
    // The steps moved every chain (noise of scale sqrt(2 h) ~ 0.14 per step).
    expect(r.split.v.every((v, i) => v !== r.start[i])).toBe(true);
  });

  it('general path (fused: false): 1,000 chains, every op over 4 KB windows; the same chains as unsplit', async () => {
    const r = await sampleBoth(false, 1000, 4096, 2);
    expect(r.split.dispatches).toBeGreaterThan(2 * r.whole.dispatches);
    expectSameBits(r.whole.v, r.split.v, 'general chains');
    expect(r.split.v.every((v, i) => v !== r.start[i])).toBe(true);
  });
});

describe('where over windows', () => {
  it('same-shape, a broadcast row and a broadcast column condition: the same values as unsplit', async () => {
    const a = ebm.randn([100, 97], { seed: 6 });
    const b = ebm.randn([100, 97], { seed: 7 });
    const row = ebm.randn([97], { seed: 8 }).gt(0);
    const col = ebm.randn([100, 1], { seed: 9 }).gt(0);
    const cond = a.gt(b);
    for (const [what, make] of [
      ['where(a > b, a, b)', () => ebm.where(cond, a, b)],
      ['where(row, a, b)', () => ebm.where(row, a, b)],
      ['where(col, b, a)', () => ebm.where(col, b, a)],
      ['where(a > b, 2, b)', () => ebm.where(cond, 2, b)],
    ] as const) {
      const w = make();
      const whole = await w.data();
      w.dispose();
      rt.tuning.windowBytes = '4096';
      const before = rt.stats.dispatches;
      const s = make();
      expect(rt.stats.dispatches - before, what).toBeGreaterThan(5);
      delete rt.tuning.windowBytes;
      expectSameBits(whole, await s.data(), what);
      s.dispose();
    }
    for (const t of [a, b, row, col, cond]) t.dispose();
  });
});
