// Conv2d in modules: the fused Conv2d + activation of Sequential (and so of ConvEnergyModel)
// against the same layers run one by one, ConvEnergyModel against the seed's PyTorch class
// (scripts/make_conv_fixtures.py: conv-energy.safetensors), its feature size from the conv
// arithmetic, and the input-only gradient a Langevin step takes.
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm, expectClose, loadFixture } from './helpers.js';

const TOL = 1e-5;

beforeAll(async () => {
  await device();
});

/** Runs a Sequential's children one at a time (no fusion), as PyTorch would. */
const unfused = (seq: ebm.Sequential, x: ebm.Tensor): ebm.Tensor => [...seq].reduce((h, m) => m.forward(h) as ebm.Tensor, x);

describe('Sequential fuses Conv2d + activation into the conv dispatch', () => {
  const build = () =>
    new ebm.Sequential(new ebm.Conv2d(3, 8, 3, { padding: 1, seed: 1 }), new ebm.LeakyReLU(0.2), new ebm.Conv2d(8, 6, 3, { stride: 2, padding: 1, seed: 2 }), new ebm.SiLU(), new ebm.Conv2d(6, 4, 3, { seed: 3 }));

  test('same outputs and parameter gradients as the layers run one by one, two dispatches fewer', async () => {
    const rt = await device();
    const seq = build();
    const x = ebm.randn([2, 3, 9, 11], { seed: 4 });
    let before = rt.stats.dispatches;
    const ref = unfused(seq, x);
    const unfusedDispatches = rt.stats.dispatches - before;
    before = rt.stats.dispatches;
    const y = seq.forward(x) as ebm.Tensor;
    // Two activation dispatches folded into the convolutions.
    expect(rt.stats.dispatches - before).toBe(unfusedDispatches - 2);
    expectClose(await y.data(), await ref.data(), TOL, 'fused forward');
    const grads = async (out: ebm.Tensor) => {
      seq.zeroGrad();
      out.square().sum().backward();
      return Promise.all(seq.parameters().map((p) => p.grad!.data()));
    };
    const gRef = await grads(unfused(seq, x));
    const gFused = await grads(seq.forward(x) as ebm.Tensor);
    gFused.forEach((g, i) => expectClose(g, gRef[i]!, 1e-4, `parameter ${i}`));
  });
});

interface EnergyCase {
  id: string;
  inputChannels: number;
  imageSize: number;
  channels: number[];
  seedClass: boolean;
  keys: string[];
}

describe('ConvEnergyModel against the seed class in PyTorch', () => {
  const fx = loadFixture('conv-energy.safetensors');
  const cases: EnergyCase[] = JSON.parse(fx.metadata.cases!);

  test.each(cases.map((c) => [c.id, c] as const))('%s: state dict keys, energies and dE/dx', async (_id, c) => {
    const m = new ebm.ConvEnergyModel({ inputChannels: c.inputChannels, imageSize: c.imageSize, channels: c.channels });
    expect([...m.stateDict().keys()]).toEqual(c.keys);
    const res = m.loadStateDict(Object.fromEntries(c.keys.map((k) => [k, fx.get(`${c.id}/sd/${k}`)])));
    expect(res).toEqual({ missingKeys: [], unexpectedKeys: [], mismatched: [] });
    const x = fx.get(`${c.id}/x`);
    expectClose(await m.forward(x).data(), fx.values(`${c.id}/energy`), TOL, 'energies');
    expectClose(await m.gradient(x).data(), fx.values(`${c.id}/grad_x`), TOL, 'dE/dx');
  }, 300_000);

  test("the feature size is the convolutions' output, also where the seed's image_size // 2^n is wrong", () => {
    // 28 -> 14 -> 7 -> 4 (the seed's formula gives 28 // 8 = 3).
    expect(new ebm.ConvEnergyModel({ inputChannels: 1, imageSize: 28, channels: [32, 64, 128] }).featureSize).toBe(4);
    expect(new ebm.ConvEnergyModel({ inputChannels: 1, imageSize: 28, channels: [32, 64] }).featureSize).toBe(7);
    expect(new ebm.ConvEnergyModel({ inputChannels: 3, imageSize: 32 }).featureSize).toBe(2);
  });
});

describe("the image Langevin step's gradient", () => {
  test('dE/dx of a ConvEnergyModel runs no weight-gradient work and leaves no parameter gradient', async () => {
    const rt = await device();
    const m = new ebm.ConvEnergyModel({ inputChannels: 1, imageSize: 28, channels: [32, 64], seed: 1 });
    const x = ebm.rand([4, 1, 28, 28], { seed: 2 });
    await m.gradient(x).data(); // compile
    let before = rt.stats.dispatches;
    const g = m.gradient(x);
    const inputOnly = rt.stats.dispatches - before;
    await g.data();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
    before = rt.stats.dispatches;
    m.forward(x).sum().backward();
    const full = rt.stats.dispatches - before;
    // A full backward adds, per conv layer, the weight gradient (packing, GEMM and chunk sum)
    // and the bias sum, and per linear layer a weight GEMM and a bias sum.
    expect(inputOnly).toBeLessThanOrEqual(full - 2 * 2 - 2 * 2);
    console.log(`ConvEnergyModel [32, 64] on 28x28: ${inputOnly} dispatches per dE/dx (forward + input-only backward), ${full} with parameter gradients`);
  }, 300_000);
});
