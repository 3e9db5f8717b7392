// Interpolants (src/train/interpolants): x_t = alpha(t) x1 + sigma(t) x0 and its time derivative
// u_t, TorchEBM's conventions (t = 0 noise x0, t = 1 data x1), against the closed forms in
// float64 and against central differences of x_t in t; the score-parameterisation drift; errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, expectClose } from './helpers.js';
import { CosineInterpolant, LinearInterpolant, VariancePreservingInterpolant, type BaseInterpolant } from '../src/train/index.js';

beforeAll(async () => {
  await device();
});

const TIMES = [0.05, 0.3, 0.5, 0.77, 0.95];
const B = TIMES.length;

/** alpha, alpha', sigma, sigma' in float64, written from TorchEBM's formulas. */
const CLOSED: Record<string, (t: number) => [number, number, number, number]> = {
  LinearInterpolant: (t) => [t, 1, 1 - t, -1],
  CosineInterpolant: (t) => [Math.sin((Math.PI * t) / 2), (Math.PI / 2) * Math.cos((Math.PI * t) / 2), Math.cos((Math.PI * t) / 2), -(Math.PI / 2) * Math.sin((Math.PI * t) / 2)],
  VariancePreservingInterpolant: (t) => {
    const [lo, hi] = [0.1, 20];
    const lmc = -0.25 * (1 - t) ** 2 * (hi - lo) - 0.5 * (1 - t) * lo;
    const ratio = 0.5 * (1 - t) * (hi - lo) + 0.5 * lo;
    const a = Math.exp(lmc);
    const s = Math.sqrt(1 - a * a);
    return [a, a * ratio, s, (-a * a * ratio) / s];
  },
};

describe.each([new LinearInterpolant(), new CosineInterpolant(), new VariancePreservingInterpolant()] as BaseInterpolant[])('%s', (interp) => {
  const name = interp.constructor.name;

  it('x_t and u_t equal the closed forms, one time per row', async () => {
    const x0 = ebm.randn([B, 3], { seed: 1 });
    const x1 = ebm.randn([B, 3], { seed: 2 });
    const { xt, ut } = interp.interpolate(x0, x1, ebm.tensor(TIMES));
    const [a, b] = [await x0.data(), await x1.data()];
    const wantX: number[] = [], wantU: number[] = [];
    TIMES.forEach((t, i) => {
      const [al, dal, si, dsi] = CLOSED[name]!(t);
      for (let j = 0; j < 3; j++) {
        wantX.push(al * b[i * 3 + j]! + si * a[i * 3 + j]!);
        wantU.push(dal * b[i * 3 + j]! + dsi * a[i * 3 + j]!);
      }
    });
    // f32 evaluation of exp/sin/cos and of the products: 1e-5 relative to the largest value.
    expectClose(await xt.data(), wantX, 1e-5, `${name} x_t`);
    expectClose(await ut.data(), wantU, 1e-5, `${name} u_t`);
    for (const t of [x0, x1, xt, ut]) t.dispose();
  });

  it('u_t is the time derivative of x_t (central differences)', async () => {
    const x0 = ebm.randn([B, 2], { seed: 3 });
    const x1 = ebm.randn([B, 2], { seed: 4 });
    const d = 1e-2;
    const at = (dt: number) => interp.interpolate(x0, x1, ebm.tensor(TIMES.map((t) => t + dt)));
    const [lo, hi, mid] = [at(-d), at(d), at(0)];
    const fd = ebm.tidy(() => hi.xt.sub(lo.xt).div(2 * d));
    // Central differences err by d^2 x''' / 6: x''' of VP reaches ~(sigmaMax / 2)^3 ~ 1e3 near t = 0,
    // so 1e-4 * 1e3 / 6 and f32 cancellation 1e-7 / d: 0.02 relative covers all three.
    expectClose(await fd.data(), await mid.ut.data(), 0.02, `${name} finite differences`);
    for (const t of [x0, x1, lo.xt, lo.ut, hi.xt, hi.ut, mid.xt, mid.ut, fd]) t.dispose();
  });

  it('a number t applies to every row; the schedule is TorchEBM-shaped at the ends', async () => {
    const x0 = ebm.randn([4, 2], { seed: 5 });
    const x1 = ebm.randn([4, 2], { seed: 6 });
    const a = interp.interpolate(x0, x1, 0.3);
    const b = interp.interpolate(x0, x1, ebm.full([4], 0.3));
    expectClose(await a.xt.data(), await b.xt.data(), 0, `${name} number t`);
    const [al1, , si1] = CLOSED[name]!(1);
    const [al0, , si0] = CLOSED[name]!(0);
    // Data at t = 1, (mostly) noise at t = 0; VP's alpha(0) = exp(-(20 - 0.1) / 4 - 0.05) ~ 0.007.
    expect(al1).toBeCloseTo(1, 6);
    expect(si1).toBeCloseTo(0, 3);
    expect(si0).toBeCloseTo(1, 4);
    expect(al0).toBeLessThan(0.01);
    for (const t of [x0, x1, a.xt, a.ut, b.xt, b.ut]) t.dispose();
  });
});

describe('computeDrift (the probability-flow drift in the score parameterisation)', () => {
  it('linear: -driftMean = x / t and driftVar = (1 - t) / t, TorchEBM values', async () => {
    const x = ebm.randn([3, 2], { seed: 7 });
    const { driftMean, driftVar } = new LinearInterpolant().computeDrift(x, ebm.tensor([0.25, 0.5, 0.8]));
    const xv = await x.data();
    const ts = [0.25, 0.5, 0.8];
    expectClose(await driftMean.data(), Array.from(xv, (v, i) => -v / ts[Math.floor(i / 2)]!), 1e-6, 'driftMean');
    // drift_var = (alpha' / alpha) sigma^2 - sigma sigma' = (1 - t)^2 / t + (1 - t) = (1 - t) / t.
    expectClose(await driftVar.data(), ts.map((t) => (1 - t) / t), 1e-6, 'driftVar');
    for (const t of [x, driftMean, driftVar]) t.dispose();
  });
});

describe('argument errors', () => {
  it('name the argument and the shapes', () => {
    const i = new LinearInterpolant();
    const x = ebm.zeros([4, 2]);
    expect(() => i.interpolate(x, ebm.zeros([4, 3]), 0.5)).toThrow(/LinearInterpolant\.interpolate: x1 has shape \[4, 3\]; it must match x0 \[4, 2\]/);
    expect(() => i.interpolate(x, x, ebm.zeros([3]))).toThrow(/LinearInterpolant\.interpolate: t has shape \[3\]; expected \[4\] \(one time per row of x \[4, 2\]\)/);
    expect(() => i.interpolate(x, x, NaN)).toThrow(/LinearInterpolant\.interpolate: t must be a finite number or a Tensor \[4\], got NaN/);
    expect(() => i.interpolate([1] as never, x, 0)).toThrow(/LinearInterpolant\.interpolate: x0 must be a Tensor \[batch, \.\.\.\], got \[1\]/);
    expect(() => new VariancePreservingInterpolant({ sigmaMin: 5, sigmaMax: 1 })).toThrow(/VariancePreservingInterpolant: sigmaMax \(1\) must be >= sigmaMin \(5\)/);
    expect(() => new VariancePreservingInterpolant({ beta: 1 } as never)).toThrow(/VariancePreservingInterpolant: unknown option 'beta'/);
    x.dispose();
  });
});
