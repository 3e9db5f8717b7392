// The conv2d shapes shared by the forward and backward suites: the first layers of a small
// image EBM (CIFAR-sized input, then a strided downsampling layer), with their FLOP counts
// and inputs in each library's layout (ours NCHW / OIHW like PyTorch, tfjs NHWC / HWIO).
import * as ebm from '../src/index.js';
import type { Tensor1D, Tensor4D } from '@tensorflow/tfjs';
import type { Tf } from './tfjs-peer.js';

export interface ConvShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  /** Input height = width. */
  size: number;
  kernel: number;
  stride: number;
  padding: number;
}

export const CONV_SHAPES: readonly ConvShape[] = [
  { batch: 16, inChannels: 3, outChannels: 32, size: 32, kernel: 3, stride: 1, padding: 1 },
  { batch: 16, inChannels: 32, outChannels: 64, size: 16, kernel: 3, stride: 2, padding: 1 },
  // Issue 12's table: an MNIST image EBM's layers (a Cin = 1 first layer, then stride-2
  // downsampling) at a Langevin batch of 128, and two small stride-1 layers.
  { batch: 128, inChannels: 1, outChannels: 32, size: 28, kernel: 3, stride: 2, padding: 1 },
  { batch: 128, inChannels: 32, outChannels: 64, size: 14, kernel: 3, stride: 2, padding: 1 },
  { batch: 128, inChannels: 64, outChannels: 128, size: 7, kernel: 3, stride: 2, padding: 1 },
  { batch: 64, inChannels: 16, outChannels: 32, size: 16, kernel: 3, stride: 1, padding: 1 },
  { batch: 32, inChannels: 16, outChannels: 32, size: 24, kernel: 3, stride: 1, padding: 1 },
  { batch: 8, inChannels: 64, outChannels: 64, size: 12, kernel: 3, stride: 1, padding: 1 },
];

export const convOutSize = (s: ConvShape): number => Math.floor((s.size + 2 * s.padding - s.kernel) / s.stride) + 1;

export const convName = (s: ConvShape): string =>
  `b${s.batch} ${s.inChannels}->${s.outChannels} ${s.size}x${s.size} k${s.kernel} s${s.stride} p${s.padding}`;

/** FLOPs of one pass (forward, data gradient and weight gradient each cost this). */
export function convFlops(s: ConvShape): number {
  const o = convOutSize(s);
  return 2 * s.batch * s.outChannels * o * o * s.inChannels * s.kernel * s.kernel;
}

export interface OursConvInputs {
  x: ebm.Tensor;
  w: ebm.Tensor;
  b: ebm.Tensor;
  /** A gradient of the output's shape, for backward. */
  dy: ebm.Tensor;
}

export function oursConvInputs(s: ConvShape, requiresGrad = false): OursConvInputs {
  const o = convOutSize(s);
  const std = 1 / Math.sqrt(s.inChannels * s.kernel * s.kernel);
  return {
    x: ebm.randn([s.batch, s.inChannels, s.size, s.size], { seed: 1, requiresGrad }),
    w: ebm.randn([s.outChannels, s.inChannels, s.kernel, s.kernel], { seed: 2, std, requiresGrad }),
    b: ebm.randn([s.outChannels], { seed: 3, std }),
    dy: ebm.randn([s.batch, s.outChannels, o, o], { seed: 4 }),
  };
}

/** Explicit [[0,0],[top,bottom],[left,right],[0,0]] padding, as tfjs takes it. */
export type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

export function tfjsConvInputs(tf: Tf, s: ConvShape) {
  const o = convOutSize(s);
  const std = 1 / Math.sqrt(s.inChannels * s.kernel * s.kernel);
  return {
    x: tf.randomNormal([s.batch, s.size, s.size, s.inChannels], 0, 1, 'float32', 1) as Tensor4D,
    w: tf.randomNormal([s.kernel, s.kernel, s.inChannels, s.outChannels], 0, std, 'float32', 2) as Tensor4D,
    b: tf.randomNormal([s.outChannels], 0, std, 'float32', 3) as Tensor1D,
    dy: tf.randomNormal([s.batch, o, o, s.outChannels], 0, 1, 'float32', 4) as Tensor4D,
    /** PyTorch's symmetric padding, spelled out (tfjs's 'same' pads asymmetrically when strided). */
    pad: [[0, 0], [s.padding, s.padding], [s.padding, s.padding], [0, 0]] as ExplicitPadding,
  };
}
