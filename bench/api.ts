// The ops the suites need that other work is still landing (linear, conv2d, spectral norm, f16
// tensors). They are looked up at run time under the names the API will have, so the bench
// compiles and runs before they exist and picks them up, untouched, once they do. This file is
// the one place where the expected signatures are written down.
import * as ebm from '../src/index.js';

type Tensor = ebm.Tensor;

export type LinearFn = (x: Tensor, weight: Tensor, bias?: Tensor | null, opts?: { activation?: 'silu' }) => Tensor;
export type Conv2dFn = (x: Tensor, weight: Tensor, bias?: Tensor | null, opts?: { stride?: number; padding?: number }) => Tensor;
/** Returns the normalised weight (or an object holding it); u and v are its persistent vectors. */
export type SpectralNormFn = (weight: Tensor, u: Tensor, v: Tensor, opts?: { nPowerIterations?: number }) => unknown;

interface LateApi {
  linear?: LinearFn;
  conv2d?: Conv2dFn;
  spectralNorm?: SpectralNormFn;
}

interface LateTensorMethods {
  to?: (dtype: 'f16' | 'f32') => Tensor;
  half?: () => Tensor;
}

// Through `unknown`, so this still compiles once the real, typed exports exist.
const late = ebm as unknown as LateApi;
const lateMethods = ebm.Tensor.prototype as unknown as LateTensorMethods;

/** A function that is present, or the reason a suite has to be skipped. */
export type Lookup<F> = { fn: F; missing: null } | { fn: null; missing: string };

function lookup<F>(fn: F | undefined, name: string): Lookup<F> {
  return typeof fn === 'function' ? { fn, missing: null } : { fn: null, missing: `${name} not available yet` };
}

export const linear = (): Lookup<LinearFn> => lookup(late.linear, 'ebm.linear');
export const conv2d = (): Lookup<Conv2dFn> => lookup(late.conv2d, 'ebm.conv2d');
export const spectralNorm = (): Lookup<SpectralNormFn> => lookup(late.spectralNorm, 'ebm.spectralNorm');

/** x.to('f16'), or x.half() where only that exists. */
export function toF16(): Lookup<(x: Tensor) => Tensor> {
  if (typeof lateMethods.to === 'function') return { fn: (x) => (x as unknown as Required<LateTensorMethods>).to('f16'), missing: null };
  if (typeof lateMethods.half === 'function') return { fn: (x) => (x as unknown as Required<LateTensorMethods>).half(), missing: null };
  return { fn: null, missing: "Tensor.to('f16') not available yet" };
}
