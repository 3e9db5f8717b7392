// Leapfrog (TorchEBM's LeapfrogIntegrator): the symplectic, time-reversible integrator of
// Hamiltonian dynamics H(x, p) = E(x) + |p|^2 / (2 m):
//   p_1/2 = p - (h/2) grad E(x),   x' = x + h p_1/2 / m,   p' = p_1/2 - (h/2) grad E(x').
// integrate() merges the inner half steps, so L steps cost L + 1 gradients. HamiltonianMonteCarlo
// runs exactly this update as fused kernels (hmcBegin_ / hmcLeap_ / hmcAccept_, shaders/hmc.wgsl).
import { tidy, Tensor } from '../../tensor/index.js';
import { fmt, sameShape } from '../../tensor/shape.js';
import { checkKeys, describe, finite, positiveInt, real } from '../samplers/options.js';
import { checkStates } from './base.js';

export interface LeapfrogArgs {
  /** Positions [batch, ...] and momenta (same shape); neither is modified. */
  x: Tensor;
  p: Tensor;
  /** grad E at x (x's shape). */
  gradient: (x: Tensor) => Tensor;
  stepSize: number;
  /** Leapfrog steps (integrate only; default 1). */
  nSteps?: number;
  /** The scalar mass m (default 1). */
  mass?: number;
}

const KEYS = ['x', 'p', 'gradient', 'stepSize', 'nSteps', 'mass'] as const;

export class Leapfrog {
  readonly name = 'Leapfrog';

  /** One leapfrog step: the new { x, p }. */
  step(args: Omit<LeapfrogArgs, 'nSteps'>): { x: Tensor; p: Tensor } {
    return this.integrate({ ...args, nSteps: 1 }, `${this.name}.step`);
  }

  /** nSteps leapfrog steps: the final { x, p }. */
  integrate(args: LeapfrogArgs, where = `${this.name}.integrate`): { x: Tensor; p: Tensor } {
    checkKeys(where, 'arguments', args, KEYS);
    const x0 = checkStates(where, 'x', args.x);
    const p0 = checkStates(where, 'p', args.p);
    if (!sameShape(x0.shape, p0.shape)) throw new Error(`${where}: p has shape ${fmt(p0.shape)}; it must match x ${fmt(x0.shape)}`);
    if (typeof args.gradient !== 'function') throw new Error(`${where}: gradient must be a function x => Tensor (grad E at x), got ${describe(args.gradient)}`);
    const h = real(where, 'stepSize', args.stepSize);
    const n = positiveInt(where, 'nSteps', args.nSteps ?? 1);
    const m = finite(where, 'mass', args.mass ?? 1, 0, false);
    const grad = (x: Tensor): Tensor => {
      const g = args.gradient(x);
      if (!(g instanceof Tensor) || !sameShape(g.shape, x.shape)) throw new Error(`${where}: gradient(x) must return a Tensor of x's shape ${fmt(x.shape)}, got ${g instanceof Tensor ? fmt(g.shape) : describe(g)}`);
      return g;
    };
    return tidy(() => {
      let x = x0;
      let p = p0.sub(grad(x0).mul(h / 2));
      for (let l = 0; l < n; l++) {
        x = x.add(p.mul(h / m));
        // A full momentum step between positions, the closing half step after the last.
        p = p.sub(grad(x).mul(l === n - 1 ? h / 2 : h));
      }
      return { x, p };
    });
  }
}

