// Issue 10, item 3: a long synchronous recording (no await, so no event-loop turn, so Dawn
// frees no bind group) must run to the end: an op whose uniform changes every call (a scalar
// operand, a sampler's step) reuses its slot's uniform buffers and so its bind groups.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, LONG } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

describe('long synchronous recordings', () => {
  // 100,000 under `npm run test:long` (past the ~62,000 where Node once died); 20,000 in npm test:
  // the bound of 2,000 bind groups already fails the old one-per-op behaviour tenfold.
  const nOps = LONG ? 100_000 : 20_000;
  it(`${nOps.toLocaleString('en')} ops with a different scalar each, recorded without an await, run to the end with a bounded number of bind groups`, async () => {
    // Before: one new bind group per op; Node died (SIGSEGV) after ~62,000.
    const x = ebm.ones([16]);
    const acc = ebm.zeros([16]);
    const b0 = rt.stats.bindGroups;
    let expected = 0;
    for (let i = 0; i < nOps; i++) {
      const y = x.mul(i % 7);
      expected += i % 7;
      if (i % 1000 === 0) ebm.tidy(() => acc.assign(acc.add(y)));
      else expected -= i % 7;
      y.dispose();
    }
    const created = rt.stats.bindGroups - b0;
    expect(created).toBeLessThan(2000);
    const v = await acc.data();
    expect([...v]).toEqual(new Array(16).fill(expected));
    x.dispose();
    acc.dispose();
  }, 60_000);

  // 800 steps: the old ~1.6 bind groups a step would make ~1,300, over the bound of 500 below.
  const nSteps = LONG ? 20_000 : 800;
  it(`the unfused Langevin sampler records ${nSteps} steps of a small MLP without an await, twice, and the second run makes almost no bind groups`, async () => {
    // Before: each step's uniforms (its step number, its seed) and the pool's shifting choice
    // of buffers made new bind groups, ~1.6 a step; now a step reuses the last one's.
    const energy = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [8], seed: 1 });
    const sampler = new ebm.LangevinDynamics(energy, { stepSize: 0.01, fused: false });
    const b0 = rt.stats.bindGroups;
    const x = sampler.sample({ nSamples: 16, dim: 2, nSteps, seed: 2 });
    const b1 = rt.stats.bindGroups;
    const x2 = sampler.sample({ nSamples: 16, dim: 2, nSteps, seed: 3 });
    // Growing with the steps (as before: ~1.6 a step), 800 steps would make ~1,300.
    expect(b1 - b0).toBeLessThan(500);
    expect(rt.stats.bindGroups - b1, `bind groups made by the second run (the first made ${b1 - b0})`).toBeLessThan(100);
    const [v, v2] = await Promise.all([x.data(), x2.data()]);
    expect(v.every(Number.isFinite) && v2.every(Number.isFinite)).toBe(true);
    expect([...v]).not.toEqual([...v2]);
    x.dispose();
    x2.dispose();
  }, 300_000);

  // 200 steps: the old ~17 bind groups a step would make ~3,400, over the bound of 500 below.
  const resSteps = LONG ? 5_000 : 200;
  it(`the unfused Langevin sampler on a ResNet energy records ${resSteps} steps without an await, twice, and the second run makes almost no bind groups`, async () => {
    const energy = new ebm.ResNetEnergyModel({ inputDim: 2, hiddenDim: 8, nBlocks: 2, seed: 1 });
    const sampler = new ebm.LangevinDynamics(energy, { stepSize: 0.01, fused: false });
    const b0 = rt.stats.bindGroups;
    const x = sampler.sample({ nSamples: 16, dim: 2, nSteps: resSteps, seed: 2 });
    const b1 = rt.stats.bindGroups;
    const x2 = sampler.sample({ nSamples: 16, dim: 2, nSteps: resSteps, seed: 3 });
    // Before: ~17 new bind groups a step (storage buffers came back from the pool in an order
    // that shifted with the submission boundaries), so a few thousand steps crashed Node.
    expect(b1 - b0).toBeLessThan(500);
    expect(rt.stats.bindGroups - b1, `bind groups made by the second run (the first made ${b1 - b0})`).toBeLessThan(100);
    const [v, v2] = await Promise.all([x.data(), x2.data()]);
    expect(v.every(Number.isFinite) && v2.every(Number.isFinite)).toBe(true);
    x.dispose();
    x2.dispose();
  }, 300_000);
});
