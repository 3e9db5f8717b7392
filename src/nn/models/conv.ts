// ConvEnergyModel, the seed's image energy: `conv_net` = Sequential(Conv2d(stride 2, padding
// kernelSize // 2), act, ...) over `channels`, then `fc` = Sequential(Flatten, Linear(C' * f * f,
// 128), act, Linear(128, 1)) with f = imageSize // 2^len(channels) (the seed's formula, which
// fixes fc.1.weight's shape); E(x) = fc(conv_net(x)).squeeze(-1), shape [batch]. Like the seed
// it takes images [batch, C, S, S] or flat rows [batch, C*S*S] (reshaped to images). One
// activation module (default LeakyReLU(0.2)) is shared by every layer and registered as
// `activation` first, as the seed's `self.activation` is.
import type { Tensor } from '../../tensor/index.js';
import { Conv2d } from '../layers/conv.js';
import { LeakyReLU } from '../layers/activation.js';
import { Sequential } from '../layers/container.js';
import { Flatten } from '../layers/flatten.js';
import { Linear } from '../layers/linear.js';
import type { Module } from '../module.js';
import { BaseEnergyFunction } from '../energy.js';
import { checkDims, checkInputShape, checkOptions, checkPositiveInt, checkSeed, layerSeed, resolveActivation, type ActivationSpec } from './common.js';

export interface ConvEnergyModelOptions {
  inputChannels: number;
  /** The images' height and width (square). */
  imageSize: number;
  /** Output channels of each stride-2 convolution (default [32, 64, 128, 256]). */
  channels?: readonly number[];
  /** Default 3; padding is kernelSize // 2. */
  kernelSize?: number;
  /** A module (shared by every layer) or a name; default LeakyReLU(0.2). */
  activation?: ActivationSpec;
  /** Seeds the layers' initial weights; without one they come from the global generator. */
  seed?: number;
}

export class ConvEnergyModel extends BaseEnergyFunction {
  readonly inputChannels: number;
  readonly imageSize: number;
  readonly channels: readonly number[];
  readonly kernelSize: number;
  /** The side of conv_net's output maps (imageSize // 2^channels.length). */
  readonly featureSize: number;
  readonly activation: Module;
  readonly conv_net: Sequential;
  readonly fc: Sequential;

  constructor(opts: ConvEnergyModelOptions) {
    super();
    const cls = 'ConvEnergyModel';
    checkOptions(cls, opts, 'inputChannels, imageSize, channels, kernelSize, activation, seed');
    const { inputChannels, imageSize, channels = [32, 64, 128, 256], kernelSize = 3, seed } = opts;
    checkPositiveInt(cls, 'inputChannels', inputChannels);
    checkPositiveInt(cls, 'imageSize', imageSize);
    checkDims(cls, 'channels', channels, false);
    checkPositiveInt(cls, 'kernelSize', kernelSize);
    checkSeed(cls, seed);
    this.inputChannels = inputChannels;
    this.imageSize = imageSize;
    this.channels = Object.freeze([...channels]);
    this.kernelSize = kernelSize;
    const padding = Math.floor(kernelSize / 2);
    // The seed sizes fc from imageSize // 2^n; the convolutions give ceil-like sizes, so the two
    // agree only for some sizes (powers of two with an odd kernel). Refuse the others here, where
    // PyTorch's class would fail at its first forward.
    this.featureSize = Math.floor(imageSize / 2 ** channels.length);
    let side = imageSize;
    const sides: number[] = [];
    for (let i = 0; i < channels.length; i++) {
      side = Math.floor((side + 2 * padding - kernelSize) / 2) + 1;
      sides.push(side);
    }
    if (this.featureSize < 1 || side !== this.featureSize)
      throw new Error(
        `${cls}: imageSize ${imageSize} with ${channels.length} stride-2 convolutions (kernelSize ${kernelSize}, padding ${padding}) gives ${side}x${side} feature maps ` +
          `(sizes ${sides.join(' -> ')}), but the seed's fc layer expects imageSize // 2^${channels.length} = ${this.featureSize}; ` +
          `use an imageSize divisible by ${2 ** channels.length} with an odd kernelSize, or fewer channels`,
      );
    this.activation = this.registerModule('activation', resolveActivation(cls, opts.activation, () => new LeakyReLU(0.2)));
    const layers: Module[] = [];
    let inC = inputChannels;
    channels.forEach((outC, i) => {
      layers.push(new Conv2d(inC, outC, kernelSize, { stride: 2, padding, seed: layerSeed(seed, i) }), this.activation);
      inC = outC;
    });
    this.conv_net = this.registerModule('conv_net', new Sequential(...layers));
    const n = channels.length;
    this.fc = this.registerModule(
      'fc',
      new Sequential(new Flatten(), new Linear(inC * this.featureSize * this.featureSize, 128, { seed: layerSeed(seed, n) }), this.activation, new Linear(128, 1, { seed: layerSeed(seed, n + 1) })),
    );
  }

  /** E(x) for images [batch, C, S, S] or flat rows [batch, C*S*S]: shape [batch]. */
  override forward(x: Tensor): Tensor {
    const [c, s] = [this.inputChannels, this.imageSize];
    checkInputShape('ConvEnergyModel', x, ['batch', c, s, s], ['batch', c * s * s]);
    const images = x.rank === 2 ? x.reshape([x.shape[0]!, c, s, s]) : x;
    return this.fc.forward(this.conv_net.forward(images)).squeeze(-1);
  }

  override extraRepr(): string {
    return `input_channels=${this.inputChannels}, image_size=${this.imageSize}, channels=[${this.channels.join(', ')}], kernel_size=${this.kernelSize}`;
  }
}
