// The integrators' shared contract (TorchEBM's torchebm/integrators): each advances a batch of
// states x [batch, ...] by a drift f(x, t) and, for the SDE integrators, a diffusion D(x, t) in
// TorchEBM's convention
//   dx = f(x, t) dt + sqrt(2 D(x, t)) dW,
// with every quantity a tensor op, so a step is recorded GPU work and nothing is read back.
// The drift receives t as a tensor [batch] (one time per row; Dopri5 keeps a time per chain).
import { deriveSeed } from '../../nn/init.js';
import { full, randn, tidy, Tensor } from '../../tensor/index.js';
import { fmt, sameShape } from '../../tensor/shape.js';
import { checkKeys, describe, finite, positiveInt, real, seedOf } from '../samplers/options.js';

/** f(x, t): x [batch, ...], t [batch]; returns a tensor of x's shape. */
export type Drift = (x: Tensor, t: Tensor) => Tensor;
/** D(x, t) >= 0, the diffusion: a number, or a function giving a number or a tensor that broadcasts against x. */
export type Diffusion = number | ((x: Tensor, t: Tensor) => Tensor | number);

export interface IntegratorStepArgs {
  /** The states [batch, ...] (not modified; step returns the new states). */
  x: Tensor;
  drift: Drift;
  /** SDE integrators only: D in dx = f dt + sqrt(2 D) dW. */
  diffusion?: Diffusion;
  /** The time at x (default 0). */
  t?: number;
  /** dt (negative integrates backwards in time). */
  stepSize: number;
  /** The step's standard normals (x's shape) for the diffusion; default drawn from seed. */
  noise?: Tensor;
  /** Seeds the step's noise when noise is not given. */
  seed?: number;
}

export interface IntegrateArgs {
  x: Tensor;
  drift: Drift;
  diffusion?: Diffusion;
  /** Start time (default 0); step k runs from t0 + k stepSize. */
  t0?: number;
  stepSize: number;
  nSteps: number;
  /** Step k's noise is randn with seed deriveSeed(seed, k). */
  seed?: number;
}

const STEP_KEYS = ['x', 'drift', 'diffusion', 't', 'stepSize', 'noise', 'seed'] as const;
const INTEGRATE_KEYS = ['x', 'drift', 'diffusion', 't0', 'stepSize', 'nSteps', 'seed'] as const;

/** Checks a batch of states, naming the argument. */
export function checkStates(where: string, name: string, x: unknown): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${where}: ${name} must be a Tensor [batch, ...], got ${describe(x)}`);
  x.assertAlive(where);
  if (x.rank < 1 || x.shape[0] === 0) throw new Error(`${where}: ${name} must have shape [batch, ...] with batch >= 1, got ${fmt(x.shape)}`);
  if (x.dtype !== 'f32') throw new Error(`${where}: ${name} must be f32, got ${x.dtype}`);
  return x;
}

/** Calls f and checks that it gave a tensor of x's shape. */
export function evalField(where: string, what: string, f: (x: Tensor, t: Tensor) => unknown, x: Tensor, t: Tensor): Tensor {
  const v = f(x, t);
  if (!(v instanceof Tensor)) throw new Error(`${where}: ${what}(x, t) must return a Tensor, got ${describe(v)}`);
  if (!sameShape(v.shape, x.shape)) throw new Error(`${where}: ${what}(x, t) returned shape ${fmt(v.shape)} for x of shape ${fmt(x.shape)}; it must match x`);
  return v;
}

/** t as the drift sees it: [batch]. */
export function timeTensor(x: Tensor, t: number): Tensor {
  return full([x.shape[0]!], t, { device: x.device });
}

function checkFn(where: string, name: string, f: unknown): void {
  if (typeof f !== 'function') throw new Error(`${where}: ${name} must be a function (x, t) => Tensor, got ${describe(f)}`);
}

/** Fixed-step integrators: Euler-Maruyama, Heun, Midpoint, RK4. */
export abstract class BaseIntegrator {
  protected constructor(
    readonly name: string,
    /** Whether the integrator takes a diffusion (an SDE integrator). */
    readonly stochastic: boolean,
  ) {}

  /** One step from (x, t) to t + stepSize: the new states (x's shape). */
  step(args: IntegratorStepArgs): Tensor {
    const where = `${this.name}.step`;
    checkKeys(where, 'arguments', args, STEP_KEYS);
    const x = checkStates(where, 'x', args.x);
    checkFn(where, 'drift', args.drift);
    const t = real(where, 't', args.t ?? 0);
    const h = real(where, 'stepSize', args.stepSize);
    const noise = this.checkDiffusion(where, args.diffusion, args.noise, args.seed, x);
    return this.advance(x, t, h, args.drift, args.diffusion, noise);
  }

  /** nSteps steps from (x, t0): the final states. Each step's temporaries are freed with it. */
  integrate(args: IntegrateArgs): Tensor {
    const where = `${this.name}.integrate`;
    checkKeys(where, 'arguments', args, INTEGRATE_KEYS);
    const x0 = checkStates(where, 'x', args.x);
    checkFn(where, 'drift', args.drift);
    const t0 = real(where, 't0', args.t0 ?? 0);
    const h = real(where, 'stepSize', args.stepSize);
    const n = positiveInt(where, 'nSteps', args.nSteps);
    const seed = args.seed === undefined ? undefined : seedOf(where, args.seed);
    this.checkDiffusion(where, args.diffusion, undefined, undefined, x0, true);
    let x = x0;
    for (let k = 0; k < n; k++) {
      const prev = x;
      x = tidy(() => {
        const noise = args.diffusion === undefined ? null : randn(prev.shape, { seed: deriveSeed(seed, k), device: prev.device });
        return this.advance(prev, t0 + k * h, h, args.drift, args.diffusion, noise);
      });
      if (prev !== x0) prev.dispose();
    }
    return x === x0 ? x0.clone() : x;
  }

  /** The step's noise (null for an ODE step), after checking the diffusion arguments. */
  private checkDiffusion(where: string, diffusion: unknown, noise: unknown, seed: unknown, x: Tensor, lazy = false): Tensor | null {
    if (diffusion === undefined) {
      if (noise !== undefined) throw new Error(`${where}: noise was given without a diffusion`);
      return null;
    }
    if (!this.stochastic) throw new Error(`${where}: ${this.name} integrates ODEs; a diffusion needs EulerMaruyama or Heun`);
    if (typeof diffusion === 'number') finite(where, 'diffusion', diffusion, 0, true);
    else checkFn(where, 'diffusion', diffusion);
    if (lazy) return null;
    if (noise !== undefined) {
      const n = checkStates(where, 'noise', noise);
      if (!sameShape(n.shape, x.shape)) throw new Error(`${where}: noise has shape ${fmt(n.shape)}; it must match x ${fmt(x.shape)}`);
      return n;
    }
    return randn(x.shape, { seed: seed === undefined ? undefined : seedOf(where, seed), device: x.device });
  }

  /** sqrt(2 D dt) * noise, the diffusion's increment over one step. */
  protected noiseTerm(where: string, diffusion: Diffusion, x: Tensor, t: Tensor, h: number, noise: Tensor): Tensor {
    const d = typeof diffusion === 'number' ? diffusion : diffusion(x, t);
    if (typeof d === 'number') {
      finite(where, 'diffusion(x, t)', d, 0, true);
      return noise.mul(Math.sqrt(2 * d * Math.abs(h)));
    }
    if (!(d instanceof Tensor)) throw new Error(`${where}: diffusion(x, t) must return a number or a Tensor, got ${describe(d)}`);
    return d.mul(2 * Math.abs(h)).sqrt().mul(noise);
  }

  /** The step itself, arguments already checked. */
  protected abstract advance(x: Tensor, t: number, h: number, drift: Drift, diffusion: Diffusion | undefined, noise: Tensor | null): Tensor;
}
