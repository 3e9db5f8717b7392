// Wrappers for the elementwise kernels: unary.wgsl, binary.wgsl and where.wgsl.
import { ACTIVATION_TABLE, type Activation } from './activation-table.js';
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import { product } from './layout.js';

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
  rt.dispatch(UNARY, [x, y, { n, p0, p1 }], {
    overrides: { OP: rt.pipelines.constValue(UNARY.shader, `OP_${op}`, UNARY.preamble) },
    workgroups: rt.grid(Math.ceil(n / 256)),
  });
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
    shape,
    a_strides: 'strides' in a ? a.strides : [],
    b_strides: 'strides' in b ? b.strides : [],
  };
  rt.dispatch(BINARY, ['buffer' in a ? a.buffer : rt.placeholder, 'buffer' in b ? b.buffer : rt.placeholder, out, params], {
    overrides: { OP: rt.pipelines.constValue(BINARY.shader, `OP_${op}`), BROADCAST: broadcast, SCALAR: scalarMode },
    workgroups: rt.grid(Math.ceil(n / 256)),
  });
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
  const params = { n, rank: shape.length, shape, c_strides: cond.strides, a_strides: a.strides, b_strides: b.strides };
  rt.dispatch(WHERE, [cond.buffer, a.buffer, b.buffer, out, params], { workgroups: rt.grid(Math.ceil(n / 256)) });
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
  rt.dispatch(ACTIVATION_GRAD, [g, z, gz, { n }], {
    overrides: { ACT: rt.pipelines.constValue(ACTIVATION_GRAD.shader, ACTIVATION_TABLE[activation].wgsl, ACTIVATION_GRAD.preamble), ACT_PARAM: param },
    workgroups: rt.grid(Math.ceil(n / 256)),
  });
}
