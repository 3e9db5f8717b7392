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

export function checkShape(op: string, arg: string, shape: readonly number[]): void {
  for (const d of shape)
    if (!Number.isInteger(d) || d < 0) throw new Error(`${op}: ${arg} must hold non-negative integers, got ${fmt(shape)}`);
  checkRank(op, shape);
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
  if (!Number.isInteger(axis) || axis < lo || axis > hi)
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}${shape ? ` ${fmt(shape)}` : ''} (valid: ${lo} to ${hi})`);
  return axis < 0 ? axis + Math.max(rank, 1) : axis;
}

/** Normalises an axis spec (undefined/null: all axes) into a sorted list of distinct axes. */
export function normAxes(op: string, axes: number | readonly number[] | null | undefined, shape: Shape): number[] {
  const rank = shape.length;
  if (axes === undefined || axes === null) return [...Array(rank).keys()];
  const list = (typeof axes === 'number' ? [axes] : axes).map((a) => normAxis(op, a, rank, shape));
  // A 0-d tensor accepts axis 0 / -1 like PyTorch, meaning "no axis".
  const valid = rank === 0 ? [] : list;
  if (new Set(valid).size !== valid.length) throw new Error(`${op}: axis ${JSON.stringify(axes)} repeats an axis of shape ${fmt(shape)}`);
  return [...valid].sort((a, b) => a - b);
}
