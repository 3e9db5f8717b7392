// image-langevin: 60 Langevin steps on 128 MNIST-sized images [128, 1, 28, 28] (issue 12's
// figure) for the images issue's default model and chain, read from IMAGE_DEFAULTS
// (src/train/image-defaults.ts, the one place they live): a ConvEnergyModel with its channels
// (conv Cin->C1 s2, act, conv C1->C2 s2, act, flatten, linear F->128, act, linear 128->1), its
// kernel size and activation (SiLU), and its sampler: x <- clamp(x - h dE/dx + std eps) with its
// step size h, noise std per step and box, chains starting uniform in the box. One sample() call
// per run through the public LangevinDynamics (the sampler createImageEBM builds). tfjs writes
// the same network (NHWC, fused conv/matMul with bias, x * sigmoid(x)) with tf.grad of the summed
// energy per step; jax-js (NCHW, lax.convGeneralDilated + bias, nn.silu) its jitted grad step
// (jax-nets.ts). Only the input gradient is taken on every side. FLOPs per step: every layer's
// forward and input-gradient pass (2 per multiply-add each); conv layers as conv-shapes.ts counts.
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import type { Array as JaxArray } from '@jax-js/jax';
import * as ebm from '../src/index.js';
import { convFlops, convOutSize, type ConvShape } from './conv-shapes.js';
import { jaxChain, jaxLangevinStep, jaxLayer } from './jax-nets.js';
import { jaxConvSkipReason, type Jax } from './jax-peer.js';
import type { BenchCase, Suite, Workload } from './suite.js';
import type { Tf } from './tfjs-peer.js';

export interface ImageLangevinShape {
  images: number;
  channels: number;
  size: number;
  steps: number;
  /** ConvEnergyModel's conv channels. */
  convChannels: readonly number[];
}

const D = ebm.IMAGE_DEFAULTS;

export const IMAGE_LANGEVIN_SHAPES: readonly ImageLangevinShape[] = [{ images: 128, channels: 1, size: 28, steps: 60, convChannels: D.channels }];

/** ConvEnergyModel's first fc layer's width. */
export const HIDDEN = 128;

/** The image chain's sampler settings, IMAGE_DEFAULTS' (h, the noise std per step, the box). */
export const IMAGE_CHAIN = { stepSize: D.stepSize, noiseStd: D.noiseStd, min: D.range.min, max: D.range.max } as const;

/** The model's conv layers (stride 2, padding k // 2) as conv-shapes.ts describes them. */
export function imageConvLayers(s: Pick<ImageLangevinShape, 'images' | 'channels' | 'size' | 'convChannels'>): ConvShape[] {
  const kernel = D.kernelSize;
  let [c, side] = [s.channels, s.size];
  return s.convChannels.map((out) => {
    const layer: ConvShape = { batch: s.images, inChannels: c, outChannels: out, size: side, kernel, stride: 2, padding: Math.floor(kernel / 2) };
    [c, side] = [out, convOutSize(layer)];
    return layer;
  });
}

/** Rows of the flattened conv output (fc's input width). */
export function flattenedWidth(layers: readonly ConvShape[]): number {
  const last = layers.at(-1)!;
  return last.outChannels * convOutSize(last) ** 2;
}

/** FLOPs of one forward pass of the energy over `images` rows (conv layers and both fc layers). */
export function imageForwardFlops(layers: readonly ConvShape[], images: number): number {
  const flat = flattenedWidth(layers);
  const perRow = layers.reduce((f, l) => f + convFlops(l), 0) / layers[0]!.batch;
  return images * perRow + 2 * images * (flat * HIDDEN + HIDDEN);
}

function flopsOf(s: ImageLangevinShape): number {
  return 2 * imageForwardFlops(imageConvLayers(s), s.images) * s.steps;
}

// IMAGE_DEFAULTS names its activation; the peers below spell out SiLU, so refuse anything else
// rather than time a different network than ours.
if (D.activation !== 'silu') throw new Error(`bench/image-langevin: the peers implement SiLU; IMAGE_DEFAULTS.activation is '${D.activation}'`);

/** The image energy in tfjs (NHWC, weights HWIO), PyTorch's init bounds: E(x) per row, [n]. */
export function tfjsImageEnergy(tf: Tf, layers: readonly ConvShape[], seed: number) {
  const u = (shape: number[], fanIn: number, s: number) => tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), 'float32', s));
  const k = D.kernelSize;
  const convs = layers.map((l, i) => {
    const fanIn = l.inChannels * k * k;
    return { w: u([k, k, l.inChannels, l.outChannels], fanIn, seed + 2 * i), b: u([l.outChannels], fanIn, seed + 1 + 2 * i) };
  });
  const flat = flattenedWidth(layers);
  const fc = [u([flat, HIDDEN], flat, seed + 20), u([HIDDEN], flat, seed + 21), u([HIDDEN, 1], HIDDEN, seed + 22), u([1], HIDDEN, seed + 23)];
  const p = layers[0]!.padding;
  const pad = [
    [0, 0],
    [p, p],
    [p, p],
    [0, 0],
  ] as [[number, number], [number, number], [number, number], [number, number]];
  const silu = (z: Tensor) => tf.mul(z, tf.sigmoid(z));
  const energies = (x: Tensor) => {
    let h = x as Tensor4D;
    for (const { w, b } of convs) h = silu(tf.fused.conv2d({ x: h, filter: w as unknown as Tensor4D, bias: b, strides: 2, pad })) as Tensor4D;
    const z = silu(tf.fused.matMul({ a: tf.reshape(h, [h.shape[0], flat]), b: fc[0]!, bias: fc[1]! }));
    return tf.reshape(tf.fused.matMul({ a: z, b: fc[2]!, bias: fc[3]! }), [-1]);
  };
  return { energies, params: [...convs.flatMap(({ w, b }) => [w, b]), ...fc] };
}

/** One clamped Langevin step in tfjs (tf.grad of the summed energy), x consumed. */
export function tfjsLangevinStep(tf: Tf, energies: (x: Tensor) => Tensor) {
  const gradOf = tf.grad((x: Tensor) => tf.sum(energies(x)));
  const { stepSize, noiseStd, min, max } = IMAGE_CHAIN;
  return (x: Tensor, seed: number): Tensor => {
    const next = tf.tidy(() => tf.clipByValue(tf.add(tf.sub(x, tf.mul(gradOf(x), stepSize)), tf.mul(tf.randomNormal(x.shape, 0, 1, 'float32', seed), noiseStd)), min, max));
    x.dispose();
    return next;
  };
}

/** The image energy in jax-js (NCHW, weights OIHW, fc W as [in, out]): params and E(params, x) [n]. */
export function jaxImageEnergy(jax: Jax, layers: readonly ConvShape[], seed: number) {
  const { numpy: np, nn, lax } = jax;
  const k = D.kernelSize;
  const flat = flattenedWidth(layers);
  const params = [
    ...layers.flatMap((l, i) => jaxLayer(jax, [l.outChannels, l.inChannels, k, k], l.inChannels * k * k, l.outChannels, seed + 2 * i)),
    ...jaxLayer(jax, [flat, HIDDEN], flat, HIDDEN, seed + 20),
    ...jaxLayer(jax, [HIDDEN, 1], HIDDEN, 1, seed + 22),
  ];
  const p = layers[0]!.padding;
  const energies = (ps: JaxArray[], x: JaxArray) => {
    let h = x;
    layers.forEach((l, i) => {
      const z = lax.convGeneralDilated(h, ps[2 * i]!, [2, 2], [
        [p, p],
        [p, p],
      ]);
      h = nn.silu(z.add(ps[2 * i + 1]!.reshape([1, l.outChannels, 1, 1])));
    });
    const n = 2 * layers.length;
    const z = nn.silu(np.matmul(h.reshape([-1, flat]), ps[n]!).add(ps[n + 1]!));
    return np.matmul(z, ps[n + 2]!).add(ps[n + 3]!).reshape([-1]);
  };
  return { params, energies };
}

/** The jitted clamped Langevin step of jax-nets.ts for the image chain. */
export function jaxImageLangevinStep(jax: Jax, energies: (ps: JaxArray[], x: JaxArray) => JaxArray) {
  const { stepSize, noiseStd, min, max } = IMAGE_CHAIN;
  return jaxLangevinStep(jax, energies, stepSize, noiseStd, { min, max });
}

/**
 * A conv case's jax-js side, or null where it is too slow to time here (jax-peer.ts's
 * jaxConvSkipReason): the case's name then carries the reason, so the table and the JSON line
 * say why its jax columns are empty (the runner takes a null workload as "no equivalent").
 */
export function jaxUnlessTooSlow(c: BenchCase, make: () => Workload<JaxArray>): Workload<JaxArray> {
  const why = c.flops === null ? null : jaxConvSkipReason(c.flops, ebm.getDevice().info.description);
  if (!why) return make();
  if (!c.name.includes(why)) c.name = `${c.name} (${why})`;
  return null as unknown as Workload<JaxArray>;
}

function imageLangevinCase(s: ImageLangevinShape): BenchCase {
  const { images, channels, size, steps } = s;
  const layers = imageConvLayers(s);
  const { min, max } = IMAGE_CHAIN;
  const c: BenchCase = {
    name: `${images}x[${channels},${size},${size}] x${steps} conv ${s.convChannels.join(',')}`,
    flops: flopsOf(s),
    steps,
    ours: () => {
      const model = new ebm.ConvEnergyModel({ inputChannels: channels, imageSize: size, channels: s.convChannels, kernelSize: D.kernelSize, activation: D.activation as never, seed: 1 });
      const sampler = new ebm.LangevinDynamics(model, {
        stepSize: D.stepSize,
        noiseScale: D.noiseStd / Math.sqrt(2 * D.stepSize),
        clamp: { min, max },
      });
      const x0 = ebm.rand([images, channels, size, size], { low: min, high: max, seed: 2 });
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
      const { energies, params } = tfjsImageEnergy(tf, layers, 10);
      const step = tfjsLangevinStep(tf, energies);
      const x0 = tf.randomUniform([images, size, size, channels], min, max, 'float32', 2);
      let seed = 0;
      return {
        run: () => {
          let x = x0.clone();
          for (let t = 0; t < steps; t++) x = step(x, seed++);
          return x;
        },
        dispose: () => tf.dispose([x0, ...params]),
      };
    },
    jax: (jax) => jaxUnlessTooSlow(c, () => {
      const { random } = jax;
      const { params, energies } = jaxImageEnergy(jax, layers, 10);
      const step = jaxImageLangevinStep(jax, energies);
      const x0 = random.uniform(random.key(2), [images, channels, size, size], { minval: min, maxval: max });
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
    }),
  };
  return c;
}

export function imageLangevinSuite(shapes: readonly ImageLangevinShape[] = IMAGE_LANGEVIN_SHAPES): Suite {
  return { name: 'image-langevin', missing: () => null, cases: () => shapes.map(imageLangevinCase) };
}
