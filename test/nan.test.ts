// PyTorch's NaN semantics (issue 10, item 6): max/min reductions, maximum/minimum, clamp, relu,
// leakyRelu, logsumexp and the comparisons on inputs holding NaN, forward and gradient, against
// scripts/make_nan_fixtures.py. A NaN in the expected tensor must be NaN here, at the same place;
// every other element is held to ops.fixtures.test.ts's bound (1e-5 of the tensor's scale).
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm, expectClose, isFixtureTensorArg, loadFixture, type FixtureOpCase } from './helpers.js';

type Case = FixtureOpCase;

const fx = loadFixture('nan.safetensors');
const cases: Case[] = JSON.parse(fx.metadata.cases!);
const TOL = 1e-5;

const isTensorArg = isFixtureTensorArg;

/** NaN exactly where expected is NaN, the rest close. */
function expectNaNClose(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const nanAt = (a: Float32Array) => [...a.keys()].filter((i) => Number.isNaN(a[i]));
  expect(nanAt(actual), `${what}: NaN positions`).toEqual(nanAt(expected));
  const keep = [...expected.keys()].filter((i) => !Number.isNaN(expected[i]));
  expectClose(keep.map((i) => actual[i]!), keep.map((i) => expected[i]!), TOL, what);
}

beforeAll(async () => {
  await device();
});

describe('NaN semantics against PyTorch', () => {
  test('every case but the control (no NaN) holds a NaN input', () => {
    expect(cases.length).toBe(27);
    for (const c of cases) if (!c.name.includes('no NaN')) expect(c.args.filter(isTensorArg).some((a) => fx.values(a.tensor).some(Number.isNaN)), c.name).toBe(true);
  });

  test.each(cases.map((c) => [`${c.id} ${c.name}`, c] as const))('%s', async (_name, c) => {
    const inputs: [string, ebm.Tensor][] = [];
    const args = c.args.map((a) => {
      if (!isTensorArg(a)) return a;
      const t = fx.get(a.tensor);
      if (a.grad) t.requiresGrad = true;
      inputs.push([a.tensor, t]);
      return t;
    });
    const fn =
      c.call === 'method'
        ? (args[0] as unknown as Record<string, (...x: unknown[]) => ebm.Tensor>)[c.op]!.bind(args[0])
        : (ebm as unknown as Record<string, (...x: unknown[]) => ebm.Tensor>)[c.op]!;
    const out = c.call === 'method' ? fn(...args.slice(1)) : fn(...args);
    expect(out.shape).toEqual(fx.shape(`${c.id}/out`));
    expectNaNClose(await out.data(), fx.values(`${c.id}/out`), `${c.id} ${c.name} forward`);
    if (fx.has(`${c.id}/gout`)) {
      out.backward(fx.get(`${c.id}/gout`));
      for (const [key, t] of inputs) {
        if (!fx.has(`${key}/grad`)) continue;
        expect(t.grad, `${key} has a gradient`).not.toBeNull();
        expectNaNClose(await t.grad!.data(), fx.values(`${key}/grad`), `${c.id} ${c.name} grad of ${key}`);
      }
    }
  });

  // The cases, spelt out.
  test('max([1, NaN, 3]) is NaN, maximum(NaN, 2) is NaN, clamp(NaN, 0, 2) is NaN', async () => {
    expect((await ebm.tensor([1, NaN, 3]).max().data())[0]).toBeNaN();
    expect((await ebm.tensor([1, NaN, 3]).min().data())[0]).toBeNaN();
    expect((await ebm.maximum(ebm.tensor([NaN]), 2).data())[0]).toBeNaN();
    expect((await ebm.minimum(ebm.tensor([NaN]), 2).data())[0]).toBeNaN();
    expect((await ebm.tensor([NaN]).clamp(0, 2).data())[0]).toBeNaN();
  });

  // The fused steps that clamp or take a running max follow the same rule.
  test.each([
    ['general', { fused: false as const }],
    ['fused', {}],
  ])("Langevin's clamp keeps a NaN chain NaN (%s path) and clamps the others", async (path, opt) => {
    const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [8], activation: 'silu', seed: 2 });
    const sampler = new ebm.LangevinDynamics(model, { stepSize: 0.5, noiseScale: 1, clamp: { min: -0.25, max: 0.25 }, ...opt });
    const start = new Float32Array(16 * 2).map((_, i) => (i % 2 ? 3 : -3));
    start[4] = NaN; // chain 2
    const x = ebm.tensor(start, [16, 2]);
    const before = ebm.getDevice().stats.dispatches;
    const y = await sampler.sample({ x, nSteps: 3, seed: 1 }).data();
    const dispatches = ebm.getDevice().stats.dispatches - before;
    if (path === 'fused' && ebm.fused.langevinMlpUsable(ebm.getDevice())) expect(dispatches, 'the fused kernel ran').toBeLessThan(4);
    // Chain 2's gradient is NaN, so both its coordinates become NaN; torch.clamp keeps NaN.
    expect(Number.isNaN(y[4]!) && Number.isNaN(y[5]!), `chain 2: ${y[4]}, ${y[5]}`).toBe(true);
    for (let i = 0; i < y.length; i++) if (i !== 4 && i !== 5) expect(Math.abs(y[i]!), `element ${i}`).toBeLessThanOrEqual(0.25);
  });

  test("AMSGrad's running max of v propagates NaN, as torch.maximum does", async () => {
    const w = ebm.tensor([1, 2, 3], { requiresGrad: true });
    const opt = new ebm.Adam([w], { lr: 0.1, amsgrad: true });
    w.grad = ebm.tensor([0.5, NaN, -0.5]);
    opt.step();
    const sd = await opt.stateDict();
    const maxV = await (sd.state[0]!.max_exp_avg_sq as ebm.Tensor).data();
    expect(Number.isNaN(maxV[1]!)).toBe(true);
    // The others: (1 - beta2) g^2 = 0.001 * 0.25.
    expect(maxV[0]).toBeCloseTo(0.00025, 9);
    expect(maxV[2]).toBeCloseTo(0.00025, 9);
    opt.dispose();
  });
});
