// spectralNorm(module) against torch.nn.utils.spectral_norm (scripts/make_nn_spectral_fixtures.py):
// a Linear, a bias-free Linear with 3 power iterations, a strided Conv2d and a Sequential MLP
// (Linear + SiLU fused) get PyTorch's initial state dict through loadStateDict, then run three
// training-mode forwards (outputs, the updated u and v, and parameter gradients compared after
// each) and one eval-mode forward (output compared, u and v untouched). Plus the state-dict
// layout, the parametrization hook, removeSpectralNorm and bad calls.
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm, expectClose, loadFixture } from './helpers.js';

const fx = loadFixture('nn-spectral-norm.safetensors');
interface Case {
  name: string;
  kind: 'linear' | 'conv2d' | 'mlp';
  in: number;
  out?: number;
  hidden?: number;
  bias?: boolean;
  kernel?: number;
  stride?: number;
  padding?: number;
  nPowerIterations: number;
  sn: string[];
  keys: string[];
  input: number[];
  output: number[];
}
const cases: Case[] = JSON.parse(fx.metadata.cases!);

/**
 * 1e-5 relative to each tensor's scale (expectClose): the oracle runs in float64 on the same
 * float32 state and inputs; our f32 sums are of at most 27 products, and the power iteration
 * contracts errors rather than compounding them over the three forwards.
 */
const TOL = 1e-5;

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});

function build(c: Case): ebm.Module {
  const opts = { nPowerIterations: c.nPowerIterations };
  switch (c.kind) {
    case 'linear':
      return ebm.spectralNorm(new ebm.Linear(c.in, c.out!, { bias: c.bias ?? true }), opts);
    case 'conv2d':
      return ebm.spectralNorm(new ebm.Conv2d(c.in, c.out!, c.kernel!, { stride: c.stride, padding: c.padding }), opts);
    case 'mlp':
      return new ebm.Sequential(ebm.spectralNorm(new ebm.Linear(c.in, c.hidden!), opts), new ebm.SiLU(), ebm.spectralNorm(new ebm.Linear(c.hidden!, 1), opts));
  }
}

function initialState(c: Case): Map<string, ebm.Tensor> {
  return new Map(c.keys.map((k) => [k, fx.get(`${c.name}/state/${k}`)]));
}

describe.each(cases)('$name against torch.nn.utils.spectral_norm', (c) => {
  test('the state dict has PyTorch keys in PyTorch order', () => {
    const m = build(c);
    const sd = m.stateDict();
    expect([...sd.keys()]).toEqual(c.keys);
    for (const k of c.keys) expect(sd.get(k)!.shape, k).toEqual(fx.shape(`${c.name}/state/${k}`));
    m.dispose();
  });

  test('three training forwards, then an eval forward', async () => {
    const m = build(c);
    const result = m.loadStateDict(initialState(c));
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [], mismatched: [] });
    const G = fx.get(`${c.name}/G`);
    for (let i = 0; i < 3; i++) {
      const p = `${c.name}/train${i}`;
      m.zeroGrad();
      const y = m.forward(fx.get(`${p}/x`));
      expect(y.shape).toEqual(c.output);
      y.mul(G).sum().backward();
      expectClose(await y.data(), fx.values(`${p}/y`), TOL, `${p} y`);
      for (const sn of c.sn) {
        expectClose(await m.getBuffer(`${sn}_u`).data(), fx.values(`${p}/${sn}_u`), TOL, `${p} ${sn}_u`);
        expectClose(await m.getBuffer(`${sn}_v`).data(), fx.values(`${p}/${sn}_v`), TOL, `${p} ${sn}_v`);
      }
      const named = m.namedParameters();
      expect(named.length).toBeGreaterThan(0);
      for (const [k, param] of named) {
        expect(param.grad, `${p} grad of ${k}`).not.toBeNull();
        expectClose(await param.grad!.data(), fx.values(`${p}/grad/${k}`), TOL, `${p} grad ${k}`);
      }
    }
    m.eval();
    const before = await Promise.all(c.sn.map(async (sn) => [await m.getBuffer(`${sn}_u`).data(), await m.getBuffer(`${sn}_v`).data()]));
    const y = ebm.noGrad(() => m.forward(fx.get(`${c.name}/eval/x`)));
    expectClose(await y.data(), fx.values(`${c.name}/eval/y`), TOL, 'eval y');
    for (const [j, sn] of c.sn.entries()) {
      const u = await m.getBuffer(`${sn}_u`).data();
      const v = await m.getBuffer(`${sn}_v`).data();
      // Eval runs no power iteration: u and v are exactly what they were.
      expect(u).toEqual(before[j]![0]);
      expect(v).toEqual(before[j]![1]);
      expectClose(u, fx.values(`${c.name}/eval/${sn}_u`), TOL, `eval ${sn}_u`);
      expectClose(v, fx.values(`${c.name}/eval/${sn}_v`), TOL, `eval ${sn}_v`);
    }
    m.dispose();
  });
});

describe('the parametrization', () => {
  test('weight_orig is the original Parameter; the forward reads W / sigma through param()', async () => {
    const lin = new ebm.Linear(4, 3, { seed: 1 });
    const w = lin.weight;
    const bias = lin.bias!;
    ebm.spectralNorm(lin, { seed: 2 });
    // torch: the weight parameter moves to weight_orig (same object), registered after bias.
    expect(lin.getParameter('weight_orig')).toBe(w);
    expect(lin.weight).toBe(w);
    expect(lin.bias).toBe(bias);
    expect(lin.namedParameters().map(([k]) => k)).toEqual(['bias', 'weight_orig']);
    expect(lin.namedBuffers().map(([k]) => k)).toEqual(['weight_u', 'weight_v']);
    expect(lin.registeredAs('weight')).toBe('parametrization');
    expect(() => lin.getParameter('weight')).toThrow(/no parameter 'weight'/);
    // u and v start as unit vectors (torch: normalize(randn)).
    for (const [name, n] of [['weight_u', 3], ['weight_v', 4]] as const) {
      const t = lin.getBuffer(name);
      expect(t.shape).toEqual([n]);
      expect(t.requiresGrad).toBe(false);
      const d = await t.data();
      expect(Math.hypot(...d)).toBeCloseTo(1, 6);
    }
    // In eval mode, W / sigma is exactly what ebm.spectralNorm gives on the same u, v.
    lin.eval();
    const wsn = lin.param('weight')!;
    const ref = ebm.spectralNorm(w, lin.getBuffer('weight_u').clone(), lin.getBuffer('weight_v').clone(), { training: false }).weight;
    expect(await wsn.data()).toEqual(await ref.data());
    const x = ebm.randn([2, 4], { seed: 3 });
    expectClose(await lin.forward(x).data(), await ebm.linear(x, ref, bias).data(), 1e-6, 'forward');
    expect(lin.toString()).toContain('spectral_norm(n_power_iterations=1, eps=1e-12)');
    lin.dispose();
  });

  test('training forwards update u and v in place; eval forwards do not; gradients reach weight_orig', async () => {
    const lin = ebm.spectralNorm(new ebm.Linear(6, 5, { seed: 4 }), { seed: 5 });
    const u = lin.getBuffer('weight_u');
    const u0 = await u.data();
    const x = ebm.randn([3, 6], { seed: 6 });
    lin.forward(x).sum().backward();
    expect(lin.getBuffer('weight_u')).toBe(u);
    const u1 = await u.data();
    expect(u1).not.toEqual(u0);
    expect(lin.weight.grad).not.toBeNull();
    expect(lin.bias!.grad).not.toBeNull();
    lin.eval();
    lin.forward(x);
    expect(await u.data()).toEqual(u1);
    lin.dispose();
  });

  test('seeded u and v are reproducible; unseeded ones differ', async () => {
    const a = ebm.spectralNorm(new ebm.Linear(4, 3, { seed: 0 }), { seed: 9 });
    const b = ebm.spectralNorm(new ebm.Linear(4, 3, { seed: 0 }), { seed: 9 });
    const c = ebm.spectralNorm(new ebm.Linear(4, 3, { seed: 0 }));
    const d = ebm.spectralNorm(new ebm.Linear(4, 3, { seed: 0 }));
    expect(await a.getBuffer('weight_u').data()).toEqual(await b.getBuffer('weight_u').data());
    expect(await a.getBuffer('weight_v').data()).toEqual(await b.getBuffer('weight_v').data());
    expect(await c.getBuffer('weight_u').data()).not.toEqual(await d.getBuffer('weight_u').data());
    for (const m of [a, b, c, d]) m.dispose();
  });

  test('a state dict saved from a spectral-norm module loads into another and gives the same output', async () => {
    const a = ebm.spectralNorm(new ebm.Conv2d(2, 3, 3, { padding: 1, seed: 1 }), { seed: 2 });
    const x = ebm.randn([1, 2, 5, 5], { seed: 3 });
    a.forward(x); // one training step moves u and v
    const b = ebm.spectralNorm(new ebm.Conv2d(2, 3, 3, { padding: 1, seed: 7 }), { seed: 8 });
    b.loadStateDict(a.stateDict());
    a.eval();
    b.eval();
    expect(await b.forward(x).data()).toEqual(await a.forward(x).data());
    a.dispose();
    b.dispose();
  });

  test('removeSpectralNorm leaves a plain weight parameter holding W / sigma, appended last as in torch', async () => {
    const lin = ebm.spectralNorm(new ebm.Linear(4, 3, { seed: 1 }), { seed: 2 });
    const x = ebm.randn([2, 4], { seed: 3 });
    lin.forward(x);
    lin.eval();
    const expected = await lin.forward(x).data();
    const live = ebm.memory().liveTensors;
    ebm.removeSpectralNorm(lin);
    expect([...lin.stateDict().keys()]).toEqual(['bias', 'weight']);
    expect(lin.parametrizations.size).toBe(0);
    expect(lin.weight.requiresGrad).toBe(true);
    // weight_orig, weight_u and weight_v are disposed; the new weight replaces them.
    expect(ebm.memory().liveTensors).toBe(live - 2);
    expectClose(await lin.forward(x).data(), expected, 1e-6, 'after removal');
    expect(() => ebm.removeSpectralNorm(lin)).toThrow(/removeSpectralNorm: spectral_norm of 'weight' not found in Linear/);
    lin.dispose();
  });

  test('training steps in tidy scopes leave the live tensor count flat', () => {
    const m = new ebm.Sequential(ebm.spectralNorm(new ebm.Linear(2, 16, { seed: 1 })), new ebm.SiLU(), ebm.spectralNorm(new ebm.Linear(16, 1, { seed: 2 })));
    const x = ebm.randn([32, 2], { seed: 3 });
    const step = () =>
      ebm.tidy(() => {
        m.zeroGrad();
        m.forward(x).square().mean().backward();
      });
    step();
    const live = ebm.memory().liveTensors;
    for (let i = 0; i < 50; i++) step();
    expect(ebm.memory().liveTensors).toBe(live);
    m.eval();
    ebm.tidy(() => void m.forward(x));
    expect(ebm.memory().liveTensors).toBe(live);
    m.dispose();
  });

  test('works on a module cast to f16', async () => {
    const lin = ebm.spectralNorm(new ebm.Linear(8, 4, { seed: 1 }), { seed: 2 });
    const x = ebm.randn([3, 8], { seed: 3 });
    const ref = new ebm.Linear(8, 4, { bias: true });
    const sn = ebm.spectralNorm(ref);
    sn.loadStateDict(lin.stateDict());
    const y32 = await sn.forward(x).data();
    lin.toDtype('f16');
    expect(lin.getBuffer('weight_u').dtype).toBe('f16');
    const u16before = await lin.getBuffer('weight_u').data();
    const y16 = await lin.forward(x).data();
    // f16 storage of W, b, u, v: about 3 significant digits.
    expectClose(y16, y32, 5e-3, 'f16 forward');
    expect(await lin.getBuffer('weight_u').data()).not.toEqual(u16before);
    lin.dispose();
    sn.dispose();
  });
});

describe('bad calls', () => {
  test.each([
    ['twice on one parameter', () => ebm.spectralNorm(ebm.spectralNorm(new ebm.Linear(2, 2))), /cannot register two spectral_norm hooks on the same parameter weight of Linear/],
    ['a missing parameter', () => ebm.spectralNorm(new ebm.Linear(2, 2), { name: 'kernel' }), /spectralNorm: Linear has no parameter 'kernel'/],
    ['a null parameter', () => ebm.spectralNorm(new ebm.Linear(2, 2, { bias: false }), { name: 'bias' }), /cannot be applied as parameter 'bias' of Linear is null/],
    ['a rank-1 parameter', () => ebm.spectralNorm(new ebm.Linear(2, 2), { name: 'bias' }), /parameter 'bias' of Linear must have rank >= 2/],
    ['zero power iterations', () => ebm.spectralNorm(new ebm.Linear(2, 2), { nPowerIterations: 0 }), /nPowerIterations to be a positive integer.*got 0/],
    ['a negative eps', () => ebm.spectralNorm(new ebm.Linear(2, 2), { eps: -1 }), /eps must be a finite number >= 0, got -1/],
    ['dim 1', () => ebm.spectralNorm(new ebm.Linear(2, 2), { dim: 1 }), /only dim = 0/],
  ] as const)('%s', (_what, call, message) => {
    expect(call).toThrow(message);
  });

  test('a failed call leaves the module as it was', () => {
    const lin = new ebm.Linear(2, 2);
    expect(() => ebm.spectralNorm(lin, { nPowerIterations: 0 })).toThrow();
    expect([...lin.stateDict().keys()]).toEqual(['weight', 'bias']);
    lin.dispose();
  });

  test('the tensor form still reaches the op', () => {
    expect(() => ebm.spectralNorm([1] as unknown as ebm.Tensor, ebm.zeros([1]), ebm.zeros([1]))).toThrow(/spectralNorm: weight must be a Tensor, got object/);
  });
});
