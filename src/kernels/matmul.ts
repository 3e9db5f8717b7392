// Wrapper for matmul.wgsl: batched C = op(A) op(B) with strided (possibly transposed) operands.
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import { product } from './layout.js';
import { UniformWriter } from './uniform.js';

const MATMUL: KernelSpec = {
  shader: 'matmul.wgsl',
  entry: 'main',
  bindings: [
    { name: 'a', kind: 'read-only-storage' },
    { name: 'b', kind: 'read-only-storage' },
    { name: 'c', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

/** The batch dims the kernel can address (one vec4<u32> each of shape and strides). */
export const MATMUL_MAX_BATCH_RANK = 4;
const TILE = 32;

export interface MatmulOperand {
  buffer: PooledBuffer;
  rowStride: number;
  colStride: number;
  /** Per batch dim of the output's batch shape; 0 where this operand is broadcast. */
  batchStrides: readonly number[];
}

export function matmulKernel(rt: Runtime, a: MatmulOperand, b: MatmulOperand, c: PooledBuffer, m: number, n: number, k: number, batchShape: readonly number[]): void {
  if (batchShape.length > MATMUL_MAX_BATCH_RANK) throw new Error(`matmul: at most ${MATMUL_MAX_BATCH_RANK} batch dims are supported, got [${batchShape.join(', ')}]`);
  const batch = product(batchShape);
  const params = new UniformWriter(20)
    .u(m, n, k, batchShape.length, a.rowStride, a.colStride, b.rowStride, b.colStride)
    .vec(batchShape, 4)
    .vec(a.batchStrides, 4)
    .vec(b.batchStrides, 4)
    .bytes();
  rt.dispatch(MATMUL, [a.buffer, b.buffer, c, params], { workgroups: [Math.ceil(n / TILE), Math.ceil(m / TILE), batch] });
}
