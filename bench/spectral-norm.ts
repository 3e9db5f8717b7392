// spectral-norm: one power iteration and the division by sigma, PyTorch's semantics:
// v = normalize(W^T u), u = normalize(W v), sigma = u . W v, W / sigma. The shapes are a
// 128-unit MLP layer and a 3x3 conv with 512 channels, flattened to [512, 512*3*3].
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import * as ebm from '../src/index.js';
import type { BenchCase, Suite } from './suite.js';
import type { Tf } from './tfjs-peer.js';

export interface SpectralNormShape {
  rows: number;
  cols: number;
  nPowerIterations: number;
}

export const SPECTRAL_NORM_SHAPES: readonly SpectralNormShape[] = [
  { rows: 128, cols: 128, nPowerIterations: 1 },
  { rows: 512, cols: 4608, nPowerIterations: 1 },
];

/** tfjs's version of the same steps; u and v are rows ([1, rows], [1, cols]). */
function tfjsSpectralNorm(tf: Tf, w: Tensor2D, u0: Tensor2D, n: number): Tensor {
  // torch.nn.functional.normalize: x / max(|x|, eps).
  const normalize = (x: Tensor2D) => tf.div(x, tf.maximum(tf.norm(x), 1e-12)) as Tensor2D;
  let u = u0;
  let wv: Tensor2D | null = null;
  for (let i = 0; i < n; i++) {
    const v = normalize(tf.matMul(u, w));
    wv = tf.matMul(v, w, false, true);
    u = normalize(wv);
  }
  // sigma = u . (W v): the W v of the last iteration is that product, so it is reused.
  const sigma = tf.sum(tf.mul(u, wv!));
  return tf.div(w, sigma);
}

function spectralNormCase({ rows, cols, nPowerIterations }: SpectralNormShape): BenchCase {
  return {
    name: `${rows}x${cols} n${nPowerIterations}`,
    flops: null,
    ours: () => {
      const w = ebm.randn([rows, cols], { seed: 1 });
      const u = ebm.randn([rows], { seed: 2 });
      const v = ebm.randn([cols], { seed: 3 });
      return {
        run: () => {
          // The normalized weight, as tfjs's version returns (sigma is inside it).
          const { weight, sigma } = ebm.spectralNorm(w, u, v, { nPowerIterations });
          sigma.dispose();
          return weight;
        },
        dispose: () => [w, u, v].forEach((t) => t.dispose()),
      };
    },
    tfjs: (tf) => {
      const w = tf.randomNormal([rows, cols], 0, 1, 'float32', 1) as Tensor2D;
      const u = tf.randomNormal([1, rows], 0, 1, 'float32', 2) as Tensor2D;
      return {
        run: () => tf.tidy(() => tfjsSpectralNorm(tf, w, u, nPowerIterations)),
        dispose: () => tf.dispose([w, u]),
      };
    },
  };
}

export function spectralNormSuite(shapes: readonly SpectralNormShape[] = SPECTRAL_NORM_SHAPES): Suite {
  return { name: 'spectral-norm', missing: () => null, cases: () => shapes.map(spectralNormCase) };
}
