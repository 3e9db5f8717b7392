// Integrators (src/train/integrators): orders of convergence on an ODE with a closed form,
// Dopri5's error control against RK4, Euler-Maruyama's weak order on an Ornstein-Uhlenbeck
// process, leapfrog's energy conservation and reversibility (and HMC's fused kernels moving
// (x, p) as Leapfrog does), and the argument errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { caught, device, ebm } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { Dopri5, EulerMaruyama, Heun, Leapfrog, Midpoint, RK4, type BaseIntegrator } from '../src/train/index.js';

beforeAll(async () => {
  await device();
});

// dx/dt = -2 t x, x(t) = x0 exp(-t^2): non-autonomous, so the stage times c_i are exercised too.
const X0 = [1, 2, -0.5, 1.5];
const drift = (x: Tensor, t: Tensor) => x.mul(t.reshape([x.shape[0]!, 1])).mul(-2);
const exact = (t: number) => X0.map((v) => v * Math.exp(-t * t));
const T = 1;

async function maxErr(x: Tensor, want: number[]): Promise<number> {
  const v = await x.data();
  x.dispose();
  return Math.max(...want.map((w, i) => Math.abs(v[i]! - w)));
}

async function errorAt(integ: BaseIntegrator, n: number): Promise<number> {
  const x0 = ebm.tensor(X0, [X0.length, 1]);
  const x = integ.integrate({ x: x0, drift, stepSize: T / n, nSteps: n });
  x0.dispose();
  return maxErr(x, exact(T));
}

describe('order of convergence: the error ratio when halving the step is 2^order', () => {
  // Step counts where the error is in the asymptotic regime yet well above f32 round-off
  // (~1e-7 * steps): RK4 at h = 1/4 and 1/8 has errors ~1e-4 and ~7e-6. The observed order
  // log2(e_h / e_{h/2}) must be within 0.3 of the theory; the leading error term's next
  // correction at these h moves it by less than 0.15 (checked in float64 for this ODE).
  for (const [Integ, order, n] of [
    [EulerMaruyama, 1, 16],
    [Heun, 2, 8],
    [Midpoint, 2, 8],
    [RK4, 4, 4],
  ] as const) {
    it(`${Integ.name}: order ${order}`, async () => {
      const integ = new Integ();
      const [e1, e2] = [await errorAt(integ, n), await errorAt(integ, 2 * n)];
      const observed = Math.log2(e1 / e2);
      console.log(`${Integ.name}: error ${e1.toExponential(2)} at h = 1/${n}, ${e2.toExponential(2)} at h = 1/${2 * n}: order ${observed.toFixed(2)}`);
      expect(Math.abs(observed - order)).toBeLessThan(0.3);
    });
  }

  it('step() is one step of integrate(), and a drift of the wrong shape is named', async () => {
    const x0 = ebm.tensor(X0, [4, 1]);
    const a = new RK4().step({ x: x0, drift, t: 0.3, stepSize: 0.1 });
    const b = new RK4().integrate({ x: x0, drift, t0: 0.3, stepSize: 0.1, nSteps: 1 });
    expect([...(await a.data())]).toEqual([...(await b.data())]);
    expect(caught(() => new Heun().step({ x: x0, drift: (x) => x.sum(1), stepSize: 0.1 })).message).toMatch(/Heun\.step: drift\(x, t\) returned shape \[4\] for x of shape \[4, 1\]; it must match x/);
    for (const t of [x0, a, b]) t.dispose();
  });
});

describe('Dopri5', () => {
  it('meets its tolerance with fewer steps than RK4 needs for the same error', async () => {
    // On [0, 3] the solution exp(-t^2) first stays flat, then falls steeply, then flattens:
    // the adaptive steps follow that, a fixed step must be as small as the worst part needs.
    const t1 = 3;
    const x0 = ebm.tensor(X0, [4, 1]);
    const r = await new Dopri5({ rtol: 1e-4, atol: 1e-6 }).solveAsync({ x: x0, drift, t1 });
    const [steps, rejected, times] = [await r.steps.data(), await r.rejected.data(), await r.t.data()];
    const err = await maxErr(r.x, exact(t1));
    // Every chain reached t1 (times within f32 round-off of 3).
    for (const t of times) expect(Math.abs(t - t1)).toBeLessThan(1e-5);
    // Tolerance: the local error per step is held to rtol |x| + atol <= 2e-4; the global error
    // stays of that order (the ODE contracts). 1e-3 leaves a factor 5.
    expect(err).toBeLessThan(1e-3);
    // RK4 with as many steps as Dopri5 attempted (accepted + rejected) is still less accurate.
    const attempts = steps[0]! + rejected[0]!;
    const rk = await maxErr(new RK4().integrate({ x: x0, drift, stepSize: t1 / attempts, nSteps: attempts }), exact(t1));
    console.log(`Dopri5: ${steps[0]} accepted + ${rejected[0]} rejected steps, error ${err.toExponential(2)}; RK4 with ${attempts} steps: error ${rk.toExponential(2)}`);
    expect(rk).toBeGreaterThan(err);
    for (const t of [x0, r.t, r.steps, r.rejected]) t.dispose();
  });

  it('keeps a time and step size per chain: chains of different stiffness take different step counts', async () => {
    // dx/dt = -k x per row, k = 1 and 20: the stiff row needs many more steps.
    const k = ebm.tensor([1, 20], [2, 1]);
    const x0 = ebm.tensor([1, 1], [2, 1]);
    const r = await new Dopri5({ rtol: 1e-4, atol: 1e-6 }).solveAsync({ x: x0, drift: (x) => x.mul(k).neg() });
    const [steps, x] = [await r.steps.data(), await r.x.data()];
    expect(steps[1]!).toBeGreaterThan(2 * steps[0]!);
    expect(Math.abs(x[0]! - Math.exp(-1))).toBeLessThan(1e-3);
    expect(Math.abs(x[1]! - Math.exp(-20))).toBeLessThan(1e-5);
    for (const t of [k, x0, r.x, r.t, r.steps, r.rejected]) t.dispose();
  });

  it('rejects bad options and arguments', () => {
    expect(() => new Dopri5({ rtol: -1 })).toThrow(/Dopri5: rtol must be a finite number >= 0, got -1/);
    expect(() => new Dopri5({ atol: 0, rtol: 0 })).toThrow(/Dopri5: atol and rtol cannot both be 0/);
    expect(() => new Dopri5({ tol: 1 } as never)).toThrow(/Dopri5: unknown option 'tol'/);
    const x = ebm.zeros([2, 1]);
    expect(() => new Dopri5().solve({ x, drift, t0: 1, t1: 0 })).toThrow(/Dopri5\.solve: t1 \(0\) must be greater than t0 \(1\)/);
    expect(() => new Dopri5().solve({ x, drift: 3 as never })).toThrow(/Dopri5\.solve: drift must be a function/);
    x.dispose();
  });
});

describe('Euler-Maruyama on an Ornstein-Uhlenbeck process: weak order 1', () => {
  it('the bias of E[x_T^2] halves with the step, and the sample moments match the scheme exactly', async () => {
    // dx = -x dt + sqrt(2 D) dW, D = 1, x0 = 0, T = 1: E[x_T^2] = 1 - e^-2.
    // Euler-Maruyama's own second moment: v_{k+1} = (1 - h)^2 v_k + 2 D h.
    const n = 1 << 17;
    const exactM2 = 1 - Math.exp(-2);
    const schemeM2 = (steps: number) => {
      let v = 0;
      for (let k = 0; k < steps; k++) v = (1 - 1 / steps) ** 2 * v + 2 / steps;
      return v;
    };
    const measured: number[] = [];
    for (const steps of [4, 8]) {
      const x0 = ebm.zeros([n, 1]);
      const x = new EulerMaruyama().integrate({ x: x0, drift: (y) => y.neg(), diffusion: 1, stepSize: 1 / steps, nSteps: steps, seed: 100 + steps });
      const m2 = ebm.tidy(() => x.square().mean());
      measured.push((await m2.data())[0]!);
      // x_T is Gaussian with variance v <= 1.03, so x_T^2 has variance 2 v^2 <= 2.1: the mean of
      // n draws has standard error sqrt(2.1 / n) = 0.004; 4 of them is 0.016.
      expect(Math.abs(measured.at(-1)! - schemeM2(steps))).toBeLessThan(0.016);
      for (const t of [x0, x, m2]) t.dispose();
    }
    const [b4, b8] = measured.map((m) => m - exactM2);
    // The scheme's biases are 0.164 and 0.076 (ratio 2.15); with the 0.004 standard error on
    // each, the measured ratio is 2.15 +- 0.25 (2 sigma). Weak order 1: a ratio near 2.
    console.log(`OU: bias ${b4!.toFixed(4)} at h = 1/4, ${b8!.toFixed(4)} at h = 1/8, ratio ${(b4! / b8!).toFixed(2)}`);
    expect(b4! / b8!).toBeGreaterThan(1.7);
    expect(b4! / b8!).toBeLessThan(2.6);
  });

  it('a tensor diffusion D(x, t) scales the noise per element; ODE integrators refuse a diffusion', async () => {
    const x = ebm.zeros([4096, 2]);
    const noise = ebm.randn([4096, 2], { seed: 3 });
    const d = ebm.tensor([0.5, 2], [1, 2]);
    const y = new EulerMaruyama().step({ x, drift: (z) => z.mul(0), diffusion: () => d, stepSize: 0.25, noise });
    // x' = sqrt(2 D h) eps exactly: columns scaled by sqrt(0.25) and 1.
    const want = ebm.tidy(() => noise.mul(d.mul(0.5).sqrt()));
    const [a, b] = [await y.data(), await want.data()];
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
    expect(() => new RK4().step({ x, drift, stepSize: 0.1, diffusion: 1 })).toThrow(/RK4\.step: RK4 integrates ODEs; a diffusion needs EulerMaruyama or Heun/);
    expect(() => new EulerMaruyama().step({ x, drift, stepSize: 0.1, diffusion: -1 })).toThrow(/EulerMaruyama\.step: diffusion must be a finite number >= 0, got -1/);
    for (const t of [x, noise, d, y, want]) t.dispose();
  });
});

describe('Leapfrog', () => {
  const gradient = (x: Tensor) => x.mul(1); // E = |x|^2 / 2: a harmonic oscillator, H = (|x|^2 + |p|^2) / 2

  it('conserves the energy to O(h^2) without drift over 200 steps', async () => {
    const x0 = ebm.randn([64, 3], { seed: 1 });
    const p0 = ebm.randn([64, 3], { seed: 2 });
    const H = (x: Tensor, p: Tensor) => ebm.tidy(() => x.square().sum(1).add(p.square().sum(1)).mul(0.5));
    const h0 = await H(x0, p0).data();
    let [x, p] = [x0, p0];
    let worst = 0;
    const lf = new Leapfrog();
    for (let k = 0; k < 20; k++) {
      const next = lf.integrate({ x, p, gradient, stepSize: 0.1, nSteps: 10 });
      if (x !== x0) [x, p].forEach((t) => t.dispose());
      [x, p] = [next.x, next.p];
      const hk = await H(x, p).data();
      worst = Math.max(worst, ...Array.from(hk, (v, i) => Math.abs(v - h0[i]!) / h0[i]!));
    }
    // For the harmonic oscillator leapfrog conserves H~ = H + O(h^2) exactly; |H - H0| / H0 stays
    // below h^2 / 4 = 0.0025 (the shadow Hamiltonian's bound), plus f32 round-off.
    console.log(`leapfrog: worst relative energy error over 200 steps of h = 0.1: ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(0.0026);
    expect(worst).toBeGreaterThan(1e-5); // it is an O(h^2) scheme, not exact
    for (const t of [x0, p0, x, p]) t.dispose();
  });

  it('is reversible: L steps, negate p, L steps return to the start', async () => {
    const x0 = ebm.randn([32, 2], { seed: 5 });
    const p0 = ebm.randn([32, 2], { seed: 6 });
    const dw = (x: Tensor) => x.square().sub(1).mul(x).mul(4); // a double well: nonlinear forces
    const lf = new Leapfrog();
    const fwd = lf.integrate({ x: x0, p: p0, gradient: dw, stepSize: 0.05, nSteps: 25, mass: 2 });
    const back = lf.integrate({ x: fwd.x, p: fwd.p.neg(), gradient: dw, stepSize: 0.05, nSteps: 25, mass: 2 });
    const [xb, pb, xa, pa] = await Promise.all([back.x.data(), back.p.data(), x0.data(), p0.data()]);
    // f32 round-off over 50 steps of O(1) values: 1e-4 absolute.
    for (let i = 0; i < xa.length; i++) {
      expect(Math.abs(xb[i]! - xa[i]!)).toBeLessThan(1e-4);
      expect(Math.abs(-pb[i]! - pa[i]!)).toBeLessThan(1e-4);
    }
  });

  it("HMC's fused kernels move (x, p) exactly as Leapfrog.integrate", async () => {
    const [n, d, h, L, mass] = [37, 3, 0.07, 4, 1.5];
    const g = new ebm.GaussianEnergy([0.5, -1, 0], [[2, 0.3, 0], [0.3, 1, 0.2], [0, 0.2, 0.5]]);
    const x = ebm.randn([n, d], { seed: 9 });
    const s = { x, grad: g.gradient(x), chain: ebm.zeros([3, n]), xp: ebm.zeros([n, d]), p: ebm.zeros([n, d]) };
    const a = { step: 0, key: { lo: 17, hi: 0 }, h, mass };
    ebm.fused.hmcBegin_(s, a);
    // The starting momentum, recovered from the first half step: p0 = p + (h/2) grad(x).
    const p0 = ebm.tidy(() => s.p.add(s.grad.mul(h / 2)));
    for (let l = 1; l < L; l++) ebm.tidy(() => ebm.fused.hmcLeap_(s, g.gradient(s.xp), a));
    const pEnd = ebm.tidy(() => s.p.sub(g.gradient(s.xp).mul(h / 2)));
    const ref = new Leapfrog().integrate({ x, p: p0, gradient: (y) => g.gradient(y), stepSize: h, nSteps: L, mass });
    const [gx, rx, gp, rp] = await Promise.all([s.xp.data(), ref.x.data(), pEnd.data(), ref.p.data()]);
    for (let i = 0; i < gx.length; i++) {
      expect(Math.abs(gx[i]! - rx[i]!)).toBeLessThan(1e-5);
      expect(Math.abs(gp[i]! - rp[i]!)).toBeLessThan(1e-5);
    }
    g.dispose();
  });

  it('names bad arguments', () => {
    const x = ebm.zeros([2, 2]);
    expect(() => new Leapfrog().step({ x, p: ebm.zeros([2, 3]), gradient, stepSize: 0.1 })).toThrow(/Leapfrog\.step: p has shape \[2, 3\]; it must match x \[2, 2\]/);
    expect(() => new Leapfrog().integrate({ x, p: x, gradient, stepSize: 0.1, mass: 0 })).toThrow(/Leapfrog\.integrate: mass must be a finite number > 0, got 0/);
    expect(() => new Leapfrog().integrate({ x, p: x, gradient: (y) => y.sum(1), stepSize: 0.1 })).toThrow(/Leapfrog\.integrate: gradient\(x\) must return a Tensor of x's shape \[2, 2\], got \[2\]/);
    expect(() => new EulerMaruyama().integrate({ x, drift, stepSize: 0.1, nSteps: 0 })).toThrow(/EulerMaruyama\.integrate: nSteps must be an integer >= 1, got 0/);
    expect(() => new RK4().step({ x: [1, 2] as never, drift, stepSize: 0.1 })).toThrow(/RK4\.step: x must be a Tensor \[batch, \.\.\.\], got \[1, 2\]/);
    expect(() => new Midpoint().step({ x, drift, stepSize: 0.1, dt: 1 } as never)).toThrow(/Midpoint\.step: unknown option 'dt'/);
  });
});
