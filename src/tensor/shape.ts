// Shape arithmetic: sizes, contiguous strides, NumPy broadcasting and axis normalisation.
// Every check names the op and shows the shapes, since these are the errors users see most.

import { contiguousStrides as stridesOf } from '../kernels/layout.js';

export type Shape = readonly number[];

/** The kernels address tensors of up to this many dims (two vec4<u32> in a uniform). */
export const MAX_RANK = 8;

export { product as sizeOf, contiguousStrides as stridesOf } from '../kernels/layout.js';

/** A shape as errors show it, `[2, 3]`; symbolic dims too (`[batch, 2]`). */
export function fmt(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function checkRank(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) throw new Error(`${op}: tensors of rank ${shape.length} ${fmt(shape)} are not supported (at most ${MAX_RANK} dims)`);
}

/**
 * A value as argument errors show it: its type and, when short, the value (`the string "abc"`,
 * `the number 5`, `a Set`, `an object with keys {a}`), so plain JavaScript callers see what
 * they passed rather than a TypeError from deep inside.
 */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 24 ? `${v.slice(0, 24)}...` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `the ${typeof v} ${String(v)}`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  if (Array.isArray(v)) {
    const short = v.length <= 8 && v.every((x) => x === null || typeof x !== 'object');
    return short ? `the array [${v.map((x) => (typeof x === 'string' ? JSON.stringify(x) : String(x))).join(', ')}]` : `an array of length ${v.length}`;
  }
  const name = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name;
  if (!name || name === 'Object') return `an object with keys {${Object.keys(v).slice(0, 6).join(', ')}}`;
  return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
}

/** A number as itself (`2.5`), anything else described (`the string "2"`). */
export function shown(v: unknown): string {
  return typeof v === 'number' ? String(v) : describeValue(v);
}

export function checkShape(op: string, arg: string, shape: readonly number[]): void {
  if (!Array.isArray(shape))
    throw new Error(`${op}: ${arg} must be an array of non-negative integers${typeof shape === 'number' ? ` (write [${String(shape)}] for one dim)` : ''}, got ${describeValue(shape)}`);
  shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${op}: ${arg} must hold non-negative integers, got ${fmt(shape)} (${describeValue(d)} at position ${i})`);
  });
  checkRank(op, shape);
}

/**
 * Checks an options object: an object (or undefined) whose keys are all known, so a misspelt
 * option (`{ requiresgrad: true }`) is an error rather than silently ignored.
 */
export function checkOptions(op: string, opts: unknown, valid: readonly string[], arg = 'options'): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(`${op}: ${arg} must be an object with keys among {${valid.join(', ')}}, got ${describeValue(opts)}`);
  for (const k of Object.keys(opts)) if (!valid.includes(k)) throw new Error(`${op}: unknown option '${k}' in ${arg} (valid: ${valid.join(', ')})`);
}

/** Checks that a numeric argument is a number (NaN allowed where the op allows it). */
export function checkNumberArg(op: string, arg: string, v: unknown, what = 'a number'): asserts v is number {
  if (typeof v !== 'number') throw new Error(`${op}: ${arg} must be ${what}, got ${describeValue(v)}`);
}

/** The NumPy broadcast of several shapes, or an error naming the op and every shape. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (let i = 0; i < rank; i++) {
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (out[i] !== 1 && out[i] !== d)
        throw new Error(`${op}: shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast together (dim ${i - rank} is ${out[i]} vs ${d})`);
      out[i] = d;
    }
  }
  return out;
}

/** Strides that read `shape` (contiguous) as if it had `outShape`: 0 along broadcast dims. */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const strides = stridesOf(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((_, i) => (i < lead || shape[i - lead] === 1 ? 0 : strides[i - lead]!));
}

/** Normalises one axis (negative counts from the end) or throws naming op, axis and shape. */
export function normAxis(op: string, axis: number, rank: number, shape?: Shape): number {
  const lo = -Math.max(rank, 1);
  const hi = Math.max(rank, 1) - 1;
  if (typeof axis !== 'number') throw new Error(`${op}: axis must be an integer from ${lo} to ${hi}, got ${describeValue(axis)}`);
  if (!Number.isInteger(axis) || axis < lo || axis > hi)
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}${shape ? ` ${fmt(shape)}` : ''} (valid: ${lo} to ${hi})`);
  return axis < 0 ? axis + Math.max(rank, 1) : axis;
}

/** Normalises an axis spec (undefined/null: all axes) into a sorted list of distinct axes. */
export function normAxes(op: string, axes: number | readonly number[] | null | undefined, shape: Shape): number[] {
  const rank = shape.length;
  if (axes === undefined || axes === null) return [...Array(rank).keys()];
  if (typeof axes !== 'number' && !Array.isArray(axes))
    throw new Error(`${op}: axis must be an integer, an array of integers, or null/undefined for every axis, got ${describeValue(axes)}`);
  const list = (typeof axes === 'number' ? [axes] : axes).map((a) => normAxis(op, a, rank, shape));
  // A 0-d tensor accepts axis 0 / -1 like PyTorch, meaning "no axis".
  const valid = rank === 0 ? [] : list;
  if (new Set(valid).size !== valid.length) throw new Error(`${op}: axis ${JSON.stringify(axes)} repeats an axis of shape ${fmt(shape)}`);
  return [...valid].sort((a, b) => a - b);
}
