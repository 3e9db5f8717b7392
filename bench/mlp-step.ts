// mlp-step: one Adam training step of an MLP written with plain tensor ops, as a user who does
// not use our Linear writes it: h.matmul(W).add(b).silu() per hidden layer, a last matmul + add,
// the mean squared error against targets, backward(), Adam.step(), then the loss read back
// (loss.item()). 2-256-256-1, batch 512. tfjs: the same ops (matMul, add, x * sigmoid(x)) under
// tf.train.adam's minimize; jax-js: one jitted valueAndGrad of the same loss with a hand-written
// Adam (jax-nets.ts). FLOPs: the forward and backward matmuls (2 per multiply-add, backward
// twice the forward; the first layer's input gradient is not needed and not counted).
import type { Scalar, Tensor as TfTensor, Variable } from '@tensorflow/tfjs';
import type { Array as JaxArray } from '@jax-js/jax';
import * as ebm from '../src/index.js';
import { jaxAdamState, jaxAdamStep, jaxMlp, jaxMlpParams } from './jax-nets.js';
import type { BenchCase, Suite } from './suite.js';

export interface MlpStepShape {
  batch: number;
  /** Layer widths, input first: [2, 256, 256, 1]. */
  widths: readonly number[];
}

export const MLP_STEP_SHAPES: readonly MlpStepShape[] = [{ batch: 512, widths: [2, 256, 256, 1] }];

const LR = 1e-3;

function flopsOf({ batch, widths }: MlpStepShape): number {
  let flops = 0;
  for (let i = 1; i < widths.length; i++) {
    const macs = batch * widths[i - 1]! * widths[i]!;
    // Forward, weight gradient, and the input gradient of every layer but the first.
    flops += 2 * macs * (i === 1 ? 2 : 3);
  }
  return flops;
}

/** The bound of PyTorch's default init, U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
const bound = (fanIn: number) => 1 / Math.sqrt(fanIn);

function mlpStepCase(shape: MlpStepShape): BenchCase {
  const { batch, widths } = shape;
  const layers = widths.slice(1).map((out, i) => ({ fanIn: widths[i]!, out }));
  return {
    name: `${widths.join('-')} b${batch} plain ops adam`,
    flops: flopsOf(shape),
    ours: () => {
      const x = ebm.randn([batch, widths[0]!], { seed: 1 });
      const y = ebm.randn([batch, widths.at(-1)!], { seed: 2 });
      const params = layers.flatMap(({ fanIn, out }, i) => [
        ebm.rand([fanIn, out], { seed: 10 + 2 * i, low: -bound(fanIn), high: bound(fanIn), requiresGrad: true }),
        ebm.rand([out], { seed: 11 + 2 * i, low: -bound(fanIn), high: bound(fanIn), requiresGrad: true }),
      ]);
      const optimizer = new ebm.Adam(params, { lr: LR });
      return {
        run: () => {
          optimizer.zeroGrad();
          const loss = ebm.tidy(() => {
            let h = x;
            for (let i = 0; i < params.length; i += 2) {
              const z = h.matmul(params[i]!).add(params[i + 1]!);
              h = i + 2 < params.length ? z.silu() : z;
            }
            const l = h.sub(y).square().mean();
            l.backward();
            return l;
          });
          optimizer.step();
          return loss;
        },
        dispose: () => {
          optimizer.zeroGrad();
          optimizer.dispose();
          [x, y, ...params].forEach((t) => t.dispose());
        },
      };
    },
    tfjs: (tf) => {
      const x = tf.randomNormal([batch, widths[0]!], 0, 1, 'float32', 1);
      const y = tf.randomNormal([batch, widths.at(-1)!], 0, 1, 'float32', 2);
      const params: Variable[] = layers.flatMap(({ fanIn, out }, i) => [
        tf.variable(tf.randomUniform([fanIn, out], -bound(fanIn), bound(fanIn), 'float32', 10 + 2 * i)),
        tf.variable(tf.randomUniform([out], -bound(fanIn), bound(fanIn), 'float32', 11 + 2 * i)),
      ]);
      const optimizer = tf.train.adam(LR);
      const lossOf = (): Scalar => {
        let h: TfTensor = x;
        for (let i = 0; i < params.length; i += 2) {
          const z = tf.add(tf.matMul(h, params[i]!), params[i + 1]!);
          h = i + 2 < params.length ? tf.mul(z, tf.sigmoid(z)) : z;
        }
        return tf.mean(tf.square(tf.sub(h, y)));
      };
      return {
        run: () => tf.tidy(() => optimizer.minimize(lossOf, true, params) as Scalar),
        dispose: () => {
          optimizer.dispose();
          tf.dispose([x, y, ...params]);
        },
      };
    },
    jax: (jax) => {
      const { numpy: np, random } = jax;
      const x = random.normal(random.key(1), [batch, widths[0]!]);
      const y = random.normal(random.key(2), [batch, widths.at(-1)!]);
      const loss = (ps: JaxArray[], [xb, yb]: JaxArray[]) => np.mean(np.square(jaxMlp(jax, ps, xb!).sub(yb!)));
      const adam = jaxAdamStep(jax, loss, LR);
      const state = jaxAdamState(jax, jaxMlpParams(jax, widths, 10));
      return {
        run: () => adam.apply(state, [x.ref, y.ref]),
        dispose: () => {
          jax.tree.dispose([x, y, state.params, state.m, state.v]);
          adam.dispose();
        },
      };
    },
  };
}

export function mlpStepSuite(shapes: readonly MlpStepShape[] = MLP_STEP_SHAPES): Suite {
  return { name: 'mlp-step', missing: () => null, cases: () => shapes.map(mlpStepCase) };
}
