// Shared pieces of the zoo: activation options (a module or a name), option checks, and the
// input-shape check every model runs before its first op, so a wrong shape is reported in the
// model's own terms ([batch, 2]) rather than by a layer deep inside it.
import { ACTIVATION_SPELLINGS, activationFromSpelling, Tensor, type ActivationSpelling } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { deriveSeed } from '../init.js';
import { ACTIVATION_MODULES } from '../layers/activation.js';
import { Module } from '../module.js';

/**
 * Activation names a model accepts in place of a module, with PyTorch's defaults for each
 * (LeakyReLU's slope is 0.01): every spelling of the activation table (leakyRelu, leaky_relu,
 * silu, swish, ...).
 */
export type ActivationName = ActivationSpelling;

/** An activation module instance (shared by every layer of the model, as in the seed) or its name. */
export type ActivationSpec = Module | ActivationName;

const describe = (v: unknown): string =>
  v === null ? 'null' : v === undefined ? 'undefined' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : `${typeof v} ${JSON.stringify(v)}`;

/** The activation module for `spec`: the module itself, a new one for a name, `fallback()` when absent. */
export function resolveActivation(cls: string, spec: ActivationSpec | null | undefined, fallback: () => Module): Module {
  if (spec === undefined || spec === null) return fallback();
  if (spec instanceof Module) return spec;
  const activation = activationFromSpelling(spec);
  if (activation) return new ACTIVATION_MODULES[activation]();
  throw new Error(`${cls}: activation must be a Module (new SiLU()) or one of ${ACTIVATION_SPELLINGS.join(', ')}; got ${describe(spec)}`);
}

export function checkOptions(cls: string, opts: unknown, fields: string): asserts opts is object {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new Error(`${cls}: expected an options object { ${fields} }, got ${describe(opts)}`);
}

export function checkPositiveInt(cls: string, name: string, v: unknown): asserts v is number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`${cls}: ${name} must be a positive integer, got ${describe(v)}`);
}

export function checkDims(cls: string, name: string, v: unknown, allowEmpty: boolean): asserts v is readonly number[] {
  if (!Array.isArray(v) || (!allowEmpty && v.length === 0) || !v.every((d) => Number.isInteger(d) && d >= 1))
    throw new Error(`${cls}: ${name} must be ${allowEmpty ? 'an' : 'a non-empty'} array of positive integers, got ${Array.isArray(v) ? JSON.stringify(v) : describe(v)}`);
}

export function checkSeed(cls: string, seed: unknown): asserts seed is number | undefined {
  if (seed !== undefined && (!Number.isSafeInteger(seed) || (seed as number) < 0)) throw new Error(`${cls}: seed must be a non-negative safe integer, got ${describe(seed)}`);
}

/** Layer i's seed, derived from the model's (undefined without one: the global generator). */
export const layerSeed = (seed: number | undefined, i: number): number | undefined => deriveSeed(seed, 1000 + i);

/**
 * Throws unless x is a tensor of one of the shapes given ('batch' matches any size >= 1),
 * naming the expected shapes and the one received.
 */
export function checkInputShape(cls: string, x: unknown, ...expected: readonly (readonly (number | 'batch')[])[]): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${cls}: expected a Tensor input, got ${describe(x)}`);
  x.assertAlive(cls);
  const ok = expected.some((e) => e.length === x.rank && e.every((d, i) => (d === 'batch' ? x.shape[i]! >= 1 : x.shape[i] === d)));
  if (!ok) throw new Error(`${cls}: expected input of shape ${expected.map(fmt).join(' or ')}, got ${fmt(x.shape)}`);
}
