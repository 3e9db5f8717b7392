// Issue 10, item 1: MALA, HMC, tempered Langevin, the tempering swap and the chain statistics on
// chains over maxStorageBufferBindingSize split by blocks of chains (src/kernels/chain-blocks.ts):
// each block binds windows of its chains' rows and a compact copy of its chain-table columns,
// and every random number is keyed by the global chain or element, so a split run must give
// the same chains, accept counts and swaps as the unsplit one, bit for bit. The window is shrunk
// through rt.tuning.windowBytes so the split paths run on small tensors. The chain statistics
// add the blocks' partial sums: equal to a float64 host computation to round-off.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { caught, device, ebm, LONG, expectSameBits } from './helpers.js';
import { philox, unit } from './philox.js';
import type { Tensor } from '../src/index.js';
import { GaussianEnergy } from '../src/nn/energies/index.js';
import { chainStats_, malaPropose_ } from '../src/tensor/ops/fused/index.js';
import { HamiltonianMonteCarlo, MetropolisAdjustedLangevin, ParallelTempering } from '../src/train/index.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
  if (!LONG) console.log('split-mcmc: MALA on 134 MB of chains (over the real 128 MiB binding limit) is skipped in npm test (~700 MB and ~10 s on lavapipe); npm run test:long runs it');
});

afterEach(() => {
  delete rt.tuning.windowBytes;
});

interface Run {
  samples: Tensor;
  diagnostics?: object;
}

/** `sample()` unsplit and with windows of `bytes`: each run's dispatches and its outputs read back. */
async function both(sample: () => Run, bytes: number) {
  const once = async () => {
    const before = rt.stats.dispatches;
    const r = sample();
    const dispatches = rt.stats.dispatches - before;
    const out: Record<string, Float32Array> = { samples: await r.samples.data() };
    const diagnostics = Object.entries(r.diagnostics ?? {}) as [string, Tensor | undefined][];
    for (const [k, t] of diagnostics) if (t) out[k] = await t.data();
    for (const t of [r.samples, ...diagnostics.map(([, t]) => t)]) t?.dispose();
    return { out, dispatches };
  };
  const whole = await once();
  rt.tuning.windowBytes = String(bytes);
  const split = await once();
  delete rt.tuning.windowBytes;
  return { whole, split };
}

const gauss = (d: number) =>
  new GaussianEnergy(
    Array.from({ length: d }, (_, i) => 0.1 * i),
    Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 + (i % 3) * 0.5 : 0))),
  );

describe('MCMC samplers on chains over one binding, split by blocks of chains', () => {
  it.each([
    [3, 1000, 4096, 0.2],
    [100, 300, 65_536, 1],
  ])('MALA (d = %i, %i chains, %i-byte windows, h = %f): the same chains and per-chain acceptance as unsplit', async (d, chains, bytes, h) => {
    const x0 = ebm.randn([chains, d], { seed: 11 });
    const r = await both(() => new MetropolisAdjustedLangevin(gauss(d), { stepSize: h }).sample({ x: x0, nSteps: 3, returnDiagnostics: true, seed: 12 }), bytes);
    expect(r.split.dispatches, 'blocks of chains').toBeGreaterThan(r.whole.dispatches);
    expectSameBits(r.whole.out.samples!, r.split.out.samples!, 'MALA chains');
    expectSameBits(r.whole.out.chainAcceptanceRate!, r.split.out.chainAcceptanceRate!, 'MALA per-chain acceptance');
    // Some proposals were taken and some refused, in the split run too.
    const rates = r.split.out.chainAcceptanceRate!;
    expect(rates.some((v) => v > 0) && rates.some((v) => v < 1)).toBe(true);
    x0.dispose();
  });

  it('HMC (d = 3, 1,000 chains, 3 leapfrog steps, 4 KB windows): the same chains and per-chain acceptance as unsplit', async () => {
    const x0 = ebm.randn([1000, 3], { seed: 13 });
    const r = await both(() => new HamiltonianMonteCarlo(gauss(3), { stepSize: 0.5, nLeapfrogSteps: 3 }).sample({ x: x0, nSteps: 3, returnDiagnostics: true, seed: 14 }), 4096);
    expect(r.split.dispatches).toBeGreaterThan(r.whole.dispatches);
    expectSameBits(r.whole.out.samples!, r.split.out.samples!, 'HMC chains');
    expectSameBits(r.whole.out.chainAcceptanceRate!, r.split.out.chainAcceptanceRate!, 'HMC per-chain acceptance');
    const rates = r.split.out.chainAcceptanceRate!;
    expect(rates.some((v) => v > 0) && rates.some((v) => v < 1)).toBe(true);
    x0.dispose();
  });

  it.each(['mala', 'langevin'] as const)('ParallelTempering (%s replicas, 5 x 100 chains, 4 KB windows): swaps by whole pairs of replicas, unaligned windows; the same chains and swap rates as unsplit', async (transition) => {
    const x0 = ebm.randn([100, 2], { seed: 15 });
    // 500 chains: each pair of replicas (800 bytes of x, 3,200 with the 4-row chain table)
    // fits a 4 KB window; the five replicas' table (8,000 bytes) does not. Pair blocks start at
    // chain 100 or 300 (800 or 2,400 bytes into x): not on a 256-byte boundary.
    const pt = () => new ParallelTempering(gauss(2), { nReplicas: 5, maxTemperature: 8, stepSize: 0.1, swapEvery: 1, transition });
    const r = await both(() => pt().sample({ x: x0, nSteps: 6, returnDiagnostics: true, seed: 16 }), 4096);
    expect(r.split.dispatches).toBeGreaterThan(r.whole.dispatches);
    expectSameBits(r.whole.out.samples!, r.split.out.samples!, 'T = 1 chains');
    expectSameBits(r.whole.out.swapAcceptanceRate!, r.split.out.swapAcceptanceRate!, 'swap rates');
    expect(r.split.out.swapAcceptanceRate!.some((v) => v > 0), 'some swaps accepted').toBe(true);
    x0.dispose();
  });

  it('a pair of replicas over one window is refused by name, with the sizes and the limit', () => {
    const x0 = ebm.randn([300, 2], { seed: 17 });
    rt.tuning.windowBytes = '4096';
    const err = caught(() => new ParallelTempering(gauss(2), { nReplicas: 3, stepSize: 0.1, swapEvery: 1 }).sample({ x: x0, nSteps: 1, seed: 1 }));
    delete rt.tuning.windowBytes;
    expect(err.message).toMatch(/temperingSwap_: one pair of neighbouring replicas \(2 x 300 chains of 2 floats, 9600 bytes with their chain table\) is over this device's binding window of 3840 bytes/);
    x0.dispose();
  });

  it('chains too long for the smallest block (64 aligned chains) over one window are refused by name, with the sizes and the limit', () => {
    const x = ebm.zeros([100, 100]);
    const state = { x, grad: ebm.zeros([100, 100]), chain: ebm.zeros([3, 100]), xp: ebm.zeros([100, 100]), beta: ebm.ones([100]) };
    rt.tuning.windowBytes = '4096';
    const err = caught(() => malaPropose_(state, { step: 0, key: { lo: 1, hi: 2 }, h: 0.1 }));
    delete rt.tuning.windowBytes;
    expect(err.message).toMatch(/^malaPropose_: 64 chains of 100 floats \(25600 bytes, the fewest a block of chains over one binding may hold\) are over this device's binding window of 4096 bytes \(maxStorageBufferBindingSize \d+\)/);
    for (const t of Object.values(state)) t.dispose();
  });
});

describe('chain statistics over one binding', () => {
  it('chainStats_ on 1,000 chains of 3 dims and 2 scalars in blocks under 4 KB windows: the host mean and variance of every column', async () => {
    const chains = 1000;
    const d = 3;
    const x = ebm.randn([chains, d], { seed: 18 }).mul(2).add(5);
    const scalars = ebm.randn([3, chains], { seed: 19 }).add(1);
    const tables = () => ({ mean: ebm.zeros([2, d]), variance: ebm.zeros([2, d]), scalarMean: ebm.zeros([2, 2]) });
    const [xv, sv] = [await x.data(), await scalars.data()];
    // The float64 two-pass oracle; f32 sums of 1,000 values of size ~5 (squares ~4) agree with
    // it to ~1e-6 relative whatever the order: 2e-5 relative is generous and still fails any
    // missing, doubled or mis-shifted block (each moves a mean by ~1/8).
    const host = (col: (i: number) => number) => {
      let m = 0;
      for (let i = 0; i < chains; i++) m += col(i);
      m /= chains;
      let v = 0;
      for (let i = 0; i < chains; i++) v += (col(i) - m) ** 2;
      return [m, v / chains] as const;
    };
    const close = (got: number, want: number, what: string) => expect(Math.abs(got - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(2e-5 * Math.max(1, Math.abs(want)));
    for (const bytes of [0, 4096]) {
      if (bytes) rt.tuning.windowBytes = String(bytes);
      const t = tables();
      const before = rt.stats.dispatches;
      chainStats_(x, scalars, t, 1);
      const dispatches = rt.stats.dispatches - before;
      delete rt.tuning.windowBytes;
      // Unsplit: one dispatch; split: per block one for x, one per scalar, one for the variance.
      expect(dispatches, `dispatches (window ${bytes})`).toBe(bytes ? 4 * 4 : 1);
      const [mean, variance, sm] = [await t.mean.data(), await t.variance.data(), await t.scalarMean.data()];
      for (let j = 0; j < d; j++) {
        const [m, v] = host((i) => xv[i * d + j]!);
        close(mean[d + j]!, m, `mean[${j}] (window ${bytes})`);
        close(variance[d + j]!, v, `variance[${j}] (window ${bytes})`);
        expect(mean[j], 'row 0 untouched').toBe(0);
      }
      for (let s = 0; s < 2; s++) close(sm[s * 2 + 1]!, host((i) => sv[s * chains + i]!)[0], `scalar mean ${s} (window ${bytes})`);
      expect([sm[0], sm[2]], 'other rows untouched').toEqual([0, 0]);
      for (const v of Object.values(t)) v.dispose();
    }
    x.dispose();
    scalars.dispose();
  });
});

describe('over the real binding limit (LONG)', () => {
  // [8.4M, 4] f32 is 134.2 MB, over lavapipe's 128 MiB maxStorageBufferBindingSize.
  const n = 8_390_000;
  const d = 4;
  it.runIf(LONG)(`malaPropose_ and malaAccept_ on [${n}, ${d}] chains: the last chains' proposals are the host Philox normals, and all are taken`, async () => {
    const h = 0.125;
    const seed = { lo: 7, hi: 9 };
    const step = 3;
    const state = { x: ebm.zeros([n, d]), grad: ebm.zeros([n, d]), chain: ebm.zeros([3, n]), xp: ebm.zeros([n, d]), beta: ebm.ones([n]) };
    expect(state.x.storage.buffer.size).toBeGreaterThan(rt.maxBindingSize);
    ebm.fused.malaPropose_(state, { step, key: seed, h });
    // From x = grad = 0, xp = sqrt(2h) eps: eps of element e is lane e % 4 of the Box-Muller
    // pair of Philox(e / 4, step, 3, 0) (shaders/philox.wgsl); the GPU's log/cos agree to ~1e-6.
    const eps = (e: number) => {
      const w = philox([e >>> 2, step, 3, 0], [seed.lo, seed.hi]).map(unit);
      const [u, t] = (e & 3) < 2 ? [w[0]!, w[1]!] : [w[2]!, w[3]!];
      const r = Math.sqrt(-2 * Math.log(u));
      return (e & 1) === 0 ? r * Math.cos(2 * Math.PI * t) : r * Math.sin(2 * Math.PI * t);
    };
    const tail = state.xp.slice(0, n - 3, n);
    const got = await tail.data();
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - Math.sqrt(2 * h) * eps((n - 3) * d + i)), `element ${(n - 3) * d + i}`).toBeLessThan(1e-4);
    // With zero gradients both proposal densities match and the energies are 0: log a = 0, so
    // every chain (log u < 0) takes its proposal and counts it.
    const gradP = ebm.zeros([n, d]);
    const energyP = ebm.zeros([n]);
    ebm.fused.malaAccept_(state, gradP, energyP, { step, key: seed, h });
    const [xTail, counts] = [state.x.slice(0, n - 3, n), state.chain.slice(0, 2, 3).sum()];
    expect(Array.from(await xTail.data())).toEqual(Array.from(got));
    expect((await counts.data())[0]).toBe(n);
    for (const t of [...Object.values(state), tail, gradP, energyP, xTail, counts]) t.dispose();
  }, 300_000);
});
