// The fixed-step integrators (TorchEBM's EulerMaruyamaIntegrator, HeunIntegrator,
// MidpointIntegrator, RK4Integrator): explicit Runge-Kutta steps written as tensor ops,
//   k_i = f(x + h sum_j a_ij k_j, t + c_i h),   x' = x + h sum_i b_i k_i,
// and, for the two SDE integrators, the diffusion's increment sqrt(2 D h) eps. Orders on ODEs:
// Euler 1, Heun 2, Midpoint 2, RK4 4 (test/integrators.test.ts measures them).
import { langevinStep_, type PhiloxKey } from '../../tensor/ops/fused/index.js';
import type { Tensor } from '../../tensor/index.js';
import { BaseIntegrator, evalField, timeTensor, type Diffusion, type Drift } from './base.js';

interface Tableau {
  a: readonly (readonly number[])[];
  b: readonly number[];
  c: readonly number[];
}

/** An explicit Runge-Kutta step by its Butcher tableau (the ODE part of every fixed-step integrator). */
function rkStep(where: string, tab: Tableau, x: Tensor, t: number, h: number, drift: Drift): Tensor {
  const k: Tensor[] = [];
  for (let i = 0; i < tab.b.length; i++) {
    let xi = x;
    tab.a[i]!.forEach((aij, j) => {
      if (aij !== 0) xi = xi.add(k[j]!.mul(h * aij));
    });
    k.push(evalField(where, 'drift', drift, xi, timeTensor(x, t + tab.c[i]! * h)));
  }
  let out = x;
  tab.b.forEach((bi, i) => {
    if (bi !== 0) out = out.add(k[i]!.mul(h * bi));
  });
  return out === x ? x.clone() : out;
}

const EULER: Tableau = { a: [[]], b: [1], c: [0] };
const MIDPOINT: Tableau = { a: [[], [0.5]], b: [0, 1], c: [0, 0.5] };
const RK4_TABLEAU: Tableau = { a: [[], [0.5], [0, 0.5], [0, 0, 1]], b: [1 / 6, 1 / 3, 1 / 3, 1 / 6], c: [0, 0.5, 0.5, 1] };

/**
 * Euler-Maruyama: x' = x + f(x, t) h + sqrt(2 D(x, t) h) eps (Euler's method without a
 * diffusion). Strong order 1/2, weak order 1; on ODEs, order 1.
 */
export class EulerMaruyama extends BaseIntegrator {
  constructor() {
    super('EulerMaruyama', true);
  }

  protected advance(x: Tensor, t: number, h: number, drift: Drift, diffusion: Diffusion | undefined, noise: Tensor | null): Tensor {
    const where = `${this.name}.step`;
    const out = rkStep(where, EULER, x, t, h, drift);
    return diffusion === undefined || !noise ? out : out.add(this.noiseTerm(where, diffusion, x, timeTensor(x, t), h, noise));
  }

  /**
   * The fused step LangevinDynamics runs (one dispatch, shaders/langevin.wgsl): Euler-Maruyama
   * for the drift -grad E and the constant diffusion noiseScale^2, in place on x, i.e.
   *   x <- clamp(x - h grad + noiseScale sqrt(2h) eps),  eps from Philox at (key, step).
   */
  gradientStep_(x: Tensor, grad: Tensor, a: { stepSize: number; noiseScale: number; step: number; key: PhiloxKey; clampMin?: number; clampMax?: number }): Tensor {
    return langevinStep_(x, grad, { step: a.step, key: a.key, h: a.stepSize, sigma: a.noiseScale * Math.sqrt(2 * a.stepSize), clampMin: a.clampMin, clampMax: a.clampMax });
  }
}

/**
 * Heun (the explicit trapezoid rule, order 2 on ODEs). With a diffusion, the stochastic Heun
 * step: the predictor x~ = x + f(x) h + sqrt(2 D h) eps, then
 * x' = x + (f(x) + f(x~)) h / 2 + sqrt(2 D h) eps with the same eps (D evaluated at (x, t)).
 */
export class Heun extends BaseIntegrator {
  constructor() {
    super('Heun', true);
  }

  protected advance(x: Tensor, t: number, h: number, drift: Drift, diffusion: Diffusion | undefined, noise: Tensor | null): Tensor {
    const where = `${this.name}.step`;
    if (diffusion === undefined || !noise) return rkStep(where, { a: [[], [1]], b: [0.5, 0.5], c: [0, 1] }, x, t, h, drift);
    const t0 = timeTensor(x, t);
    const dw = this.noiseTerm(where, diffusion, x, t0, h, noise);
    const f0 = evalField(where, 'drift', drift, x, t0);
    const pred = x.add(f0.mul(h)).add(dw);
    const f1 = evalField(where, 'drift', drift, pred, timeTensor(x, t + h));
    return x.add(f0.add(f1).mul(h / 2)).add(dw);
  }
}

/** The explicit midpoint rule: k = f(x + (h/2) f(x, t), t + h/2), x' = x + h k. Order 2; ODEs only. */
export class Midpoint extends BaseIntegrator {
  constructor() {
    super('Midpoint', false);
  }

  protected advance(x: Tensor, t: number, h: number, drift: Drift): Tensor {
    return rkStep(`${this.name}.step`, MIDPOINT, x, t, h, drift);
  }
}

/** The classical fourth-order Runge-Kutta method. Order 4; ODEs only. */
export class RK4 extends BaseIntegrator {
  constructor() {
    super('RK4', false);
  }

  protected advance(x: Tensor, t: number, h: number, drift: Drift): Tensor {
    return rkStep(`${this.name}.step`, RK4_TABLEAU, x, t, h, drift);
  }
}
