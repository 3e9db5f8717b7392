// nn init: PyTorch's distributions, gains and fans (mean and std of large initialised tensors
// against the values derived from torch.nn.init's formulas, stated per case), orthogonal_
// (QᵀQ = I or QQᵀ = I to 1e-5 for tall, wide, square and conv-shaped weights), seeding and
// bad calls.
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm } from './helpers.js';

beforeAll(async () => {
  await device();
});

function moments(d: Float32Array): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of d) {
    s += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = s / d.length;
  let ss = 0;
  for (const v of d) ss += (v - mean) ** 2;
  return { mean, std: Math.sqrt(ss / (d.length - 1)), min, max };
}

type Dist = 'uniform' | 'normal';

/**
 * Checks the sample against N(mean, std) or U(mean ± sqrt(3) std): the sample mean within 5
 * standard errors (std / sqrt(n)), the sample std within 5 of its standard errors
 * (std * sqrt((kurtosis - 1) / 4n), kurtosis 9/5 for uniform, 3 for normal); a uniform sample
 * stays inside its bounds and comes within 0.2% of them.
 */
async function expectDistribution(t: ebm.Tensor, dist: Dist, mean: number, std: number, what: string) {
  const d = await t.data();
  const n = d.length;
  const m = moments(d);
  const kurtosis = dist === 'uniform' ? 9 / 5 : 3;
  expect(Math.abs(m.mean - mean), `${what}: mean ${m.mean} vs ${mean}`).toBeLessThanOrEqual((5 * std) / Math.sqrt(n));
  expect(Math.abs(m.std / std - 1), `${what}: std ${m.std} vs ${std}`).toBeLessThanOrEqual(5 * Math.sqrt((kurtosis - 1) / (4 * n)));
  if (dist === 'uniform') {
    const bound = Math.sqrt(3) * std;
    expect(m.min, `${what}: min`).toBeGreaterThanOrEqual(mean - bound * (1 + 1e-6));
    expect(m.max, `${what}: max`).toBeLessThanOrEqual(mean + bound * (1 + 1e-6));
    expect(m.min, `${what}: min reaches the bound`).toBeLessThan(mean - bound * 0.998);
    expect(m.max, `${what}: max reaches the bound`).toBeGreaterThan(mean + bound * 0.998);
  }
}

describe('default layer initialisation (torch: weight kaiming_uniform_(a = sqrt(5)) = U(±1/sqrt(fan_in)), bias U(±1/sqrt(fan_in)))', () => {
  test('Linear(1024, 512): weight U(±1/32), std 1/(32 sqrt 3) = 0.018042', async () => {
    const lin = new ebm.Linear(1024, 512, { seed: 11 });
    await expectDistribution(lin.weight, 'uniform', 0, 1 / 32 / Math.sqrt(3), 'weight');
    lin.dispose();
  });

  test('Linear(16, 32768): bias U(±1/4), std 1/(4 sqrt 3) = 0.14434', async () => {
    const lin = new ebm.Linear(16, 32768, { seed: 12 });
    await expectDistribution(lin.bias!, 'uniform', 0, 1 / 4 / Math.sqrt(3), 'bias');
    await expectDistribution(lin.weight, 'uniform', 0, 1 / 4 / Math.sqrt(3), 'weight');
    lin.dispose();
  });

  test('Conv2d(64, 256, 5): fan_in 64*5*5 = 1600, weight U(±1/40), std 0.014434', async () => {
    const conv = new ebm.Conv2d(64, 256, 5, { seed: 13 });
    expect(conv.weight.shape).toEqual([256, 64, 5, 5]);
    await expectDistribution(conv.weight, 'uniform', 0, 1 / 40 / Math.sqrt(3), 'weight');
    const b = moments(await conv.bias!.data());
    expect(b.min).toBeGreaterThanOrEqual(-1 / 40);
    expect(b.max).toBeLessThanOrEqual(1 / 40);
    conv.dispose();
  });

  test('unseeded layers draw from the global generator: successive layers differ', async () => {
    const a = new ebm.Linear(8, 8);
    const b = new ebm.Linear(8, 8);
    expect(await a.weight.data()).not.toEqual(await b.weight.data());
    expect(await a.bias!.data()).not.toEqual(await b.bias!.data());
    a.dispose();
    b.dispose();
  });

  test('seeded layers are reproducible, and the bias does not repeat the weight\'s numbers', async () => {
    const a = new ebm.Conv2d(3, 4, 3, { seed: 5 });
    const b = new ebm.Conv2d(3, 4, 3, { seed: 5 });
    const c = new ebm.Conv2d(3, 4, 3, { seed: 6 });
    expect(await a.weight.data()).toEqual(await b.weight.data());
    expect(await a.bias!.data()).toEqual(await b.bias!.data());
    expect(await a.weight.data()).not.toEqual(await c.weight.data());
    // Same bound for both (fan_in 27): equal leading values would mean one shared stream.
    expect((await a.bias!.data()).slice(0, 4)).not.toEqual((await a.weight.data()).slice(0, 4));
    for (const m of [a, b, c]) m.dispose();
  });
});

describe('init functions (torch.nn.init formulas)', () => {
  const cases: { what: string; shape: number[]; run: (t: ebm.Tensor) => ebm.Tensor; dist: Dist; mean: number; std: number }[] = [
    {
      what: 'kaimingUniform_ relu, fan_in 1024: std = sqrt(2) / sqrt(1024) = 0.044194',
      shape: [512, 1024],
      run: (t) => ebm.kaimingUniform_(t, { nonlinearity: 'relu', seed: 1 }),
      dist: 'uniform',
      mean: 0,
      std: Math.SQRT2 / 32,
    },
    {
      what: 'kaimingUniform_ defaults (a = 0, fan_in, leaky_relu: gain sqrt(2)) on a conv weight, fan_in 64*9 = 576: std = sqrt(2/576)',
      shape: [128, 64, 3, 3],
      run: (t) => ebm.kaimingUniform_(t, { seed: 2 }),
      dist: 'uniform',
      mean: 0,
      std: Math.sqrt(2 / 576),
    },
    {
      what: 'kaimingNormal_ leaky_relu a = 0.2, fan_out 512: std = sqrt(2 / 1.04) / sqrt(512) = 0.061283',
      shape: [512, 1024],
      run: (t) => ebm.kaimingNormal_(t, { a: 0.2, mode: 'fan_out', nonlinearity: 'leaky_relu', seed: 3 }),
      dist: 'normal',
      mean: 0,
      std: Math.sqrt(2 / 1.04) / Math.sqrt(512),
    },
    {
      what: 'kaimingNormal_ relu on a conv weight, fan_in 576: std = sqrt(2/576) = 0.058926',
      shape: [128, 64, 3, 3],
      run: (t) => ebm.kaimingNormal_(t, { nonlinearity: 'relu', seed: 4 }),
      dist: 'normal',
      mean: 0,
      std: Math.sqrt(2 / 576),
    },
    {
      what: 'xavierUniform_ gain 5/3 (tanh), fans 1024 + 512: std = 5/3 sqrt(2/1536) = 0.060141',
      shape: [512, 1024],
      run: (t) => ebm.xavierUniform_(t, ebm.calculateGain('tanh'), { seed: 5 }),
      dist: 'uniform',
      mean: 0,
      std: (5 / 3) * Math.sqrt(2 / 1536),
    },
    {
      what: 'xavierNormal_ on a conv weight, fans 64*4 + 256*4: std = sqrt(2/1280) = 0.039528',
      shape: [256, 64, 2, 2],
      run: (t) => ebm.xavierNormal_(t, 1, { seed: 6 }),
      dist: 'normal',
      mean: 0,
      std: Math.sqrt(2 / 1280),
    },
    {
      what: 'normal_(3, 2)',
      shape: [1024, 512],
      run: (t) => ebm.normal_(t, 3, 2, { seed: 7 }),
      dist: 'normal',
      mean: 3,
      std: 2,
    },
    {
      what: 'uniform_(-2, 5): mean 1.5, std 7 / sqrt(12) = 2.0207',
      shape: [1024, 512],
      run: (t) => ebm.uniform_(t, -2, 5, { seed: 8 }),
      dist: 'uniform',
      mean: 1.5,
      std: 7 / Math.sqrt(12),
    },
  ];
  test.each(cases)('$what', async ({ shape, run, dist, mean, std, what }) => {
    const t = new ebm.Parameter(ebm.zeros(shape));
    expect(run(t)).toBe(t);
    expect(t.node).toBeNull();
    await expectDistribution(t, dist, mean, std, what);
    t.dispose();
  });

  test('zeros_, ones_, constant_', async () => {
    const t = ebm.randn([3, 5]);
    expect(Array.from(await ebm.zeros_(t).data())).toEqual(new Array(15).fill(0));
    expect(Array.from(await ebm.ones_(t).data())).toEqual(new Array(15).fill(1));
    expect(Array.from(await ebm.constant_(t, -2.5).data())).toEqual(new Array(15).fill(-2.5));
  });

  test('calculateGain and the fans follow torch', () => {
    for (const n of ['linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose2d', 'sigmoid'] as const) expect(ebm.calculateGain(n)).toBe(1);
    expect(ebm.calculateGain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(ebm.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(ebm.calculateGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15);
    expect(ebm.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(ebm.calculateGain('selu')).toBe(0.75);
    expect(ebm.calculateFanInAndFanOut([7, 3])).toEqual({ fanIn: 3, fanOut: 7 });
    expect(ebm.calculateFanInAndFanOut([16, 8, 3, 5])).toEqual({ fanIn: 120, fanOut: 240 });
    expect(() => ebm.calculateGain('swish' as ebm.Nonlinearity)).toThrow(/unsupported nonlinearity 'swish'/);
    expect(() => ebm.calculateFanInAndFanOut([5])).toThrow(/fewer than 2 dimensions \(shape \[5\]\)/);
  });

  test('seeded initialisers are reproducible; unseeded ones advance the global generator', async () => {
    for (const init of [
      (t: ebm.Tensor, seed?: number) => ebm.uniform_(t, -1, 1, { seed }),
      (t: ebm.Tensor, seed?: number) => ebm.normal_(t, 0, 1, { seed }),
      (t: ebm.Tensor, seed?: number) => ebm.kaimingNormal_(t, { seed }),
      (t: ebm.Tensor, seed?: number) => ebm.xavierUniform_(t, 1, { seed }),
      (t: ebm.Tensor, seed?: number) => ebm.orthogonal_(t, 1, { seed }),
    ]) {
      const [a, b, c, d, e] = [0, 1, 2, 3, 4].map(() => ebm.zeros([6, 4]));
      init(a!, 42);
      init(b!, 42);
      init(c!, 43);
      init(d!);
      init(e!);
      expect(await a!.data()).toEqual(await b!.data());
      expect(await a!.data()).not.toEqual(await c!.data());
      expect(await d!.data()).not.toEqual(await e!.data());
    }
  });

  test('an f16 tensor is initialised through a cast', async () => {
    const t = ebm.zeros([256, 256], { dtype: 'f16' });
    ebm.kaimingUniform_(t, { nonlinearity: 'relu', seed: 1 });
    expect(t.dtype).toBe('f16');
    await expectDistribution(t, 'uniform', 0, Math.SQRT2 / 16, 'f16');
  });

  test.each([
    ['a rank-1 tensor for kaiming', () => ebm.kaimingUniform_(ebm.zeros([4])), /kaimingUniform_|fewer than 2 dimensions/],
    ['an unknown fan mode', () => ebm.kaimingUniform_(ebm.zeros([4, 4]), { mode: 'fan_avg' as ebm.FanMode }), /mode must be 'fan_in' or 'fan_out', got "fan_avg"/],
    ['uniform_ with a > b', () => ebm.uniform_(ebm.zeros([2]), 1, 0), /uniform_: a \(1\) must not exceed b \(0\)/],
    ['normal_ with a negative std', () => ebm.normal_(ebm.zeros([2]), 0, -1), /normal_: std must be >= 0, got -1/],
    ['a non-tensor', () => ebm.zeros_(null as unknown as ebm.Tensor), /zeros_: expected a Tensor to initialise, got null/],
    ['the result of an op', () => ebm.ones_(ebm.zeros([2]).requiresGrad_().mul(2)), /ones_: .* is the result of a recorded op/],
    ['a rank-1 tensor for orthogonal_', () => ebm.orthogonal_(ebm.zeros([4])), /orthogonal_: only tensors with 2 or more dimensions are supported, got shape \[4\]/],
    ['a NaN gain', () => ebm.orthogonal_(ebm.zeros([4, 4]), NaN), /orthogonal_: gain must be a finite number, got NaN/],
  ] as const)('rejects %s', (_what, call, message) => {
    expect(call).toThrow(message);
  });
});

/** max |A - gain² I| for A = MᵀM (tall or square, rows >= cols) or MMᵀ (wide), in float64. */
function orthogonalityError(d: Float32Array, rows: number, cols: number, gain: number): number {
  const tall = rows >= cols;
  const k = tall ? cols : rows;
  const n = tall ? rows : cols;
  const at = (vec: number, i: number) => (tall ? d[i * cols + vec]! : d[vec * cols + i]!);
  let worst = 0;
  for (let a = 0; a < k; a++)
    for (let b = a; b < k; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += at(a, i) * at(b, i);
      worst = Math.max(worst, Math.abs(s - (a === b ? gain * gain : 0)));
    }
  return worst;
}

describe('orthogonal_', () => {
  test.each([
    { what: 'tall [64, 16]: WᵀW = I', shape: [64, 16], gain: 1 },
    { what: 'wide [16, 64]: WWᵀ = I', shape: [16, 64], gain: 1 },
    { what: 'square [48, 48]', shape: [48, 48], gain: 1 },
    { what: 'square [256, 256]', shape: [256, 256], gain: 1 },
    { what: 'conv [16, 8, 3, 3] read as [16, 72]: WWᵀ = I', shape: [16, 8, 3, 3], gain: 1 },
    { what: 'conv [80, 4, 2, 2] read as [80, 16]: WᵀW = I', shape: [80, 4, 2, 2], gain: 1 },
    { what: 'tall [40, 24] with gain 2: WᵀW = 4I', shape: [40, 24], gain: 2 },
    { what: 'one row [1, 9]', shape: [1, 9], gain: 1 },
  ])('$what to 1e-5', async ({ shape, gain }) => {
    const w = new ebm.Parameter(ebm.zeros(shape));
    ebm.orthogonal_(w, gain, { seed: 3 });
    const rows = shape[0]!;
    const cols = w.size / rows;
    const err = orthogonalityError(await w.data(), rows, cols, gain);
    expect(err, `max |Gram - gain² I| = ${err.toExponential(2)}`).toBeLessThanOrEqual(1e-5 * gain * gain);
    w.dispose();
  });

  test('is Haar-like: entries of a large orthogonal matrix have mean 0 and variance 1/n', async () => {
    const n = 128;
    const w = ebm.zeros([n, n]);
    ebm.orthogonal_(w, 1, { seed: 4 });
    const m = moments(await w.data());
    expect(Math.abs(m.mean)).toBeLessThan(5 / Math.sqrt(n) / n);
    expect(Math.abs(m.std * Math.sqrt(n) - 1)).toBeLessThan(0.02);
  });

  test('runs on the GPU with a bounded dispatch count and leaves nothing behind', async () => {
    const rt = await device();
    const w = ebm.zeros([32, 32]);
    const live = ebm.memory().liveTensors;
    const before = rt.stats.dispatches;
    ebm.orthogonal_(w, 1, { seed: 1 });
    const dispatches = rt.stats.dispatches - before;
    expect(dispatches).toBeGreaterThan(32);
    expect(dispatches).toBeLessThan(32 * 20);
    expect(ebm.memory().liveTensors).toBe(live);
  });

  test('the seed custom model\'s init: orthogonal_ weights, zeros_ biases over modules()', async () => {
    const net = new ebm.Sequential(new ebm.Linear(2, 32), new ebm.SiLU(), new ebm.Linear(32, 32), new ebm.SiLU(), new ebm.Linear(32, 1));
    for (const m of net.modules())
      if (m instanceof ebm.Linear) {
        ebm.orthogonal_(m.weight);
        ebm.zeros_(m.bias!);
      }
    const lins = net.modules().filter((m): m is ebm.Linear => m instanceof ebm.Linear);
    expect(lins).toHaveLength(3);
    for (const l of lins) {
      expect(orthogonalityError(await l.weight.data(), l.outFeatures, l.inFeatures, 1)).toBeLessThanOrEqual(1e-5);
      expect(Array.from(await l.bias!.data()).every((v) => v === 0)).toBe(true);
    }
    net.dispose();
  });
});
