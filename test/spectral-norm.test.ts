// ebm.spectralNorm against torch.nn.utils.spectral_norm (scripts/make_spectral_fixtures.py):
// sigma, the updated u and v, the normalised weight and its gradient after 1 and 5 power
// iterations and in eval mode, under both kernel schedules (one fused dispatch, and one dispatch
// per stage); plus finite-difference checks of the gradient and of a gradient of a gradient,
// the in-place semantics of u and v, bad inputs, and the dispatch count per call.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { spectralNormSchedule, spectralNormTuning } from '../src/kernels/spectral-norm.js';
import { device, ebm, expectClose, loadFixture } from './helpers.js';

const fx = loadFixture('spectral-norm.safetensors');
const cases: { name: string; kind: string; shape: number[] }[] = JSON.parse(fx.metadata.cases!);

/**
 * 1e-5 relative to each tensor's scale, after 5 iterations too: the errors measured are 1e-8 to
 * 4e-7 (f32 sums of at most 125 products against a float64 oracle), and the power iteration
 * contracts towards the top singular vectors rather than amplifying them.
 */
const TOL = 1e-5;

const MODES = [
  { mode: 'n1', training: true, nPowerIterations: 1 },
  { mode: 'n5', training: true, nPowerIterations: 5 },
  { mode: 'eval', training: false, nPowerIterations: 1 },
] as const;

/** The kernel wrapper's schedule thresholds, forced each way so both are checked on every case. */
const SCHEDULES = [
  { schedule: 'fused', fusedMaxElements: Infinity },
  { schedule: 'staged', fusedMaxElements: 0 },
] as const;
const DEFAULT_TUNING = { ...spectralNormTuning };
function forceSchedule(fusedMaxElements: number): void {
  spectralNormTuning.fusedMaxElementsSoftware = fusedMaxElements;
  spectralNormTuning.fusedMaxElementsGpu = fusedMaxElements;
}

/** Dispatches per call: fused 1; staged 2 per iteration (Wᵀu, Wv) + 1 (sigma, W / sigma), or 2 in eval. */
function expectedDispatches(schedule: string, training: boolean, n: number): number {
  if (schedule === 'fused') return 1;
  return training ? 2 * n + 1 : 2;
}

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});
afterEach(() => {
  Object.assign(spectralNormTuning, DEFAULT_TUNING);
});

function load(name: string) {
  const weight = fx.get(`${name}/weight`).requiresGrad_();
  return { weight, u: fx.get(`${name}/u0`), v: fx.get(`${name}/v0`), G: fx.get(`${name}/G`) };
}

async function expectMatches(name: string, mode: string, got: { sigma: ebm.Tensor; u: ebm.Tensor; v: ebm.Tensor; weight: ebm.Tensor; grad?: ebm.Tensor | null }) {
  const p = `${name}/${mode}`;
  expect(got.sigma.shape).toEqual([]);
  expectClose(await got.sigma.data(), fx.values(`${p}/sigma`), TOL, `${p} sigma`);
  expectClose(await got.u.data(), fx.values(`${p}/u`), TOL, `${p} u`);
  expectClose(await got.v.data(), fx.values(`${p}/v`), TOL, `${p} v`);
  expect(got.weight.shape).toEqual(fx.shape(`${p}/weight_sn`));
  expectClose(await got.weight.data(), fx.values(`${p}/weight_sn`), TOL, `${p} weight`);
  if (got.grad !== undefined) {
    expect(got.grad, `${p} has a weight gradient`).not.toBeNull();
    expectClose(await got.grad!.data(), fx.values(`${p}/grad`), TOL, `${p} grad`);
  }
}

describe.each(SCHEDULES)('against PyTorch, $schedule schedule', ({ schedule, fusedMaxElements }) => {
  test.each(cases.flatMap((c) => MODES.map((m) => ({ ...c, ...m }))))('$name $mode', async ({ name, mode, training, nPowerIterations }) => {
    forceSchedule(fusedMaxElements);
    const { weight, u, v, G } = load(name);
    const before = rt.stats.dispatches;
    const out = ebm.spectralNorm(weight, u, v, { nPowerIterations, training });
    expect(rt.stats.dispatches - before, 'dispatches').toBe(expectedDispatches(schedule, training, nPowerIterations));
    out.weight.mul(G).sum().backward();
    await expectMatches(name, mode, { sigma: out.sigma, u, v, weight: out.weight, grad: weight.grad });
    if (!training) {
      // Eval reads u and v and leaves them exactly as they were.
      expect(await u.data()).toEqual(fx.values(`${name}/u0`));
      expect(await v.data()).toEqual(fx.values(`${name}/v0`));
    }
  });
});

describe('u and v are persistent buffers', () => {
  test('five calls of one iteration continue where the last stopped: they equal one call of five', async () => {
    const { weight, u, v } = load('conv_16x5x5x5');
    let out!: ebm.SpectralNormResult;
    for (let i = 0; i < 5; i++) out = ebm.spectralNorm(weight, u, v);
    await expectMatches('conv_16x5x5x5', 'n5', { sigma: out.sigma, u, v, weight: out.weight });
  });

  test('backward uses the u and v of its own call, though a later call updated them', async () => {
    const { weight, u, v, G } = load('linear_33x17');
    const first = ebm.spectralNorm(weight, u, v);
    const second = ebm.spectralNorm(weight, u, v, { nPowerIterations: 4 });
    first.weight.mul(G).sum().backward();
    expectClose(await weight.grad!.data(), fx.values('linear_33x17/n1/grad'), TOL, 'grad of the first call');
    // The second call continued from the first: 1 + 4 iterations in all.
    await expectMatches('linear_33x17', 'n5', { sigma: second.sigma, u, v, weight: second.weight });
  });

  test('eval after training uses the trained u and v without changing them', async () => {
    const { weight, u, v } = load('conv_8x3x3x3');
    ebm.spectralNorm(weight, u, v, { nPowerIterations: 5 });
    const [uTrained, vTrained] = [await u.data(), await v.data()];
    const before = rt.stats.dispatches;
    const out = ebm.spectralNorm(weight, u, v, { training: false });
    expect(rt.stats.dispatches - before).toBe(1);
    expect(await u.data()).toEqual(uTrained);
    expect(await v.data()).toEqual(vTrained);
    // sigma = uᵀ W v with the trained vectors is what training's own sigma was.
    expectClose(await out.sigma.data(), fx.values('conv_8x3x3x3/n5/sigma'), TOL, 'eval sigma');
  });

  test('sigma is differentiable: d sigma / dW = u vᵀ', async () => {
    const { weight, u, v } = load('linear_64x96');
    const { sigma } = ebm.spectralNorm(weight, u, v);
    sigma.backward();
    const [uu, vv] = [fx.values('linear_64x96/n1/u'), fx.values('linear_64x96/n1/v')];
    const outer = Float32Array.from({ length: uu.length * vv.length }, (_, e) => uu[Math.floor(e / vv.length)]! * vv[e % vv.length]!);
    expectClose(await weight.grad!.data(), outer, TOL, 'u vᵀ');
  });
});

describe('finite differences', () => {
  // In eval mode u and v are fixed, so f(W) = sum(G * W / (uᵀ W v)) is exactly the function the
  // gradient differentiates (in training, u and v would also move with W, which PyTorch's
  // gradient deliberately ignores).
  const evalNorm = (w: ebm.Tensor, u: ebm.Tensor, v: ebm.Tensor) => ebm.spectralNorm(w, u, v, { training: false }).weight;

  /** A deterministic direction in [-1, 1]. */
  function direction(n: number, seed: number): Float32Array {
    let s = seed;
    return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 30) - 1);
  }

  /** (f(x + hD) - f(x - hD)) / 2 against <grad, (x+ - x-) / 2>, f and grad evaluated on the GPU. */
  async function checkDirectional(f: (x: ebm.Tensor) => ebm.Tensor, x: Float32Array, shape: number[], g: Float32Array, seed: number, h = 1e-2) {
    const d = direction(x.length, seed);
    const plus = Float32Array.from(x, (xi, i) => xi + h * d[i]!);
    const minus = Float32Array.from(x, (xi, i) => xi - h * d[i]!);
    const [fp, fm] = await Promise.all([plus, minus].map((p) => ebm.tidy(() => f(ebm.tensor(p, shape))).item()));
    let an = 0;
    let scale = 0;
    for (let i = 0; i < x.length; i++) {
      const term = (g[i]! * (plus[i]! - minus[i]!)) / 2;
      an += term;
      scale += Math.abs(term);
    }
    expect(Number.isFinite(an)).toBe(true);
    const fd = (fp! - fm!) / 2;
    expect(Math.abs(fd - an), `finite difference ${fd} vs analytic ${an}`).toBeLessThanOrEqual(1e-2 * scale + 1e-6);
  }

  test('the weight gradient', async () => {
    const name = 'conv_8x3x3x3';
    const { u, v, G } = load(name);
    const x = fx.values(`${name}/weight`);
    const shape = fx.shape(`${name}/weight`);
    const f = (w: ebm.Tensor) => evalNorm(w, u, v).mul(G).sum();
    const g = await ebm.grad(f)(ebm.tensor(x, shape)).data();
    for (const seed of [1, 2, 3]) await checkDirectional(f, x, shape, g, seed);
  });

  test('a gradient of the gradient (double backward)', async () => {
    const name = 'linear_33x17';
    const { u, v, G } = load(name);
    const D = ebm.tensor(direction(33 * 17, 7), [33, 17]);
    const x = fx.values(`${name}/weight`);
    const shape = fx.shape(`${name}/weight`);
    // h(W) = <grad f(W), D>; its gradient is the Hessian of f times D.
    const gradF = ebm.grad((w: ebm.Tensor) => evalNorm(w, u, v).mul(G).sum(), { createGraph: true });
    const h = (w: ebm.Tensor) => gradF(w).mul(D).sum();
    const hvp = await ebm.grad(h)(ebm.tensor(x, shape)).data();
    expect(hvp.every(Number.isFinite)).toBe(true);
    expect(hvp.some((e) => e !== 0)).toBe(true);
    for (const seed of [4, 5]) await checkDirectional(h, x, shape, hvp, seed);
  });
});

describe('dispatches per call', () => {
  // The default schedule depends on the adapter (fused at every size on a CPU adapter, up to
  // 65,536 elements on a GPU); both are also forced, so both counts are checked on any machine.
  const cases = [
    { m: 128, k: 128, schedule: 'default' },
    { m: 128, k: 128, schedule: 'staged' },
    { m: 512, k: 4608, schedule: 'default' },
    { m: 512, k: 4608, schedule: 'fused' },
    { m: 512, k: 4608, schedule: 'staged' },
  ] as const;
  test.each(cases)('$m x $k, $schedule schedule', ({ m, k, schedule }) => {
    if (schedule !== 'default') forceSchedule(schedule === 'fused' ? Infinity : 0);
    const chosen = spectralNormSchedule(rt, m, k);
    expect(chosen).toBe(schedule !== 'default' ? schedule : m * k <= 65536 || rt.info.isSoftware ? 'fused' : 'staged');
    ebm.tidy(() => {
      const w = ebm.randn([m, k], { seed: 1 });
      const u = ebm.randn([m], { seed: 2 });
      const v = ebm.randn([k], { seed: 3 });
      for (const [training, n] of [[true, 1], [true, 3], [false, 1]] as const) {
        const before = rt.stats.dispatches;
        ebm.spectralNorm(w, u, v, { nPowerIterations: n, training });
        expect(rt.stats.dispatches - before, `training ${training}, n ${n}`).toBe(expectedDispatches(chosen, training, n));
      }
    });
  });
});

describe('a large matrix', () => {
  test.each(SCHEDULES)('512 x 4608 agrees with a float64 power iteration ($schedule)', async ({ fusedMaxElements }) => {
    forceSchedule(fusedMaxElements);
    const [m, k] = [512, 4608];
    const w = ebm.randn([m, k], { seed: 11 });
    const u = ebm.randn([m], { seed: 12 });
    const v = ebm.randn([k], { seed: 13 });
    const [W, u0] = [await w.data(), await u.data()];
    const out = ebm.spectralNorm(w, u, v, { nPowerIterations: 2 });
    // The reference: the same two rounds of v = normalize(Wᵀu), u = normalize(Wv), in float64.
    let uu = Float64Array.from(u0);
    let vv = new Float64Array(k);
    const normalize = (x: Float64Array) => {
      const n = Math.max(Math.hypot(...x), 1e-12);
      return x.map((e) => e / n);
    };
    let wv = new Float64Array(m);
    for (let it = 0; it < 2; it++) {
      vv = new Float64Array(k);
      for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) vv[j]! += W[i * k + j]! * uu[i]!;
      vv = normalize(vv);
      wv = new Float64Array(m);
      for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) wv[i]! += W[i * k + j]! * vv[j]!;
      uu = normalize(wv);
    }
    const sigma = uu.reduce((s, e, i) => s + e * wv[i]!, 0);
    expectClose(await out.sigma.data(), [sigma], TOL, 'sigma');
    expectClose(await u.data(), uu, TOL, 'u');
    expectClose(await v.data(), vv, TOL, 'v');
    expectClose((await out.weight.data()).subarray(0, 4096), W.subarray(0, 4096).map((e) => e / sigma), TOL, 'weight (first rows)');
  });
});

describe('bad inputs', () => {
  type Args = Parameters<typeof ebm.spectralNorm>;
  const z = (...shape: number[]) => ebm.zeros(shape);
  const W = () => z(4, 2, 3);
  const cases: [string, () => Args, RegExp][] = [
    ['weight not a tensor', () => [[1, 2] as unknown as ebm.Tensor, z(4), z(6)], /spectralNorm: weight must be a Tensor, got object/],
    ['rank-1 weight', () => [z(4), z(4), z(1)], /spectralNorm: weight must have rank >= 2.*got \[4\]/],
    ['empty weight', () => [z(4, 0), z(4), z(0)], /spectralNorm: weight must have rank >= 2 and no zero dims.*got \[4, 0\]/],
    ['u too short', () => [W(), z(3), z(6)], /spectralNorm: u must have shape \[4\] \(weight\.shape\[0\] of weight \[4, 2, 3\]\), got \[3\]/],
    ['u of rank 2', () => [W(), z(4, 1), z(6)], /spectralNorm: u must have shape \[4\].*got \[4, 1\]/],
    ['v of the wrong length', () => [W(), z(4), z(2)], /spectralNorm: v must have shape \[6\] \(the product of weight\.shape\[1:\] of weight \[4, 2, 3\]\), got \[2\]/],
    ['zero iterations', () => [W(), z(4), z(6), { nPowerIterations: 0 }], /spectralNorm: nPowerIterations must be a positive integer.*got 0/],
    ['fractional iterations', () => [W(), z(4), z(6), { nPowerIterations: 1.5 }], /spectralNorm: nPowerIterations must be a positive integer.*got 1\.5/],
    ['negative eps', () => [W(), z(4), z(6), { eps: -1 }], /spectralNorm: eps must be a finite number >= 0, got -1/],
    ['training not a boolean', () => [W(), z(4), z(6), { training: 'yes' as unknown as boolean }], /spectralNorm: training must be a boolean, got string/],
    ['u requires grad', () => [W(), z(4).requiresGrad_(), z(6)], /spectralNorm: u requires grad.*pass u\.detach\(\)/],
    ['u and v are one tensor', () => {
      const t = z(1);
      return [z(1, 1), t, t];
    }, /spectralNorm: u and v share storage/],
    ['v is a view of the weight', () => {
      const w = z(1, 6);
      return [w, z(1), w.reshape([6])];
    }, /spectralNorm: weight and v share storage/],
    ['a disposed weight', () => {
      const w = W();
      w.dispose();
      return [w, z(4), z(6)];
    }, /spectralNorm: .*disposed/],
  ];
  test.each(cases)('%s', (_what, args, message) => {
    ebm.tidy(() => {
      const a = args();
      const live = ebm.memory().liveTensors;
      const dispatches = rt.stats.dispatches;
      expect(() => ebm.spectralNorm(...a)).toThrow(message);
      // Nothing ran and nothing was left behind.
      expect(rt.stats.dispatches).toBe(dispatches);
      expect(ebm.memory().liveTensors).toBe(live);
    });
  });
});
