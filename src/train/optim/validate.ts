// Option checks shared by the optimizers. Every message names the optimizer, the option and
// the value it got.
import { Tensor } from '../../tensor/index.js';

function show(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  return v === null ? 'null' : v === undefined ? 'undefined' : typeof v;
}

export function fail(owner: string, option: string, value: unknown, rule: string): never {
  throw new Error(`${owner}: option '${option}' ${rule}, got ${show(value)}`);
}

/** A finite number >= 0 (lr, eps, weightDecay, momentum, dampening). */
export function nonNegative(owner: string, option: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(owner, option, v, 'must be a finite number >= 0');
  return v;
}

export function bool(owner: string, option: string, v: unknown): boolean {
  if (typeof v !== 'boolean') fail(owner, option, v, 'must be a boolean');
  return v;
}

/** Adam's betas: two numbers, each in [0, 1). */
export function betas(owner: string, v: unknown): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) fail(owner, 'betas', v, 'must be a pair [beta1, beta2]');
  v.forEach((b, i) => {
    if (typeof b !== 'number' || !(b >= 0 && b < 1)) fail(owner, `betas[${i}]`, b, 'must be in [0, 1)');
  });
  return [v[0], v[1]];
}

/** Rejects options the optimizer does not know (a typo would otherwise be silently ignored). */
export function knownKeys(owner: string, options: object, known: readonly string[]): void {
  for (const k of Object.keys(options))
    if (k !== 'params' && !known.includes(k)) throw new Error(`${owner}: unknown option '${k}' (known: ${known.join(', ')})`);
}

/** A parameter an optimizer can update in place: a live f32 tensor that requires grad. */
export function trainable(owner: string, p: unknown, where: string): Tensor {
  if (!(p instanceof Tensor)) throw new Error(`${owner}: ${where} must be a Tensor, got ${show(p)}`);
  if (p.isDisposed) throw new Error(`${owner}: ${where} (${p.describe()}) has been disposed`);
  if (!p.requiresGrad) throw new Error(`${owner}: ${where} (${p.describe()}) does not require grad; only tensors with requiresGrad can be optimized`);
  if (p.dtype !== 'f32') throw new Error(`${owner}: ${where} (${p.describe()}) has dtype ${p.dtype}; optimizers update f32 parameters (keep f32 master weights and cast copies to f16)`);
  if (p.node) throw new Error(`${owner}: ${where} (${p.describe()}) is the result of an op, not a leaf; optimize leaf tensors`);
  return p;
}
