// Shape ops. reshape and its relatives are views (no copy); permute, expand, slice and concat
// move data with the strided gather kernel; indexSelect gathers rows.
import { gatherKernel, padSliceKernel } from '../../kernels/copy.js';
import { addRowsKernel, selectRowsKernel } from '../../kernels/index-rows.js';
import type { Runtime } from '../../kernels/runtime.js';
import { checkRank, describeValue, fmt, shown, normAxis, sizeOf, stridesOf, type Shape } from '../shape.js';
import { defineOp, runOp } from '../tape.js';
import { Tensor } from '../tensor.js';

function checkTensor(op: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${op}: expected a Tensor, got ${describeValue(x)}`);
}

// ---- reshape (a view) ----

// A view, so any dtype.
const reshapeDef = defineOp<{ from: number[] }>({ name: 'reshape', dtypes: ['f32', 'f16'], backward: ({ attrs }, g) => [g.reshape(attrs.from)] });

/** Resolves one -1 and checks the element count. */
function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  if (!Array.isArray(shape))
    throw new Error(`${op}: shape must be an array of integers (-1 for one inferred dim)${typeof shape === 'number' ? ` (write [${String(shape)}] for one dim)` : ''}, got ${describeValue(shape)}`);
  const free = shape.filter((d) => d === -1).length;
  if (free > 1) throw new Error(`${op}: only one dim may be -1, got ${fmt(shape)}`);
  shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < -1) throw new Error(`${op}: invalid dim ${typeof d === 'number' ? d : describeValue(d)} in ${fmt(shape)} (position ${i}; dims are non-negative integers, or -1 once)`);
  });
  const known = shape.reduce((n, d) => (d === -1 ? n : n * d), 1);
  const out = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (sizeOf(out) !== x.size || out.some((d) => !Number.isInteger(d)))
    throw new Error(`${op}: cannot reshape ${fmt(x.shape)} (${x.size} elements) into ${fmt(shape)}${free ? '' : ` (${sizeOf(shape)} elements)`}`);
  checkRank(op, out);
  return out;
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', x);
  x.assertAlive('reshape');
  const to = resolveShape('reshape', x, shape);
  return runOp(reshapeDef, [x], { from: [...x.shape] }, () => x.share(to));
}

export function squeeze(x: Tensor, dim?: number | null): Tensor {
  checkTensor('squeeze', x);
  if (dim === undefined || dim === null) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normAxis('squeeze', dim, x.rank, x.shape);
  if (x.rank === 0 || x.shape[d] !== 1) return reshape(x, x.shape);
  return reshape(x, x.shape.filter((_, i) => i !== d));
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  checkTensor('unsqueeze', x);
  const d = normAxis('unsqueeze', dim, x.rank + 1, x.shape);
  const s = [...x.shape];
  s.splice(d, 0, 1);
  return reshape(x, s);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  checkTensor('flatten', x);
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis('flatten', startDim, x.rank, x.shape);
  const e = normAxis('flatten', endDim, x.rank, x.shape);
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim} for shape ${fmt(x.shape)}`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

// ---- data movement through the strided gather ----

function gatherView(rt: Runtime, x: Tensor, shape: Shape, srcStrides: readonly number[], srcOffset: number, label: string): Tensor {
  const out = Tensor.empty(rt, shape, label);
  gatherKernel(rt, x.buffer, out.buffer, { shape, srcStrides, srcOffset });
  return out;
}

const permuteDef = defineOp<{ dims: number[] }>({
  name: 'permute',
  backward: ({ attrs }, g) => {
    const inverse = new Array<number>(attrs.dims.length);
    attrs.dims.forEach((d, i) => (inverse[d] = i));
    return [g.permute(inverse)];
  },
});

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkTensor('permute', x);
  x.assertAlive('permute');
  if (!Array.isArray(dims) || dims.length !== x.rank)
    throw new Error(`permute: dims ${Array.isArray(dims) ? fmt(dims) : `(${describeValue(dims)})`} must list each of the ${x.rank} dims of shape ${fmt(x.shape)} once, as an array`);
  const norm = dims.map((d) => normAxis('permute', d, x.rank, x.shape));
  if (new Set(norm).size !== norm.length) throw new Error(`permute: dims ${fmt(dims)} repeat a dim of shape ${fmt(x.shape)}`);
  return runOp(permuteDef, [x], { dims: norm }, (rt) => {
    const strides = stridesOf(x.shape);
    return gatherView(rt, x, norm.map((d) => x.shape[d]!), norm.map((d) => strides[d]!), 0, 'permute');
  });
}

/** Swaps two dims (default: the last two). A tensor of rank < 2 comes back unchanged by default. */
export function transpose(x: Tensor, dim0?: number, dim1?: number): Tensor {
  checkTensor('transpose', x);
  if (dim0 === undefined && dim1 === undefined && x.rank < 2) return reshape(x, x.shape);
  const a = normAxis('transpose', dim0 ?? -2, x.rank, x.shape);
  const b = normAxis('transpose', dim1 ?? -1, x.rank, x.shape);
  const dims = [...x.shape.keys()];
  [dims[a], dims[b]] = [dims[b]!, dims[a]!];
  return permute(x, dims);
}

const expandDef = defineOp({ name: 'expand', backward: (_ctx, g) => [g] });

/** Broadcasts to `shape` (-1 keeps a dim; new dims may be added in front), like torch.expand. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('expand', x);
  x.assertAlive('expand');
  if (!Array.isArray(shape))
    throw new Error(`expand: shape must be an array of non-negative integers (-1 keeps a dim), got ${describeValue(shape)}`);
  const lead = shape.length - x.rank;
  if (lead < 0) throw new Error(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)}, which has fewer dims`);
  const to = shape.map((d, i) => {
    const from = i < lead ? undefined : x.shape[i - lead]!;
    if (d === -1) {
      if (from === undefined) throw new Error(`expand: -1 is not allowed for the new leading dim ${i} in ${fmt(shape)}`);
      return from;
    }
    if (!Number.isInteger(d) || d < 0) throw new Error(`expand: invalid dim ${typeof d === 'number' ? d : describeValue(d)} in ${fmt(shape)} (position ${i}; dims are non-negative integers, or -1 to keep one)`);
    if (from !== undefined && from !== 1 && from !== d)
      throw new Error(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)} (dim ${i} is ${from}, not 1 or ${d})`);
    return d;
  });
  checkRank('expand', to);
  if (to.length === x.rank && to.every((d, i) => d === x.shape[i])) return reshape(x, to);
  return runOp(expandDef, [x], {}, (rt) => {
    const strides = stridesOf(x.shape);
    return gatherView(rt, x, to, to.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : strides[i - lead]!)), 0, 'expand');
  });
}

// ---- slice and its adjoint ----

interface SliceAttrs {
  dim: number;
  start: number;
  step: number;
  fullShape: number[];
}

const sliceDef = defineOp<SliceAttrs>({ name: 'slice', backward: ({ attrs }, g) => [padSlice(g, attrs)] });
const padSliceDef = defineOp<SliceAttrs>({
  name: 'padSlice',
  backward: ({ attrs, inputs }, g) => [slice(g, attrs.dim, attrs.start, attrs.start + attrs.step * inputs[0]!.shape[attrs.dim]!, attrs.step)],
});

/** Python-slice semantics on one dim: start:end:step, negative indices from the end, clamped. */
export function slice(x: Tensor, dim: number, start = 0, end?: number | null, step = 1): Tensor {
  checkTensor('slice', x);
  x.assertAlive('slice');
  if (x.rank === 0) throw new Error('slice: cannot slice a 0-d tensor');
  const d = normAxis('slice', dim, x.rank, x.shape);
  if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer, got ${shown(step)}`);
  for (const [name, v] of [['start', start], ['end', end]] as const)
    if (v !== undefined && v !== null && !Number.isInteger(v)) throw new Error(`slice: ${name} must be an integer${name === 'end' ? ' or null (to the end)' : ''}, got ${shown(v)}`);
  const size = x.shape[d]!;
  const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
  const s = clampIdx(start);
  const e = end === undefined || end === null ? size : clampIdx(end);
  const len = Math.max(0, Math.ceil((e - s) / step));
  const attrs: SliceAttrs = { dim: d, start: s, step, fullShape: [...x.shape] };
  return runOp(sliceDef, [x], attrs, (rt) => {
    const strides = stridesOf(x.shape);
    const shape = x.shape.map((n, i) => (i === d ? len : n));
    return gatherView(rt, x, shape, strides.map((st, i) => (i === d ? st * step : st)), s * strides[d]!, 'slice');
  });
}

/** Places a slice's values at their positions in a zero tensor of the full shape. */
function padSlice(g: Tensor, attrs: SliceAttrs): Tensor {
  return runOp(padSliceDef, [g], attrs, (rt) => {
    const out = Tensor.empty(rt, attrs.fullShape, 'padSlice');
    const start = attrs.fullShape.map((_, i) => (i === attrs.dim ? attrs.start : 0));
    const step = attrs.fullShape.map((_, i) => (i === attrs.dim ? attrs.step : 1));
    padSliceKernel(rt, g.buffer, out.buffer, attrs.fullShape, g.shape, start, step);
    return out;
  });
}

// ---- concat and stack ----

const concatDef = defineOp<{ dim: number; sizes: number[] }>({
  name: 'concat',
  backward: ({ attrs }, g) => {
    let at = 0;
    return attrs.sizes.map((n) => slice(g, attrs.dim, at, (at += n)));
  },
});

export function concat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) throw new Error(`concat: expected a non-empty array of tensors, got ${describeValue(tensors)}`);
  tensors.forEach((t, i) => checkTensor(`concat (tensor ${i})`, t));
  const first = tensors[0]!;
  first.assertAlive('concat');
  if (first.rank === 0) throw new Error('concat: 0-d tensors cannot be concatenated; use stack');
  const d = normAxis('concat', dim, first.rank, first.shape);
  for (const t of tensors)
    if (t.rank !== first.rank || t.shape.some((n, i) => i !== d && n !== first.shape[i]))
      throw new Error(`concat: shapes ${tensors.map((u) => fmt(u.shape)).join(', ')} differ outside dim ${dim}`);
  const sizes = tensors.map((t) => t.shape[d]!);
  return runOp(concatDef, tensors, { dim: d, sizes }, (rt) => {
    const shape = first.shape.map((n, i) => (i === d ? sizes.reduce((a, b) => a + b, 0) : n));
    const out = Tensor.empty(rt, shape, 'concat');
    const outStrides = stridesOf(shape);
    let at = 0;
    for (const t of tensors) {
      if (t.size) gatherKernel(rt, t.buffer, out.buffer, { shape: t.shape, srcStrides: stridesOf(t.shape), srcOffset: 0, dstStrides: outStrides, dstOffset: at * outStrides[d]! });
      at += t.shape[d]!;
    }
    return out;
  });
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) throw new Error(`stack: expected a non-empty array of tensors, got ${describeValue(tensors)}`);
  tensors.forEach((t, i) => checkTensor(`stack (tensor ${i})`, t));
  const first = tensors[0]!;
  for (const t of tensors)
    if (t.rank !== first.rank || t.shape.some((n, i) => n !== first.shape[i]))
      throw new Error(`stack: all tensors must have one shape, got ${tensors.map((u) => fmt(u.shape)).join(', ')}`);
  const d = normAxis('stack', dim, first.rank + 1, first.shape);
  return concat(tensors.map((t) => unsqueeze(t, d)), d);
}

// ---- rows by index ----

export type Indices = readonly number[] | Int32Array | Uint32Array;

interface IndexAttrs {
  indices: Uint32Array;
  rows: number;
}

const indexSelectDef = defineOp<IndexAttrs>({ name: 'indexSelect', backward: ({ attrs }, g) => [indexAdd(g, attrs)] });
const indexAddDef = defineOp<IndexAttrs>({ name: 'indexAdd', backward: ({ attrs }, g) => [indexSelect(g, attrs.indices)] });

/** Uploads the indices for one dispatch; the buffer returns to the pool once the GPU is done. */
export function withIndexBuffer(rt: Runtime, indices: Uint32Array, fn: (buf: ReturnType<Runtime['allocate']>) => void): void {
  const buf = rt.allocate(Math.max(indices.byteLength, 4), 'indices');
  rt.write(buf, indices);
  try {
    fn(buf);
  } finally {
    rt.free(buf);
  }
}

/** Rows of x along the first axis: out[i] = x[indices[i]] (torch.index_select(x, 0, idx)). */
export function indexSelect(x: Tensor, indices: Indices): Tensor {
  checkTensor('indexSelect', x);
  x.assertAlive('indexSelect');
  if (x.rank === 0) throw new Error('indexSelect: cannot index a 0-d tensor');
  const rows = x.shape[0]!;
  // Uint32Array.from(5) or from('01') would quietly give no rows or the wrong ones.
  if (!Array.isArray(indices) && !(indices instanceof Int32Array) && !(indices instanceof Uint32Array))
    throw new Error(`indexSelect: indices must be an array, Int32Array or Uint32Array of integers, got ${describeValue(indices)}`);
  const idx = Uint32Array.from(indices as ArrayLike<number>, (v, i) => {
    if (typeof v !== 'number') throw new Error(`indexSelect: indices must hold integers, got ${describeValue(v)} at position ${i}`);
    if (!Number.isInteger(v) || v < -rows || v >= rows)
      throw new Error(`indexSelect: index ${v} (position ${i}) is out of range for dim 0 of shape ${fmt(x.shape)} (valid: ${-rows} to ${rows - 1})`);
    return v < 0 ? v + rows : v;
  });
  return runOp(indexSelectDef, [x], { indices: idx, rows }, (rt) => {
    const rowSize = sizeOf(x.shape.slice(1));
    const out = Tensor.empty(rt, [idx.length, ...x.shape.slice(1)], 'indexSelect');
    if (out.size) withIndexBuffer(rt, idx, (buf) => selectRowsKernel(rt, x.buffer, buf, out.buffer, idx.length, rowSize, rows));
    return out;
  });
}

/** The adjoint of indexSelect: a tensor of `rows` rows where row r sums g's rows i with indices[i] = r. */
function indexAdd(g: Tensor, attrs: IndexAttrs): Tensor {
  return runOp(indexAddDef, [g], attrs, (rt) => {
    const rowSize = sizeOf(g.shape.slice(1));
    const out = Tensor.empty(rt, [attrs.rows, ...g.shape.slice(1)], 'indexAdd');
    if (out.size) withIndexBuffer(rt, attrs.indices, (buf) => addRowsKernel(rt, g.buffer, buf, out.buffer, attrs.indices.length, rowSize, attrs.rows));
    return out;
  });
}
