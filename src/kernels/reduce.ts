// Wrapper for reduce.wgsl: sum / max / min / logsumexp over any set of axes of a contiguous tensor.
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import { contiguousStrides, product } from './layout.js';

const bindings = [
  { name: 'x', kind: 'read-only-storage' },
  { name: 'out', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
] as const;
const PER_THREAD: KernelSpec = { shader: 'reduce.wgsl', entry: 'per_thread', bindings };
const PER_WORKGROUP: KernelSpec = { shader: 'reduce.wgsl', entry: 'per_workgroup', bindings };

export type ReduceOp = 'sum' | 'max' | 'min' | 'logsumexp';

/** Reductions longer than this get a workgroup per output instead of one invocation. */
const WORKGROUP_THRESHOLD = 64;

export function reduceKernel(rt: Runtime, op: ReduceOp, x: PooledBuffer, out: PooledBuffer, shape: readonly number[], axes: readonly number[], scale = 1): void {
  const strides = contiguousStrides(shape);
  const red = new Set(axes);
  const keptShape: number[] = [];
  const keptStrides: number[] = [];
  const redShape: number[] = [];
  const redStrides: number[] = [];
  shape.forEach((d, i) => {
    if (red.has(i)) {
      redShape.push(d);
      redStrides.push(strides[i]!);
    } else {
      keptShape.push(d);
      keptStrides.push(strides[i]!);
    }
  });
  const nOut = product(keptShape);
  const nRed = product(redShape);
  // Trailing reduced axes are one contiguous run per output: skip the index arithmetic.
  const contiguous = axes.every((a) => a >= shape.length - axes.length);
  const params = {
    n_out: nOut,
    n_red: nRed,
    kept_rank: keptShape.length,
    red_rank: redShape.length,
    scale,
    kept_shape: keptShape,
    kept_strides: keptStrides,
    red_shape: redShape,
    red_strides: redStrides,
  };
  const overrides = { OP: rt.pipelines.constValue('reduce.wgsl', `OP_${op}`), CONTIGUOUS: contiguous };
  if (nRed > WORKGROUP_THRESHOLD) rt.dispatch(PER_WORKGROUP, [x, out, params], { overrides, workgroups: rt.grid(nOut) });
  else rt.dispatch(PER_THREAD, [x, out, params], { overrides, workgroups: rt.grid(Math.ceil(nOut / 64)) });
}
