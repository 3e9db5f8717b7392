// Dopri5 (TorchEBM's Dopri5Integrator; Dormand and Prince 1980): the adaptive 5(4) Runge-Kutta
// pair with error control, as tensor ops. Every chain of the batch keeps its own time t and step
// size h on the GPU; an attempt evaluates the seven stages (the last is first-same-as-last, so
// six new drifts), estimates the local error with the embedded fourth-order solution, and per
// chain accepts (error norm <= 1) or rejects, then rescales h by
// clamp(safety err^(-1/5), minFactor, maxFactor). The error norm is the RMS over a chain's
// elements of err / (atol + rtol max(|x|, |x'|)) (torchdiffeq's). A chain that reached t1 idles
// (h = 0), so a fixed number of attempts needs no readback; solveAsync stops early instead.
import { full, maximum, minimum, tidy, where, Tensor } from '../../tensor/index.js';
import { checkKeys, describe, finite, positiveInt, real } from '../samplers/options.js';
import { checkStates, evalField, type Drift } from './base.js';

const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1];
const A: readonly (readonly number[])[] = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
/** The fifth-order weights (A's last row) minus the embedded fourth-order ones. */
const B5 = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0];
const B4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40];
const E = B5.map((b, i) => b - B4[i]!);

export interface Dopri5Options {
  /** Absolute tolerance (default 1e-6, as TorchEBM's FlowSampler). */
  atol?: number;
  /** Relative tolerance (default 1e-3). */
  rtol?: number;
  /** Attempts (accepted or rejected steps) per solve (default 100). */
  maxSteps?: number;
  /** Step-size controller: h *= clamp(safety err^(-1/5), minFactor, maxFactor) (defaults 0.9, 0.2, 10). */
  safety?: number;
  minFactor?: number;
  maxFactor?: number;
  /** The first step as a fraction of t1 - t0 (default 0.1). */
  firstStep?: number;
}

export interface Dopri5Args {
  x: Tensor;
  drift: Drift;
  /** Integrate from t0 (default 0) to t1 (default 1), t1 > t0. */
  t0?: number;
  t1?: number;
  /** Overrides the constructor's maxSteps for this call. */
  maxSteps?: number;
}

export interface Dopri5Result {
  /** The states at each chain's t. */
  x: Tensor;
  /** [batch]: each chain's time (t1 once done). */
  t: Tensor;
  /** [batch]: accepted steps per chain. */
  steps: Tensor;
  /** [batch]: rejected steps per chain. */
  rejected: Tensor;
}

const NAME = 'Dopri5';
const KEYS = ['atol', 'rtol', 'maxSteps', 'safety', 'minFactor', 'maxFactor', 'firstStep'] as const;
const ARG_KEYS = ['x', 'drift', 't0', 't1', 'maxSteps'] as const;

interface Solve {
  x: Tensor;
  /** The drift at x (first same as last). */
  k1: Tensor;
  t: Tensor;
  h: Tensor;
  steps: Tensor;
  rejected: Tensor;
}

export class Dopri5 {
  readonly name = NAME;
  readonly atol: number;
  readonly rtol: number;
  readonly maxSteps: number;
  readonly safety: number;
  readonly minFactor: number;
  readonly maxFactor: number;
  readonly firstStep: number;

  constructor(opts: Dopri5Options = {}) {
    checkKeys(NAME, 'options', opts, KEYS);
    this.atol = finite(NAME, 'atol', opts.atol ?? 1e-6, 0, true);
    this.rtol = finite(NAME, 'rtol', opts.rtol ?? 1e-3, 0, true);
    if (this.atol === 0 && this.rtol === 0) throw new Error(`${NAME}: atol and rtol cannot both be 0`);
    this.maxSteps = positiveInt(NAME, 'maxSteps', opts.maxSteps ?? 100);
    this.safety = finite(NAME, 'safety', opts.safety ?? 0.9, 0, false);
    this.minFactor = finite(NAME, 'minFactor', opts.minFactor ?? 0.2, 0, false);
    this.maxFactor = finite(NAME, 'maxFactor', opts.maxFactor ?? 10, 1, false);
    if (this.minFactor >= 1) throw new Error(`${NAME}: minFactor must be < 1, got ${this.minFactor}`);
    this.firstStep = finite(NAME, 'firstStep', opts.firstStep ?? 0.1, 0, false);
    if (this.firstStep > 1) throw new Error(`${NAME}: firstStep is a fraction of t1 - t0 and must be <= 1, got ${this.firstStep}`);
  }

  /** The states at t1 (after maxSteps attempts; a chain that needs more stops short, see solve). */
  integrate(args: Dopri5Args): Tensor {
    const r = this.solve(args);
    for (const t of [r.t, r.steps, r.rejected]) t.dispose();
    return r.x;
  }

  /** maxSteps attempts, all recorded GPU work: the states, times and step counts per chain. */
  solve(args: Dopri5Args): Dopri5Result {
    const { s, attempts, t1, span } = this.begin(args, `${NAME}.solve`);
    for (let i = 0; i < attempts; i++) this.attempt(s, args.drift, t1, span);
    return this.finish(s);
  }

  /**
   * Like solve, but reads back whether every chain reached t1 once per checkEvery attempts
   * (default 8) and stops there: the same result as solve, with fewer wasted attempts.
   */
  async solveAsync(args: Dopri5Args, checkEvery = 8): Promise<Dopri5Result> {
    positiveInt(`${NAME}.solveAsync`, 'checkEvery', checkEvery);
    const { s, attempts, t1, span } = this.begin(args, `${NAME}.solveAsync`);
    for (let i = 0; i < attempts; ) {
      for (let j = 0; j < checkEvery && i < attempts; j++, i++) this.attempt(s, args.drift, t1, span);
      const behind = tidy(() => s.t.min());
      const tMin = (await behind.data())[0]!;
      behind.dispose();
      if (t1 - tMin <= span * 1e-6) break;
    }
    return this.finish(s);
  }

  private begin(args: Dopri5Args, where: string) {
    checkKeys(where, 'arguments', args, ARG_KEYS);
    const x = checkStates(where, 'x', args.x);
    if (typeof args.drift !== 'function') throw new Error(`${where}: drift must be a function (x, t) => Tensor, got ${describe(args.drift)}`);
    const t0 = real(where, 't0', args.t0 ?? 0);
    const t1 = real(where, 't1', args.t1 ?? 1);
    if (!(t1 > t0)) throw new Error(`${where}: t1 (${t1}) must be greater than t0 (${t0})`);
    const attempts = positiveInt(where, 'maxSteps', args.maxSteps ?? this.maxSteps);
    const b = x.shape[0]!;
    const opts = { device: x.device };
    const t = full([b], t0, opts);
    const k1 = tidy(() => evalField(where, 'drift', args.drift, x, t));
    const s: Solve = { x: x.clone(), k1, t, h: full([b], (t1 - t0) * this.firstStep, opts), steps: full([b], 0, opts), rejected: full([b], 0, opts) };
    return { s, attempts, t1, span: t1 - t0 };
  }

  /** One attempt for every chain; replaces the tensors of s. */
  private attempt(s: Solve, drift: Drift, t1: number, span: number): void {
    const next = tidy(() => {
      const { x, k1, t } = s;
      const b = x.shape[0]!;
      const col = [b, ...new Array<number>(x.rank - 1).fill(1)];
      const rem = t.neg().add(t1);
      // A chain within a millionth of the span of t1 is done and idles with h = 0.
      const active = rem.gt(span * 1e-6);
      const hEff = where(active, minimum(s.h, rem), 0);
      const he = hEff.reshape(col);
      const k = [k1];
      for (let i = 1; i < 7; i++) {
        let acc: Tensor | null = null;
        A[i]!.forEach((a, j) => {
          if (a !== 0) acc = acc ? acc.add(k[j]!.mul(a)) : k[j]!.mul(a);
        });
        const xi = x.add(acc!.mul(he));
        k.push(evalField(`${NAME}.solve`, 'drift', drift, xi, t.add(hEff.mul(C[i]!))));
        if (i === 6) k.push(xi); // the fifth-order solution (stage 7 is evaluated there)
      }
      const x5 = k.pop()!;
      let errSum: Tensor | null = null;
      E.forEach((e, i) => {
        if (e !== 0) errSum = errSum ? errSum.add(k[i]!.mul(e)) : k[i]!.mul(e);
      });
      const scale = maximum(x.abs(), x5.abs()).mul(this.rtol).add(this.atol);
      const ratio = errSum!.mul(he).div(scale);
      const err = ratio.square().reshape([b, -1]).mean(1).sqrt();
      const ok = err.le(1);
      const okX = ok.reshape(col);
      const factor = err.pow(-0.2).mul(this.safety).clamp(this.minFactor, this.maxFactor);
      const moved = ok.mul(active);
      return {
        x: where(okX, x5, x),
        k1: where(okX, k[6]!, k1),
        t: where(ok, t.add(hEff), t),
        h: where(active, minimum(hEff.mul(factor), span), s.h),
        steps: s.steps.add(moved),
        rejected: s.rejected.add(active.sub(moved)),
      };
    });
    for (const key of Object.keys(next) as (keyof Solve)[]) {
      s[key].dispose();
      s[key] = next[key];
    }
  }

  private finish(s: Solve): Dopri5Result {
    s.k1.dispose();
    s.h.dispose();
    return { x: s.x, t: s.t, steps: s.steps, rejected: s.rejected };
  }
}

