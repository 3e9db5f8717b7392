// The fused Langevin update as a tensor op (shaders/langevin.wgsl): one dispatch moves every
// chain of x in place by
//   x <- clamp(x - h * grad + sigma * eps),   eps ~ N(0, 1) from Philox,
// where sigma = noiseScale * sqrt(2h). The noise of element i at step t is Philox at the key
// (seedLo, seedHi) and counter (i, t), so a chain is reproducible from its seed alone.
import { langevinStepKernel } from '../../../kernels/langevin.js';
import type { Tensor } from '../../tensor.js';
import { arg, distinct, finiteArg, intArg, sameDevice } from './common.js';

/** A 64-bit Philox key as two 32-bit words. */
export interface PhiloxKey {
  lo: number;
  hi: number;
}

export interface LangevinStep {
  /** The step's Philox counter word (its index in the chain). */
  step: number;
  key: PhiloxKey;
  /** The step size h. */
  h: number;
  /** The noise's standard deviation, noiseScale * sqrt(2h). */
  sigma: number;
  clampMin?: number;
  clampMax?: number;
}

/** Checks a Philox key, naming it. */
export function checkKey(op: string, key: PhiloxKey): PhiloxKey {
  if (typeof key !== 'object' || key === null) throw new Error(`${op}: key must be { lo, hi } (two 32-bit words), got ${key === null ? 'null' : typeof key}`);
  intArg(op, 'key.lo', key.lo, 0, 0xffffffff);
  intArg(op, 'key.hi', key.hi, 0, 0xffffffff);
  return key;
}

/** One Langevin step of x in place from its energy gradient `grad` (x's shape, separate storage): one dispatch. */
export function langevinStep_(x: Tensor, grad: Tensor, a: LangevinStep): Tensor {
  const op = 'langevinStep_';
  arg(op, 'x', x, { written: true });
  arg(op, 'grad', grad, { shape: x.shape });
  const rt = sameDevice(op, { x, grad });
  distinct(op, ['x', x], ['grad', grad]);
  intArg(op, 'step', a.step, 0, 0xffffffff);
  checkKey(op, a.key);
  finiteArg(op, 'h', a.h);
  finiteArg(op, 'sigma', a.sigma);
  if (a.clampMin !== undefined) finiteArg(op, 'clampMin', a.clampMin);
  if (a.clampMax !== undefined) finiteArg(op, 'clampMax', a.clampMax);
  langevinStepKernel(rt, x.storage.buffer, grad.storage.buffer, {
    n: x.size,
    step: a.step,
    seedLo: a.key.lo,
    seedHi: a.key.hi,
    h: a.h,
    sigma: a.sigma,
    clampMin: a.clampMin,
    clampMax: a.clampMax,
  });
  return x;
}
