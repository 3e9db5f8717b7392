// matmul: f32 [M,K] @ [K,N]: square sizes, and the shapes of the EBM MLP's layers (a batch of
// 256 points through 2 -> 128 -> 128 -> 1).
import type { Array as JaxArray } from '@jax-js/jax';
import type { Tensor as TfTensor } from '@tensorflow/tfjs';
import * as ebm from '../src/index.js';
import type { Jax } from './jax-peer.js';
import type { BenchCase, Suite, Workload } from './suite.js';
import type { Tf } from './tfjs-peer.js';

export interface MatmulShape {
  m: number;
  k: number;
  n: number;
}

export const MATMUL_SHAPES: readonly MatmulShape[] = [
  { m: 256, k: 256, n: 256 },
  { m: 512, k: 512, n: 512 },
  { m: 1024, k: 1024, n: 1024 },
  { m: 256, k: 2, n: 128 },
  { m: 256, k: 128, n: 128 },
  { m: 256, k: 128, n: 1 },
];

export const matmulName = ({ m, k, n }: MatmulShape): string => `[${m},${k}]@[${k},${n}]`;
export const matmulFlops = ({ m, k, n }: MatmulShape): number => 2 * m * n * k;

/** Our f32 matmul of one shape; `convert` turns the inputs into another dtype first (f16). */
export function oursMatmul({ m, k, n }: MatmulShape, convert?: (x: ebm.Tensor) => ebm.Tensor): Workload<ebm.Tensor> {
  let a = ebm.randn([m, k], { seed: 1 });
  let b = ebm.randn([k, n], { seed: 2 });
  if (convert) {
    const [a16, b16] = [convert(a), convert(b)];
    a.dispose();
    b.dispose();
    [a, b] = [a16, b16];
  }
  return {
    run: () => a.matmul(b),
    dispose: () => (a.dispose(), b.dispose()),
  };
}

export function tfjsMatmul(tf: Tf, { m, k, n }: MatmulShape): Workload<TfTensor> {
  const a = tf.randomNormal([m, k], 0, 1, 'float32', 1);
  const b = tf.randomNormal([k, n], 0, 1, 'float32', 2);
  return {
    run: () => tf.matMul(a, b),
    dispose: () => tf.dispose([a, b]),
  };
}

/** jax-js: a jitted matmul of inputs kept on the GPU (`.ref` keeps them across calls). */
export function jaxMatmul(jax: Jax, { m, k, n }: MatmulShape): Workload<JaxArray> {
  const { numpy: np, random } = jax;
  const a = random.normal(random.key(1), [m, k]);
  const b = random.normal(random.key(2), [k, n]);
  const f = jax.jit((a: JaxArray, b: JaxArray) => np.matmul(a, b));
  return {
    run: () => f(a.ref, b.ref),
    dispose: () => (a.dispose(), b.dispose(), f.dispose()),
  };
}

export function matmulSuite(shapes: readonly MatmulShape[] = MATMUL_SHAPES): Suite {
  return {
    name: 'matmul',
    missing: () => null,
    cases: () =>
      shapes.map(
        (s): BenchCase => ({
          name: matmulName(s),
          flops: matmulFlops(s),
          ours: () => oursMatmul(s),
          tfjs: (tf) => tfjsMatmul(tf, s),
          jax: (jax) => jaxMatmul(jax, s),
        }),
      ),
  };
}
