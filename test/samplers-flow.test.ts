// FlowSampler (src/train/samplers/flow.ts): the gradient flow of an energy and a learned
// velocity integrated from noise with fixed-step and adaptive integrators, against closed-form
// flows; trajectories, diagnostics and the argument errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, expectClose } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { GaussianEnergy } from '../src/nn/energies/index.js';
import { Dopri5, EulerMaruyama, FlowSampler, Leapfrog, RK4 } from '../src/train/index.js';

beforeAll(async () => {
  await device();
});

const MU = [1, -2];

describe('the gradient flow of an energy', () => {
  it('dx/dt = -grad E for E = |x - mu|^2 / 2 is x(t) = mu + (x0 - mu) e^-t: RK4 and Dopri5 follow it', async () => {
    const e = new GaussianEnergy(MU, [[1, 0], [0, 1]]);
    const x0 = ebm.randn([50, 2], { seed: 1 });
    const xv = await x0.data();
    const want = Array.from(xv, (v, i) => MU[i % 2]! + (v - MU[i % 2]!) * Math.exp(-2));
    // RK4, h = 0.2: the error per unit time is h^4 / 120 ~ 1e-5 of |x - mu| (<= 5 here).
    const rk = new FlowSampler(e, { integrator: new RK4(), t1: 2 }).sample({ x: x0, nSteps: 10 });
    expectClose(await rk.data(), want, 1e-4, 'RK4 flow');
    // Dopri5 per sampler step (2 intervals of 1, at most 8 attempts each), rtol 1e-6: within
    // f32 round-off of exact.
    const dp = new FlowSampler(e, { integrator: new Dopri5({ rtol: 1e-6, atol: 1e-7, maxSteps: 8 }), t1: 2 }).sample({ x: x0, nSteps: 2 });
    expectClose(await dp.data(), want, 1e-5, 'Dopri5 flow');
    for (const t of [x0, rk, dp]) t.dispose();
    e.dispose();
  });

  it('keeps trajectories and diagnostics per step (the energy falls along the flow)', async () => {
    const e = new GaussianEnergy(MU, [[1, 0], [0, 1]]);
    const r = new FlowSampler(e, { t1: 3 }).sample({ dim: 2, nSamples: 64, nSteps: 6, returnTrajectory: true, returnDiagnostics: true, seed: 2 });
    expect(r.trajectory!.shape).toEqual([64, 6, 2]);
    const energy = await r.diagnostics!.energy.data();
    for (let k = 1; k < 6; k++) expect(energy[k]!).toBeLessThan(energy[k - 1]!);
    // Mean energy e^-2t times the start's ~ (|mu|^2 + 2) / 2 = 3.5: at t = 3, ~0.009.
    expect(energy[5]!).toBeLessThan(0.02);
    for (const t of [r.samples, r.trajectory!, ...Object.values(r.diagnostics!)]) t.dispose();
    e.dispose();
  });
});

describe('a learned velocity', () => {
  it("the linear interpolant's exact velocity for Gaussian data carries N(0, 1) to N(mu, s^2), z to mu + s z", async () => {
    // x_t = t x1 + (1 - t) x0 with x1 ~ N(mu, s^2) has the flow x_t = t mu + sigma_t z,
    // sigma_t = sqrt(t^2 s^2 + (1 - t)^2), so v(x, t) = mu + (sigma_t' / sigma_t) (x - t mu).
    const s = 0.5;
    const mu = ebm.tensor([MU]);
    const velocity = (x: Tensor, t: Tensor) => {
      const tc = t.reshape([-1, 1]);
      const var_ = tc.square().mul(s * s).add(tc.neg().add(1).square());
      const dlog = tc.mul(s * s).sub(tc.neg().add(1)).div(var_); // sigma_t' / sigma_t
      return x.sub(tc.mul(mu)).mul(dlog).add(mu);
    };
    const z = ebm.randn([40, 2], { seed: 3 });
    const out = new FlowSampler(velocity, { integrator: new RK4() }).sampleWith({ x: z, nSteps: 20, returnDiagnostics: true });
    const want = ebm.tidy(() => z.mul(s).add(mu));
    // RK4 with h = 0.05 on a smooth linear ODE: ~1e-6; f32: 1e-5.
    expectClose(await out.samples.data(), await want.data(), 1e-5, 'flow of the exact velocity');
    // A velocity model has no energy: the diagnostics report 0.
    expect([...(await out.diagnostics!.energy.data())].every((v) => v === 0)).toBe(true);
    for (const t of [mu, z, want, out.samples, ...Object.values(out.diagnostics!)]) t.dispose();
  });

  it('negateVelocity integrates -v (TorchEBM, for models trained on the reverse direction)', async () => {
    const a = ebm.tensor([[0.5, -1]]);
    const v = (x: Tensor) => x.mul(0).add(a);
    const x0 = ebm.zeros([3, 2]);
    const fwd = new FlowSampler(v, { integrator: new EulerMaruyama() }).sample({ x: x0, nSteps: 4 });
    const back = new FlowSampler(v, { integrator: new EulerMaruyama(), negateVelocity: true }).sample({ x: x0, nSteps: 4 });
    expectClose(await fwd.data(), [0.5, -1, 0.5, -1, 0.5, -1], 1e-6, 'forward');
    expectClose(await back.data(), [-0.5, 1, -0.5, 1, -0.5, 1], 1e-6, 'negated');
    for (const t of [a, x0, fwd, back]) t.dispose();
  });
});

describe('argument errors', () => {
  it('name the option and the value', () => {
    const e = new GaussianEnergy(MU, [[1, 0], [0, 1]]);
    expect(() => new FlowSampler(e, { integrator: new Leapfrog() as never })).toThrow(/FlowSampler: integrator must be EulerMaruyama, Heun, Midpoint, RK4 or Dopri5, got Leapfrog/);
    expect(() => new FlowSampler(e, { t0: 1, t1: 1 })).toThrow(/FlowSampler: t1 must differ from t0 \(both 1\)/);
    expect(() => new FlowSampler(e, { integrator: new Dopri5(), t0: 1, t1: 0 })).toThrow(/FlowSampler: Dopri5 integrates forwards; t1 \(0\) must exceed t0 \(1\)/);
    expect(() => new FlowSampler(e, { negateVelocity: true })).toThrow(/FlowSampler: negateVelocity applies to a velocity model, not to an energy's gradient flow/);
    expect(() => new FlowSampler(e, { steps: 3 } as never)).toThrow(/FlowSampler: unknown option 'steps'/);
    expect(() => new FlowSampler(42)).toThrow(/FlowSampler: the energy function must be a BaseEnergyFunction/);
    e.dispose();
  });
});
