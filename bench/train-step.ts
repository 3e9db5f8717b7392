// train-step: one contrastive-divergence training step on the 2-128-128-128-1 SiLU MLP energy,
// batch 256: 60 Langevin steps (h = 0.01, noise scale 1) from N(0, I) noise for the negatives,
// the loss mean E(x+) - mean E(x-) + 0.001 (mean E(x+)^2 + mean E(x-)^2), backward and one
// Adam update. Ours is EBMTrainer.step() with ContrastiveDivergence (the negatives through the
// fused MLP Langevin path, or the general one), and MixedPrecisionEBMTrainer (f16 matmuls in
// the loss, GradScaler; tfjs has no f16, so no peer). tfjs runs the same step its best way:
// tf.grad of the summed energy per Langevin step (fused matMul + bias, x * sigmoid(x)), the
// loss on the two batches, and tf.train.adam's minimize; jax-js its jitted Langevin step per
// step, then one jitted valueAndGrad of the loss with a hand-written Adam (jax-nets.ts). Every
// side's run ends reading the loss back. FLOPs count the chains' forward and input-gradient
// passes and the loss's forward and backward (2 FLOPs per multiply-add).
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import type { Array as JaxArray } from '@jax-js/jax';
import * as ebm from '../src/index.js';
import { jaxAdamState, jaxAdamStep, jaxChain, jaxLangevinStep, jaxMlp, jaxMlpParams } from './jax-nets.js';
import type { BenchCase, Suite } from './suite.js';

export interface TrainStepShape {
  batch: number;
  kSteps: number;
  /** Layer widths, input first: [2, 128, 128, 128, 1]. */
  widths: readonly number[];
}

export const TRAIN_STEP_SHAPES: readonly TrainStepShape[] = [{ batch: 256, kSteps: 60, widths: [2, 128, 128, 128, 1] }];

const STEP_SIZE = 0.01;
const NOISE_SCALE = 1;
const LR = 1e-3;
const REG = 0.001;

type Variant = 'fused' | 'general' | 'mixed';

function flopsOf({ batch, kSteps, widths }: TrainStepShape): number {
  let macs = 0;
  for (let i = 1; i < widths.length; i++) macs += widths[i - 1]! * widths[i]!;
  // Chains: forward + input gradient per step; loss: forward + backward (x2) over 2 * batch rows.
  return 2 * macs * (2 * batch * kSteps + 3 * 2 * batch);
}

function trainStepCase(shape: TrainStepShape, variant: Variant): BenchCase {
  const { batch, kSteps, widths } = shape;
  const c: BenchCase = {
    name: `b${batch} k${kSteps} ${widths.join('-')} ${variant}`,
    flops: flopsOf(shape),
    ours: () => {
      const model = new ebm.MLPEnergyModel({ inputDim: widths[0]!, hiddenDims: widths.slice(1, -1), activation: 'silu', seed: 1 });
      const sampler = new ebm.LangevinDynamics(model, { stepSize: STEP_SIZE, noiseScale: NOISE_SCALE, fused: variant !== 'general' });
      const lossFn = new ebm.ContrastiveDivergence(model, sampler, { kSteps, energyRegWeight: REG, seed: 3 });
      const optimizer = new ebm.Adam(model.parameters(), { lr: LR });
      const Trainer = variant === 'mixed' ? ebm.MixedPrecisionEBMTrainer : ebm.EBMTrainer;
      const trainer = new Trainer({ energyFunction: model, sampler, optimizer, lossFn, logEvery: 0 });
      const pos = ebm.makeDataset('eight-gaussians', { nSamples: batch, seed: 2 });
      return {
        // Records the whole step; the runner awaits the read of its metrics (the loss).
        run: () => {
          const m = trainer.step(pos);
          return { readback: () => m.read() };
        },
        dispose: () => {
          trainer.dispose();
          lossFn.dispose();
          optimizer.dispose();
          pos.dispose();
          model.dispose();
        },
      };
    },
  };
  if (variant !== 'mixed')
    c.tfjs = (tf) => {
      // The same shapes and initialisation bounds as the model (weights [out, in], as PyTorch's).
      const params: Variable[] = widths.slice(1).flatMap((out, i) => {
        const fanIn = widths[i]!;
        const bound = 1 / Math.sqrt(fanIn);
        return [tf.variable(tf.randomUniform([out, fanIn], -bound, bound, 'float32', 10 + 2 * i)), tf.variable(tf.randomUniform([out], -bound, bound, 'float32', 11 + 2 * i))];
      });
      const pos = tf.randomNormal([batch, widths[0]!], 0, 1, 'float32', 2);
      const energies = (x: Tensor) => {
        let h = x;
        for (let i = 0; i < params.length; i += 2) {
          const z = tf.fused.matMul({ a: h, b: params[i]!, transposeB: true, bias: params[i + 1]! });
          h = i + 2 < params.length ? tf.mul(z, tf.sigmoid(z)) : z;
        }
        return tf.reshape(h, [-1]);
      };
      const gradOf = tf.grad((x: Tensor) => tf.sum(energies(x)));
      const optimizer = tf.train.adam(LR);
      const sigma = NOISE_SCALE * Math.sqrt(2 * STEP_SIZE);
      let seed = 0;
      return {
        run: () => {
          let x = tf.randomNormal([batch, widths[0]!], 0, 1, 'float32', seed++);
          for (let t = 0; t < kSteps; t++) {
            const next = tf.tidy(() => tf.add(tf.sub(x, tf.mul(gradOf(x), STEP_SIZE)), tf.mul(tf.randomNormal(x.shape, 0, 1, 'float32', seed++), sigma)));
            x.dispose();
            x = next;
          }
          const neg = x;
          const loss = tf.tidy(() =>
            optimizer.minimize(
              () => {
                const ep = energies(pos);
                const en = energies(neg);
                return tf.add(tf.sub(tf.mean(ep), tf.mean(en)), tf.mul(tf.add(tf.mean(tf.square(ep)), tf.mean(tf.square(en))), REG)) as Scalar;
              },
              true,
              params,
            ) as Scalar,
          );
          neg.dispose();
          return loss;
        },
        dispose: () => {
          optimizer.dispose();
          tf.dispose([pos, ...params]);
        },
      };
    };
  if (variant !== 'mixed')
    c.jax = (jax) => {
      const { numpy: np } = jax;
      const energies = (ps: JaxArray[], x: JaxArray) => jaxMlp(jax, ps, x).reshape([-1]);
      const step = jaxLangevinStep(jax, energies, STEP_SIZE, NOISE_SCALE * Math.sqrt(2 * STEP_SIZE));
      const loss = (ps: JaxArray[], [pos, neg]: JaxArray[]) => {
        const ep = energies(ps.map((p) => p.ref), pos!);
        const en = energies(ps, neg!);
        const reg = np.mean(np.square(ep.ref)).add(np.mean(np.square(en.ref))).mul(REG);
        return np.mean(ep).sub(np.mean(en)).add(reg);
      };
      const adam = jaxAdamStep(jax, loss, LR);
      const state = jaxAdamState(jax, jaxMlpParams(jax, widths, 10));
      const pos = jax.random.normal(jax.random.key(2), [batch, widths[0]!]);
      let seed = 0;
      return {
        run: () => {
          const x = jax.random.normal(jax.random.key(seed++), [batch, widths[0]!]);
          const neg = jaxChain(jax, step, x, state.params, kSteps, seed);
          seed += kSteps;
          return adam.apply(state, [pos.ref, neg]);
        },
        dispose: () => {
          jax.tree.dispose([pos, state.params, state.m, state.v]);
          step.dispose();
          adam.dispose();
        },
      };
    };
  return c;
}

export function trainStepSuite(shapes: readonly TrainStepShape[] = TRAIN_STEP_SHAPES): Suite {
  return {
    name: 'train-step',
    missing: () => null,
    cases: () => shapes.flatMap((s) => (['fused', 'general', 'mixed'] as const).map((v) => trainStepCase(s, v))),
  };
}
