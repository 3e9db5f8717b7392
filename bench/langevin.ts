// langevin: 256 chains x 100 Langevin steps (h = 0.01, noise scale 1) on the 2-128-128-128-1
// SiLU MLP energy, one sample() call per run. Ours twice: the fused MLP path (several whole
// steps, forward + dE/dx + update, per dispatch; shaders/langevin-mlp.wgsl) and the general
// path (energy.gradient by the tape, then the fused update kernel, per step). tfjs runs the
// same loop its best way: tf.grad of the summed energy (fused matMul + bias, x * sigmoid(x))
// and the update with tf.randomNormal noise, each step in a tidy; jax-js a jitted step (grad of
// the summed energy, random.normal noise from a key per step) called per step. The runs' FLOPs count the
// forward pass and the input-gradient backward (2 FLOPs per multiply-add of every layer, both
// ways); chain-steps per second are 256 * 100 / (ms / 1000).
import type { Tensor } from '@tensorflow/tfjs';
import * as ebm from '../src/index.js';
import { LangevinDynamics } from '../src/train/index.js';
import { jaxChain, jaxLangevinStep, jaxMlp, jaxMlpParams } from './jax-nets.js';
import type { BenchCase, Suite } from './suite.js';

export interface LangevinShape {
  chains: number;
  steps: number;
  /** Layer widths, input first: [2, 128, 128, 128, 1]. */
  widths: readonly number[];
}

export const LANGEVIN_SHAPES: readonly LangevinShape[] = [{ chains: 256, steps: 100, widths: [2, 128, 128, 128, 1] }];

const STEP_SIZE = 0.01;
const NOISE_SCALE = 1;

/** Forward plus input-gradient FLOPs of one run. */
function flopsOf({ chains, steps, widths }: LangevinShape): number {
  let macs = 0;
  for (let i = 1; i < widths.length; i++) macs += widths[i - 1]! * widths[i]!;
  return 2 * 2 * macs * chains * steps;
}

function langevinCase(shape: LangevinShape, fused: boolean): BenchCase {
  const { chains, steps, widths } = shape;
  const hidden = widths.slice(1, -1);
  return {
    name: `${chains}x${steps} ${widths.join('-')} ${fused ? 'fused' : 'general'}`,
    flops: flopsOf(shape),
    steps,
    ours: () => {
      const model = new ebm.MLPEnergyModel({ inputDim: widths[0]!, hiddenDims: hidden, activation: 'silu', seed: 1 });
      const sampler = new LangevinDynamics(model, { stepSize: STEP_SIZE, noiseScale: NOISE_SCALE, fused });
      const support = sampler.fusedSupport();
      if (support.fused !== fused) throw new Error(`the ${fused ? 'fused' : 'general'} path was expected, got ${JSON.stringify(support)}`);
      const x0 = ebm.randn([chains, widths[0]!], { seed: 2 });
      let seed = 0;
      return {
        run: () => sampler.sample({ x: x0, nSteps: steps, seed: seed++ }),
        dispose: () => {
          x0.dispose();
          model.dispose();
        },
      };
    },
    tfjs: (tf) => {
      // The same model's shapes and initialisation bounds (weights [out, in], as PyTorch's).
      const params = widths.slice(1).flatMap((out, i) => {
        const fanIn = widths[i]!;
        const bound = 1 / Math.sqrt(fanIn);
        return [tf.randomUniform([out, fanIn], -bound, bound, 'float32', 10 + 2 * i), tf.randomUniform([out], -bound, bound, 'float32', 11 + 2 * i)];
      });
      const x0 = tf.randomNormal([chains, widths[0]!], 0, 1, 'float32', 2);
      const energy = (x: Tensor) => {
        let h = x;
        for (let i = 0; i < params.length; i += 2) {
          const z = tf.fused.matMul({ a: h, b: params[i]!, transposeB: true, bias: params[i + 1]! });
          h = i + 2 < params.length ? tf.mul(z, tf.sigmoid(z)) : z;
        }
        return tf.sum(h);
      };
      const gradOf = tf.grad(energy);
      const sigma = NOISE_SCALE * Math.sqrt(2 * STEP_SIZE);
      let seed = 0;
      return {
        run: () => {
          let x = x0.clone();
          for (let t = 0; t < steps; t++) {
            const next = tf.tidy(() => tf.add(tf.sub(x, tf.mul(gradOf(x), STEP_SIZE)), tf.mul(tf.randomNormal(x.shape, 0, 1, 'float32', seed++), sigma)));
            x.dispose();
            x = next;
          }
          return x;
        },
        dispose: () => tf.dispose([x0, ...params]),
      };
    },
    jax: (jax) => {
      const params = jaxMlpParams(jax, widths, 10);
      const x0 = jax.random.normal(jax.random.key(2), [chains, widths[0]!]);
      const step = jaxLangevinStep(jax, (ps, x) => jaxMlp(jax, ps, x), STEP_SIZE, NOISE_SCALE * Math.sqrt(2 * STEP_SIZE));
      let seed = 0;
      return {
        run: () => {
          const x = jaxChain(jax, step, x0.ref, params, steps, seed);
          seed += steps;
          return x;
        },
        dispose: () => {
          jax.tree.dispose([x0, ...params]);
          step.dispose();
        },
      };
    },
  };
}

export function langevinSuite(shapes: readonly LangevinShape[] = LANGEVIN_SHAPES): Suite {
  return { name: 'langevin', missing: () => null, cases: () => shapes.flatMap((s) => [langevinCase(s, true), langevinCase(s, false)]) };
}
