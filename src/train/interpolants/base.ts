// BaseInterpolant: TorchEBM's stochastic interpolants (torchebm/core/base_interpolant.py), a
// path between noise x0 ~ N(0, I) and data x1:
//   x_t = alpha(t) x1 + sigma(t) x0,   u_t = dx_t/dt = alpha'(t) x1 + sigma'(t) x0,
// t in [0, 1], t = 0 noise, t = 1 data. A subclass gives (alpha, alpha') and (sigma, sigma') as
// tensor ops of t, so a whole batch with one time per row is a handful of elementwise dispatches.
import { full, Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { describe } from '../samplers/options.js';

/** A time: one number for the whole batch, or a tensor [batch] (one time per row). */
export type TimeLike = number | Tensor;

/** x_t and its time derivative u_t, both of x0's shape. */
export interface Interpolated {
  xt: Tensor;
  ut: Tensor;
}

/** t as a tensor [batch, 1, ...] (x's rank) that broadcasts against x ([batch, ...]); TorchEBM's expand_t_like_x. */
export function expandTLikeX(where: string, t: TimeLike, x: Tensor): Tensor {
  const batch = x.shape[0]!;
  const ones = new Array<number>(x.rank - 1).fill(1);
  if (typeof t === 'number') {
    if (!Number.isFinite(t)) throw new Error(`${where}: t must be a finite number or a Tensor [${batch}], got ${t}`);
    return full([batch, ...ones], t, { device: x.device });
  }
  if (!(t instanceof Tensor)) throw new Error(`${where}: t must be a number or a Tensor [${batch}], got ${describe(t)}`);
  t.assertAlive(where);
  if (t.size !== batch || t.shape[0] !== batch) throw new Error(`${where}: t has shape ${fmt(t.shape)}; expected [${batch}] (one time per row of x ${fmt(x.shape)})`);
  if (t.device !== x.device) throw new Error(`${where}: t and x are on different devices`);
  return (t.dtype === 'f32' ? t : t.to('f32')).reshape([batch, ...ones]);
}

function checkX(where: string, name: string, x: unknown, like?: Tensor): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${where}: ${name} must be a Tensor [batch, ...], got ${describe(x)}`);
  x.assertAlive(where);
  if (x.rank < 1 || x.shape[0] === 0) throw new Error(`${where}: ${name} must have shape [batch, ...] with batch >= 1, got ${fmt(x.shape)}`);
  if (like && (x.rank !== like.rank || x.shape.some((d, i) => d !== like.shape[i])))
    throw new Error(`${where}: ${name} has shape ${fmt(x.shape)}; it must match x0 ${fmt(like.shape)}`);
  if (like && x.device !== like.device) throw new Error(`${where}: x0 and ${name} are on different devices`);
  return x;
}

export abstract class BaseInterpolant {
  protected constructor(protected readonly name: string) {}

  /** [alpha(t), alpha'(t)], elementwise in t (any shape). */
  abstract computeAlphaT(t: Tensor): [Tensor, Tensor];
  /** [sigma(t), sigma'(t)], elementwise in t. */
  abstract computeSigmaT(t: Tensor): [Tensor, Tensor];

  /** alpha'(t) / alpha(t), with alpha clamped to >= 1e-8 as TorchEBM does (subclasses give a steadier closed form). */
  computeDAlphaAlphaRatioT(t: Tensor): Tensor {
    const [a, da] = this.computeAlphaT(t);
    return da.div(a.clamp(1e-8, null));
  }

  /**
   * x_t = alpha(t) x1 + sigma(t) x0 and u_t = alpha'(t) x1 + sigma'(t) x0, for noise x0 and data
   * x1 of one shape [batch, ...] and t a number or a tensor [batch].
   */
  interpolate(x0: Tensor, x1: Tensor, t: TimeLike): Interpolated {
    const where = `${this.name}.interpolate`;
    checkX(where, 'x0', x0);
    checkX(where, 'x1', x1, x0);
    const te = expandTLikeX(where, t, x0);
    const [a, da] = this.computeAlphaT(te);
    const [s, ds] = this.computeSigmaT(te);
    return { xt: x1.mul(a).add(x0.mul(s)), ut: x1.mul(da).add(x0.mul(ds)) };
  }

  /**
   * The probability-flow drift in the score parameterisation (TorchEBM's compute_drift):
   * dx/dt = -driftMean + driftVar * score, with driftMean = -(alpha'/alpha) x and
   * driftVar = (alpha'/alpha) sigma^2 - sigma sigma'.
   */
  computeDrift(x: Tensor, t: TimeLike): { driftMean: Tensor; driftVar: Tensor } {
    const where = `${this.name}.computeDrift`;
    checkX(where, 'x', x);
    const te = expandTLikeX(where, t, x);
    const ratio = this.computeDAlphaAlphaRatioT(te);
    const [s, ds] = this.computeSigmaT(te);
    return { driftMean: x.mul(ratio).neg(), driftVar: ratio.mul(s.square()).sub(s.mul(ds)) };
  }
}
