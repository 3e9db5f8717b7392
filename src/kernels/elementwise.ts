// Wrappers for the elementwise kernels: unary.wgsl, binary.wgsl and where.wgsl.
import { ACTIVATION_TABLE, type Activation } from './activation-table.js';
import type { KernelSpec } from './pipeline-cache.js';
import type { BufferWindow, PooledBuffer, Runtime } from './runtime.js';
import { contiguousStrides, product } from './layout.js';
import { elementChunks, needsWindows, stridedSpan, u32, windowAt, windowBytes } from './binding-window.js';

const UNARY: KernelSpec = {
  shader: 'unary.wgsl',
  preamble: 'activations.wgsl',
  entry: 'main',
  bindings: [
    { name: 'x', kind: 'read-only-storage' },
    { name: 'y', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

const BINARY: KernelSpec = {
  shader: 'binary.wgsl',
  entry: 'main',
  bindings: [
    { name: 'a', kind: 'read-only-storage' },
    { name: 'b', kind: 'read-only-storage' },
    { name: 'out', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

const WHERE: KernelSpec = {
  shader: 'where.wgsl',
  entry: 'main',
  bindings: [
    { name: 'cond', kind: 'read-only-storage' },
    { name: 'a', kind: 'read-only-storage' },
    { name: 'b', kind: 'read-only-storage' },
    { name: 'out', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

export function unaryKernel(rt: Runtime, op: string, x: PooledBuffer, y: PooledBuffer, n: number, p0 = 0, p1 = 0): void {
  const overrides = { OP: rt.pipelines.constValue(UNARY.shader, `OP_${op}`, UNARY.preamble) };
  if (!needsWindows(rt, n * 4, x, y)) {
    rt.dispatch(UNARY, [x, y, { n, p0, p1 }], { overrides, workgroups: rt.grid(Math.ceil(n / 256)) });
    return;
  }
  // Over one binding: the same aligned chunk of x and y per dispatch.
  for (const [s, e] of elementChunks(rt, n, [4])) {
    const xs = windowAt(rt, x, s * 4, e * 4).arg;
    const ys = windowAt(rt, y, s * 4, e * 4).arg;
    rt.dispatch(UNARY, [xs, ys, { n: e - s, p0, p1 }], { overrides, workgroups: rt.grid(Math.ceil((e - s) / 256)) });
  }
}

/** One operand of a binary op: a buffer read with broadcast strides, or a scalar. */
export type BinaryOperand = { buffer: PooledBuffer; strides: readonly number[] } | { scalar: number };

export function binaryKernel(rt: Runtime, op: string, a: BinaryOperand, b: BinaryOperand, out: PooledBuffer, shape: readonly number[], broadcast: boolean): void {
  const n = product(shape);
  const scalarMode = 'scalar' in a ? 1 : 'scalar' in b ? 2 : 0;
  if ('scalar' in a && 'scalar' in b) throw new Error(`${op}: at least one operand must be a tensor`);
  const scalar = 'scalar' in a ? a.scalar : 'scalar' in b ? b.scalar : 0;
  const params = {
    n,
    rank: shape.length,
    scalar,
    base: 0,
    a_base: 0,
    b_base: 0,
    shape,
    a_strides: 'strides' in a ? a.strides : [],
    b_strides: 'strides' in b ? b.strides : [],
  };
  const overrides = { OP: rt.pipelines.constValue(BINARY.shader, `OP_${op}`), BROADCAST: broadcast, SCALAR: scalarMode };
  const bufferOf = (v: BinaryOperand) => ('buffer' in v ? v.buffer : rt.placeholder);
  if (!needsWindows(rt, n * 4, out, bufferOf(a), bufferOf(b))) {
    rt.dispatch(BINARY, [bufferOf(a), bufferOf(b), out, params], { overrides, workgroups: rt.grid(Math.ceil(n / 256)) });
    return;
  }
  // Over one binding: split the output into aligned chunks. An operand laid out as the output
  // is bound over the same chunk; a broadcast one over the span the chunk reads, which must fit.
  const full = contiguousStrides(shape);
  const matches = (v: BinaryOperand) => 'strides' in v && v.strides.every((st, d) => st === full[d] || shape[d] === 1);
  const limit = windowBytes(rt);
  for (const [s, e] of elementChunks(rt, n, [4])) {
    const operand = (v: BinaryOperand): { arg: PooledBuffer | BufferWindow; base: number } => {
      if (!('buffer' in v)) return { arg: rt.placeholder, base: 0 };
      if (matches(v)) return { arg: windowAt(rt, v.buffer, s * 4, e * 4).arg, base: s };
      const [lo, hi] = stridedSpan(shape, v.strides, s, e);
      const w = windowAt(rt, v.buffer, lo * 4, (hi + 1) * 4);
      if (w.arg.size > limit)
        throw new Error(
          `${rt.currentOp ?? op}: a broadcast operand (strides [${v.strides.join(', ')}] into the output [${shape.join(', ')}]) spans ${w.arg.size} bytes for one chunk of the output, ` +
            `over this device's maxStorageBufferBindingSize of ${rt.maxBindingSize} bytes; only operands laid out as the output (or broadcast ones that fit one binding) are split. Expand it first, or use smaller tensors.`,
        );
      return { arg: w.arg, base: w.arg.offset / 4 };
    };
    const wa = operand(a);
    const wb = operand(b);
    const chunk = { ...params, n: e - s, base: s, a_base: u32(wa.base), b_base: u32(wb.base) };
    rt.dispatch(BINARY, [wa.arg, wb.arg, windowAt(rt, out, s * 4, e * 4).arg, chunk], { overrides, workgroups: rt.grid(Math.ceil((e - s) / 256)) });
  }
}

export function whereKernel(
  rt: Runtime,
  cond: { buffer: PooledBuffer; strides: readonly number[] },
  a: { buffer: PooledBuffer; strides: readonly number[] },
  b: { buffer: PooledBuffer; strides: readonly number[] },
  out: PooledBuffer,
  shape: readonly number[],
): void {
  const n = product(shape);
  const params = { n, rank: shape.length, shape, c_strides: cond.strides, a_strides: a.strides, b_strides: b.strides, base: 0, c_base: 0, a_base: 0, b_base: 0 };
  if (!needsWindows(rt, n * 4, out, cond.buffer, a.buffer, b.buffer)) {
    rt.dispatch(WHERE, [cond.buffer, a.buffer, b.buffer, out, params], { workgroups: rt.grid(Math.ceil(n / 256)) });
    return;
  }
  // Over one binding: aligned chunks of the output; each input bound over the span the chunk reads.
  for (const [s, e] of elementChunks(rt, n, [4])) {
    const ws = [cond, a, b].map((v) => broadcastWindow(rt, 'where', v, shape, s, e));
    const chunk = { ...params, n: e - s, base: s, c_base: u32(ws[0]!.base), a_base: u32(ws[1]!.base), b_base: u32(ws[2]!.base) };
    rt.dispatch(WHERE, [ws[0]!.arg, ws[1]!.arg, ws[2]!.arg, windowAt(rt, out, s * 4, e * 4).arg, chunk], { workgroups: rt.grid(Math.ceil((e - s) / 256)) });
  }
}

/**
 * The window of an operand read with (broadcast) strides that output elements [s, e) of
 * `shape` touch, and its first element; throws, naming the op, where that span is over a window.
 */
function broadcastWindow(rt: Runtime, op: string, v: { buffer: PooledBuffer; strides: readonly number[] }, shape: readonly number[], s: number, e: number): { arg: BufferWindow; base: number } {
  const [lo, hi] = stridedSpan(shape, v.strides, s, e);
  const w = windowAt(rt, v.buffer, lo * 4, (hi + 1) * 4);
  if (w.arg.size > windowBytes(rt))
    throw new Error(
      `${rt.currentOp ?? op}: a broadcast operand (strides [${v.strides.join(', ')}] into the output [${shape.join(', ')}]) spans ${w.arg.size} bytes for one chunk of the output, ` +
        `over this device's maxStorageBufferBindingSize of ${rt.maxBindingSize} bytes; only operands laid out as the output (or broadcast ones that fit one binding) are split. Expand it first, or use smaller tensors.`,
    );
  return { arg: w.arg, base: w.arg.offset / 4 };
}

const ACTIVATION_GRAD: KernelSpec = {
  shader: 'activation-grad.wgsl',
  preamble: 'activations.wgsl',
  entry: 'main',
  bindings: [
    { name: 'g', kind: 'read-only-storage' },
    { name: 'z', kind: 'read-only-storage' },
    { name: 'gz', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

/**
 * gz = g * act'(z) elementwise, for a row of the activation table (ACT_<name> in
 * activations.wgsl); `param` is its first parameter (leakyRelu's negative slope, elu's alpha,
 * softplus's beta).
 */
export function activationGradKernel(rt: Runtime, activation: Activation, param: number, g: PooledBuffer, z: PooledBuffer, gz: PooledBuffer, n: number): void {
  const overrides = { ACT: rt.pipelines.constValue(ACTIVATION_GRAD.shader, ACTIVATION_TABLE[activation].wgsl, ACTIVATION_GRAD.preamble), ACT_PARAM: param };
  if (!needsWindows(rt, n * 4, g, z, gz)) {
    rt.dispatch(ACTIVATION_GRAD, [g, z, gz, { n }], { overrides, workgroups: rt.grid(Math.ceil(n / 256)) });
    return;
  }
  // Over one binding: the same aligned chunk of all three per dispatch.
  for (const [s, e] of elementChunks(rt, n, [4])) {
    const win = (b: PooledBuffer) => windowAt(rt, b, s * 4, e * 4).arg;
    rt.dispatch(ACTIVATION_GRAD, [win(g), win(z), win(gz), { n: e - s }], { overrides, workgroups: rt.grid(Math.ceil((e - s) / 256)) });
  }
}
