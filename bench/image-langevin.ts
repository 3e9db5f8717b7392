// image-langevin: 60 Langevin steps (x <- x - h dE/dx + noiseScale sqrt(2h) eps; h = 0.01, noise
// scale 1) on 128 MNIST-sized images [128, 1, 28, 28] for a ConvEnergyModel with channels
// [32, 64] (no images default exists in the code yet; the images issue's model is this size):
// conv 1->32 s2, LeakyReLU(0.2), conv 32->64 s2, LeakyReLU, flatten, linear 3136->128, LeakyReLU,
// linear 128->1. One sample() call per run, through the public LangevinDynamics, so the run
// speeds up by itself when the input-only gradient lands. tfjs writes the same network (NHWC,
// fused conv/matMul with bias, leakyRelu) with tf.grad of the summed energy per step; jax-js
// (NCHW, lax.conv + bias, nn.leakyRelu) with its jitted grad step. Only the input gradient is
// taken on every side. FLOPs per step: every layer's forward and input-gradient pass (2 per
// multiply-add each); conv layers counted as conv-shapes.ts counts them.
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import type { Array as JaxArray } from '@jax-js/jax';
import * as ebm from '../src/index.js';
import { convFlops, convOutSize, type ConvShape } from './conv-shapes.js';
import { jaxChain, jaxLayer, jaxLangevinStep } from './jax-nets.js';
import type { BenchCase, Suite } from './suite.js';

export interface ImageLangevinShape {
  images: number;
  channels: number;
  size: number;
  steps: number;
  /** ConvEnergyModel's conv channels. */
  convChannels: readonly number[];
}

export const IMAGE_LANGEVIN_SHAPES: readonly ImageLangevinShape[] = [{ images: 128, channels: 1, size: 28, steps: 60, convChannels: [32, 64] }];

const STEP_SIZE = 0.01;
const NOISE_SCALE = 1;
const SLOPE = 0.2;
/** ConvEnergyModel's first fc layer's width. */
const HIDDEN = 128;

/** The model's conv layers (kernel 3, stride 2, padding 1) as conv-shapes.ts describes them. */
function convLayers(s: ImageLangevinShape): ConvShape[] {
  let [c, side] = [s.channels, s.size];
  return s.convChannels.map((out) => {
    const layer: ConvShape = { batch: s.images, inChannels: c, outChannels: out, size: side, kernel: 3, stride: 2, padding: 1 };
    [c, side] = [out, convOutSize(layer)];
    return layer;
  });
}

function flattened(s: ImageLangevinShape): number {
  const last = convLayers(s).at(-1)!;
  return last.outChannels * convOutSize(last) ** 2;
}

function flopsOf(s: ImageLangevinShape): number {
  const forward = convLayers(s).reduce((f, l) => f + convFlops(l), 0) + 2 * s.images * (flattened(s) * HIDDEN + HIDDEN);
  return 2 * forward * s.steps;
}

function imageLangevinCase(s: ImageLangevinShape): BenchCase {
  const { images, channels, size, steps } = s;
  const layers = convLayers(s);
  const flat = flattened(s);
  const sigma = NOISE_SCALE * Math.sqrt(2 * STEP_SIZE);
  return {
    name: `${images}x[${channels},${size},${size}] x${steps} conv ${s.convChannels.join(',')}`,
    flops: flopsOf(s),
    steps,
    ours: () => {
      const model = new ebm.ConvEnergyModel({ inputChannels: channels, imageSize: size, channels: s.convChannels, seed: 1 });
      const sampler = new ebm.LangevinDynamics(model, { stepSize: STEP_SIZE, noiseScale: NOISE_SCALE });
      const x0 = ebm.rand([images, channels, size, size], { seed: 2 });
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
      const u = (shape: number[], fanIn: number, seed: number) => tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), 'float32', seed);
      const convs = layers.map((l, i) => {
        const fanIn = l.inChannels * 9;
        return { w: u([3, 3, l.inChannels, l.outChannels], fanIn, 10 + 2 * i) as Tensor4D, b: u([l.outChannels], fanIn, 11 + 2 * i) };
      });
      const fc = [u([flat, HIDDEN], flat, 20), u([HIDDEN], flat, 21), u([HIDDEN, 1], HIDDEN, 22), u([1], HIDDEN, 23)];
      const pad = [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ] as [[number, number], [number, number], [number, number], [number, number]];
      const energy = (x: Tensor) => {
        let h = x as Tensor4D;
        for (const { w, b } of convs) h = tf.leakyRelu(tf.fused.conv2d({ x: h, filter: w, bias: b, strides: 2, pad }), SLOPE);
        const z = tf.leakyRelu(tf.fused.matMul({ a: tf.reshape(h, [images, flat]), b: fc[0]!, bias: fc[1]! }), SLOPE);
        return tf.sum(tf.fused.matMul({ a: z, b: fc[2]!, bias: fc[3]! }));
      };
      const gradOf = tf.grad(energy);
      const x0 = tf.randomUniform([images, size, size, channels], 0, 1, 'float32', 2);
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
        dispose: () => tf.dispose([x0, ...convs.flatMap(({ w, b }) => [w, b]), ...fc]),
      };
    },
    jax: (jax) => {
      const { numpy: np, nn, lax, random } = jax;
      // [W, b] per conv layer (OIHW), then fc1 and fc2 with W as [in, out].
      const params = [
        ...layers.flatMap((l, i) => jaxLayer(jax, [l.outChannels, l.inChannels, 3, 3], l.inChannels * 9, l.outChannels, 10 + 2 * i)),
        ...jaxLayer(jax, [flat, HIDDEN], flat, HIDDEN, 20),
        ...jaxLayer(jax, [HIDDEN, 1], HIDDEN, 1, 22),
      ];
      const energy = (ps: JaxArray[], x: JaxArray) => {
        let h = x;
        layers.forEach((l, i) => {
          const z = lax.convGeneralDilated(h, ps[2 * i]!, [2, 2], [
            [1, 1],
            [1, 1],
          ]);
          h = nn.leakyRelu(z.add(ps[2 * i + 1]!.reshape([1, l.outChannels, 1, 1])), SLOPE);
        });
        const n = 2 * layers.length;
        const z = nn.leakyRelu(np.matmul(h.reshape([images, flat]), ps[n]!).add(ps[n + 1]!), SLOPE);
        return np.matmul(z, ps[n + 2]!).add(ps[n + 3]!).reshape([-1]);
      };
      const step = jaxLangevinStep(jax, energy, STEP_SIZE, sigma);
      const x0 = random.uniform(random.key(2), [images, channels, size, size]);
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

export function imageLangevinSuite(shapes: readonly ImageLangevinShape[] = IMAGE_LANGEVIN_SHAPES): Suite {
  return { name: 'image-langevin', missing: () => null, cases: () => shapes.map(imageLangevinCase) };
}
