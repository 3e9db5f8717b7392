// Reductions over any axes with keepdim: sum, mean, max, min, logsumexp (kernels), var
// (composed), and sumToShape, which folds a broadcast gradient back onto its input's shape.
import { reduceKernel, type ReduceOp } from '../../kernels/reduce.js';
import { describeValue, normAxes, sameShape, sizeOf, type Shape } from '../shape.js';
import { composite, defineOp, runOp, type OpDef } from '../tape.js';
import { Tensor } from '../tensor.js';

export type Axes = number | readonly number[] | null | undefined;

interface ReduceAttrs {
  axes: number[];
  keepdim: boolean;
  /** No axis was given (x.max()): torch.max()'s gradient rule rather than torch.amax's. */
  all: boolean;
}

/** The input's shape with the reduced axes set to 1 (the keepdim shape). */
function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** The output's gradient reshaped to keepdim form and broadcast back over the input. */
function spread(g: Tensor, x: Tensor, axes: readonly number[]): Tensor {
  return g.reshape(keptShape(x.shape, axes)).expand(x.shape);
}

function reducedCount(shape: Shape, axes: readonly number[]): number {
  return axes.reduce((n, a) => n * shape[a]!, 1);
}

type GradRule = (x: Tensor, y: Tensor, g: Tensor, axes: number[], all: boolean) => Tensor;

const RULES = {
  sum: (x, _y, g, axes) => spread(g, x, axes),
  mean: (x, _y, g, axes) => spread(g.div(reducedCount(x.shape, axes)), x, axes),
  // Like torch.amax/amin: the gradient is split evenly among tied extremes.
  max: (x, y, g, axes, all) => extremeGrad(x, y, g, axes, all),
  min: (x, y, g, axes, all) => extremeGrad(x, y, g, axes, all),
  logsumexp: (x, y, g, axes) => spread(g, x, axes).mul(x.sub(y.reshape(keptShape(x.shape, axes))).exp()),
} satisfies Record<string, GradRule>;

/** A reduction's name: a key of RULES, so a misspelt op does not compile. */
export type ReduceOpName = keyof typeof RULES;

/**
 * The gradient split evenly among the positions equal to the extreme. At a NaN result the two
 * torch rules differ and both are kept: torch.max() (no axis) splits it among the NaN inputs;
 * torch.amax(dim) finds no position equal to NaN and gives NaN over the slice (g / 0 * 0).
 */
function extremeGrad(x: Tensor, y: Tensor, g: Tensor, axes: number[], all: boolean): Tensor {
  const kept = keptShape(x.shape, axes);
  const yk = y.reshape(kept);
  let mask = x.eq(yk);
  // ne is the only comparison true at NaN, so t.ne(t) is isnan(t).
  if (all) mask = mask.add(x.ne(x).mul(yk.ne(yk)));
  const count = mask.sum(axes, true);
  return spread(g, x, axes).mul(mask).div(count);
}

/** The kernel each reduction runs (mean is a scaled sum). */
const KERNEL_OP: Record<ReduceOpName, ReduceOp> = { sum: 'sum', mean: 'sum', max: 'max', min: 'min', logsumexp: 'logsumexp' };

const DEFS = new Map<ReduceOpName, OpDef<ReduceAttrs>>();
for (const [name, rule] of Object.entries(RULES) as [ReduceOpName, GradRule][])
  DEFS.set(name, defineOp<ReduceAttrs>({ name, backward: ({ inputs, output, attrs }, g) => [rule(inputs[0]!, output, g, attrs.axes, attrs.all)] }));

function reduce(name: ReduceOpName, x: Tensor, axis: Axes, keepdim: boolean): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${name}: expected a Tensor, got ${describeValue(x)}`);
  x.assertAlive(name);
  const axes = normAxes(name, axis, x.shape);
  if (typeof keepdim !== 'boolean') throw new Error(`${name}: keepdim must be a boolean, got ${describeValue(keepdim)}`);
  if (x.size === 0 && name !== 'sum' && name !== 'mean' && reducedCount(x.shape, axes) === 0)
    throw new Error(`${name}: cannot reduce over an empty dimension of shape [${x.shape.join(', ')}]`);
  return runOp(DEFS.get(name)!, [x], { axes, keepdim, all: axis === undefined || axis === null }, (rt) => {
    const shape = keepdim ? keptShape(x.shape, axes) : x.shape.filter((_, i) => !axes.includes(i));
    const out = Tensor.empty(rt, shape, name);
    const n = reducedCount(x.shape, axes);
    reduceKernel(rt, KERNEL_OP[name], x.buffer, out.buffer, x.shape, axes, name === 'mean' ? 1 / n : 1);
    return out;
  });
}

export const sum = (x: Tensor, axis?: Axes, keepdim = false): Tensor => reduce('sum', x, axis, keepdim);
export const mean = (x: Tensor, axis?: Axes, keepdim = false): Tensor => reduce('mean', x, axis, keepdim);
export const max = (x: Tensor, axis?: Axes, keepdim = false): Tensor => reduce('max', x, axis, keepdim);
export const min = (x: Tensor, axis?: Axes, keepdim = false): Tensor => reduce('min', x, axis, keepdim);
export const logsumexp = (x: Tensor, axis?: Axes, keepdim = false): Tensor => reduce('logsumexp', x, axis, keepdim);

/** Variance over the axes with Bessel's correction by default (torch.var's `correction`). */
export function variance(x: Tensor, axis?: Axes, keepdim = false, correction = 1): Tensor {
  x.assertAlive('var');
  const axes = normAxes('var', axis, x.shape);
  if (typeof keepdim !== 'boolean') throw new Error(`var: keepdim must be a boolean, got ${describeValue(keepdim)}`);
  if (typeof correction !== 'number' || !Number.isFinite(correction)) throw new Error(`var: correction must be a finite number, got ${describeValue(correction)}`);
  const n = reducedCount(x.shape, axes);
  return composite([x], () => x.sub(x.mean(axes, true)).square().sum(axes, keepdim).div(Math.max(0, n - correction)));
}

/** Sums a gradient of a broadcast shape back to `shape` (leading dims, and dims that were 1). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) throw new Error(`sumToShape: gradient of shape [${g.shape.join(', ')}] has fewer dims than [${shape.join(', ')}]`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const r = axes.length ? g.sum(axes, true) : g;
  if (sizeOf(r.shape) !== sizeOf(shape)) throw new Error(`sumToShape: cannot fold [${g.shape.join(', ')}] onto [${shape.join(', ')}]`);
  return r.reshape(shape);
}
