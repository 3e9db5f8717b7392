// autocast: precision as a policy, like PyTorch's torch.autocast. Inside
// autocast({ dtype: 'f16' }, fn) the ops that have an f16 kernel use it: linear and matmul cast
// their operands to f16 and multiply with f32 accumulation into an f32 result (linear then adds
// its bias and applies its activation in f32, since the fused epilogue is f32-only). conv2d has
// no f16 kernel, so it stays f32 under the policy. Every other op, and every backward rule, runs
// as it does outside the scope; parameters stay f32 master weights, and since the casts are on
// the tape their gradients come back to them in f32.
//
// The weight cache: a parameter (a leaf tensor that requires grad, made before the scope began)
// is cast once per scope and the cast reused, so a model called 60 times in one scope (a
// Langevin chain) casts each weight once. Those casts belong to the tidy scope around the
// autocast() call, as if they had been made there: a backward() after the autocast scope (the
// usual pattern) still finds them, and they are freed with that tidy scope (outside any tidy
// scope they are ordinary untracked tensors). Tensors made inside the scope (inputs, views,
// W / sigma of a spectral norm) are cast where they are used. Do not update parameters in place
// inside a scope (optimizer.step()): their cached casts would be stale, as with torch.autocast.
import { cast } from './ops/cast.js';
import { adoptInto, currentScope, type TidyScope } from './scope.js';
import { isGradEnabled, withGradMode } from './tape.js';
import { nextTensorId, Tensor, type DType } from './tensor.js';

/** The ops that consult the policy, and the dtype each computes in under an f16 scope (null: stays f32). */
export const AUTOCAST_OPS = {
  linear: 'f16',
  matmul: 'f16',
  /** No f16 conv kernel exists yet: conv2d stays f32 inside an f16 scope. */
  conv2d: null,
} as const satisfies Record<string, DType | null>;

export type AutocastOp = keyof typeof AUTOCAST_OPS;

export interface AutocastOptions {
  /** The precision of the ops that have a lower-precision kernel: 'f16' (default), or 'f32' (off). */
  dtype?: DType;
  /** false turns the policy off for fn (inside an f16 scope too), like torch.autocast(enabled=False). */
  enabled?: boolean;
  /** Cast each parameter once per scope and reuse it (default true). */
  cache?: boolean;
}

interface CastCache {
  casts: Map<Tensor, Tensor>;
  /** The tidy scope around the autocast() call that made the cache: its casts belong there. */
  owner: TidyScope | null;
  /** Grad mode at that call: casts are recorded as if made there. */
  gradMode: boolean;
  /** Tensors with a smaller id existed before that call. */
  before: number;
}

interface Frame {
  dtype: DType | null;
  cache: CastCache | null;
}

const frames: Frame[] = [];
const KEYS = ['dtype', 'enabled', 'cache'];

/**
 * Runs fn under a precision policy: with { dtype: 'f16' }, linear and matmul compute in f16 with
 * f32 accumulation (see the top of this file); { enabled: false } or { dtype: 'f32' } turns it
 * off. Scopes nest; the previous policy is restored when fn returns or throws. fn must be
 * synchronous (like tidy). Returns what fn returns.
 */
export function autocast<T>(opts: AutocastOptions, fn: () => T): T {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(`autocast: expected options { dtype, enabled, cache }, got ${opts === null ? 'null' : typeof opts}`);
  for (const k of Object.keys(opts)) if (!KEYS.includes(k)) throw new Error(`autocast: unknown option '${k}' (known: ${KEYS.join(', ')})`);
  const dtype = opts.dtype ?? 'f16';
  if (dtype !== 'f16' && dtype !== 'f32') throw new Error(`autocast: dtype must be 'f16' or 'f32', got ${JSON.stringify(dtype)}`);
  for (const k of ['enabled', 'cache'] as const)
    if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw new Error(`autocast: ${k} must be a boolean, got ${typeof opts[k]}`);
  if (typeof fn !== 'function') throw new Error(`autocast: expected a function to run, got ${fn === null ? 'null' : typeof fn}`);
  const on = (opts.enabled ?? true) && dtype === 'f16';
  const outer = frames[frames.length - 1];
  let cache: CastCache | null = null;
  if (on && (opts.cache ?? true))
    // A nested f16 scope shares the outer one's casts, so a weight is still cast once.
    cache = outer?.dtype === dtype && outer.cache ? outer.cache : { casts: new Map(), owner: currentScope(), gradMode: isGradEnabled(), before: nextTensorId() };
  const ownsCache = cache !== null && cache !== outer?.cache;
  frames.push({ dtype: on ? dtype : null, cache });
  let result: T;
  try {
    result = fn();
  } finally {
    frames.pop();
    // The casts stay with their owner scope; the scope only forgets them.
    if (ownsCache) cache!.casts.clear();
  }
  if (result instanceof Promise) {
    result.catch(() => {});
    throw new Error('autocast: the function returned a Promise; autocast scopes are synchronous (await outside the scope, or call autocast inside each synchronous step)');
  }
  return result;
}

/** The policy in force: whether it is on, and the dtype that linear and matmul compute in. */
export function autocastState(): { enabled: boolean; dtype: DType } {
  const top = frames[frames.length - 1];
  return top?.dtype ? { enabled: true, dtype: top.dtype } : { enabled: false, dtype: 'f32' };
}

/** The dtype `op` computes in under the policy in force, or null to compute as usual. */
export function autocastDtype(op: AutocastOp): DType | null {
  const top = frames[frames.length - 1];
  if (!top?.dtype) return null;
  return AUTOCAST_OPS[op];
}

/**
 * t as `dtype` for an op under the policy: a parameter's cast is made once per scope and
 * reused; anything else is cast here (and belongs to the caller's tidy scope).
 */
export function autocastOperand(t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return t;
  const c = frames[frames.length - 1]?.cache;
  if (!c || !(t.id < c.before && t.requiresGrad && t.node === null)) return cast(t, dtype);
  const hit = c.casts.get(t);
  // A cast made without the tape cannot carry a gradient: remake it when one is wanted now.
  if (hit && !hit.isDisposed && hit.dtype === dtype && (hit.node !== null || !isGradEnabled())) return hit;
  const made = withGradMode(c.gradMode || isGradEnabled(), () => cast(t, dtype));
  adoptInto(c.owner, made);
  c.casts.set(t, made);
  return made;
}
