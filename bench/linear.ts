// linear: y = silu(x W^T + b) with W in PyTorch's [out, in] layout, the MLP energy layer. tfjs
// gets its best path for the same math: a fused matMul with the bias (transposing W for free),
// then x * sigmoid(x), since it has no SiLU.
import * as ebm from '../src/index.js';
import type { BenchCase, Suite } from './suite.js';

export interface LinearShape {
  batch: number;
  inFeatures: number;
  outFeatures: number;
}

export const LINEAR_SHAPES: readonly LinearShape[] = [
  { batch: 256, inFeatures: 128, outFeatures: 128 },
  { batch: 1024, inFeatures: 1024, outFeatures: 1024 },
];

function linearCase({ batch, inFeatures, outFeatures }: LinearShape): BenchCase {
  const scale = 1 / Math.sqrt(inFeatures);
  return {
    name: `${batch}x${inFeatures} -> ${outFeatures} silu`,
    flops: 2 * batch * inFeatures * outFeatures,
    ours: () => {
      const x = ebm.randn([batch, inFeatures], { seed: 1 });
      const w = ebm.randn([outFeatures, inFeatures], { seed: 2, std: scale });
      const b = ebm.randn([outFeatures], { seed: 3, std: scale });
      return {
        run: () => ebm.linear(x, w, b, { activation: 'silu' }),
        dispose: () => [x, w, b].forEach((t) => t.dispose()),
      };
    },
    tfjs: (tf) => {
      const x = tf.randomNormal([batch, inFeatures], 0, 1, 'float32', 1);
      const w = tf.randomNormal([outFeatures, inFeatures], 0, scale, 'float32', 2);
      const b = tf.randomNormal([outFeatures], 0, scale, 'float32', 3);
      return {
        run: () =>
          tf.tidy(() => {
            const y = tf.fused.matMul({ a: x, b: w, transposeB: true, bias: b });
            return tf.mul(y, tf.sigmoid(y));
          }),
        dispose: () => tf.dispose([x, w, b]),
      };
    },
  };
}

export function linearSuite(shapes: readonly LinearShape[] = LINEAR_SHAPES): Suite {
  return { name: 'linear', missing: () => null, cases: () => shapes.map(linearCase) };
}
