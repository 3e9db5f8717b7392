// mlp: one forward and backward (parameter gradients, no optimizer step) of the MLP energy
// model's network, 2-128-128-128-1 with SiLU, on a batch of 256, energy summed to a scalar.
// Each side uses its best path: ours the fused linear layer (bias + SiLU in the matmul's
// epilogue, weights [out, in] as in PyTorch); tfjs its fused matMul with the bias, then
// x * sigmoid(x) (it has no SiLU).
import type { Tensor } from '@tensorflow/tfjs';
import * as ebm from '../src/index.js';
import type { BenchCase, Suite } from './suite.js';

export interface MlpShape {
  batch: number;
  /** Layer widths, input first: [2, 128, 128, 128, 1]. */
  widths: readonly number[];
}

export const MLP_SHAPES: readonly MlpShape[] = [{ batch: 256, widths: [2, 128, 128, 128, 1] }];

/** (weight, bias [out]) shapes per layer. */
const layers = (widths: readonly number[]) => widths.slice(1).map((out, i) => ({ fanIn: widths[i]!, out }));

/** The network: every layer but the last is followed by SiLU. */
function forward<T>(x: T, params: readonly T[], layer: (h: T, w: T, b: T, silu: boolean) => T): T {
  let h = x;
  for (let i = 0; i < params.length; i += 2) h = layer(h, params[i]!, params[i + 1]!, i + 2 < params.length);
  return h;
}

function mlpCase({ batch, widths }: MlpShape): BenchCase {
  return {
    name: `${widths.join('-')} b${batch} fwd+bwd`,
    flops: null,
    ours: () => {
      const x = ebm.randn([batch, widths[0]!], { seed: 1 });
      const params = layers(widths).flatMap(({ fanIn, out }, i) => [
        ebm.randn([out, fanIn], { seed: 10 + 2 * i, std: 1 / Math.sqrt(fanIn), requiresGrad: true }),
        ebm.zeros([out], { requiresGrad: true }),
      ]);
      const layer = (h: ebm.Tensor, w: ebm.Tensor, b: ebm.Tensor, silu: boolean) => ebm.linear(h, w, b, { activation: silu ? 'silu' : 'none' });
      return {
        run: () => {
          ebm.tidy(() => forward(x, params, layer).sum().backward());
          // The gradients are the run's output: taken from the parameters (so the next run
          // starts fresh, as after an optimizer's zero_grad), read back and freed by the runner.
          return params.map((p) => {
            const g = p.grad!;
            p.grad = null;
            return g;
          });
        },
        dispose: () => [x, ...params].forEach((t) => t.dispose()),
      };
    },
    tfjs: (tf) => {
      const x = tf.randomNormal([batch, widths[0]!], 0, 1, 'float32', 1);
      const params = layers(widths).flatMap(({ fanIn, out }, i) => [
        tf.randomNormal([fanIn, out], 0, 1 / Math.sqrt(fanIn), 'float32', 10 + 2 * i),
        tf.zeros([out]),
      ]);
      const layer = (h: Tensor, w: Tensor, b: Tensor, silu: boolean) => {
        const z = tf.fused.matMul({ a: h, b: w, bias: b });
        return silu ? tf.mul(z, tf.sigmoid(z)) : z;
      };
      const gradsOf = tf.grads((...ps: Tensor[]) => tf.sum(forward(x, ps, layer)));
      return {
        run: () => tf.tidy(() => gradsOf(params)),
        dispose: () => tf.dispose([x, ...params]),
      };
    },
  };
}

export function mlpSuite(shapes: readonly MlpShape[] = MLP_SHAPES): Suite {
  return { name: 'mlp', missing: () => null, cases: () => shapes.map(mlpCase) };
}
