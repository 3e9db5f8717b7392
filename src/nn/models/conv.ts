// ConvEnergyModel, the seed's image energy: `conv_net` = Sequential(Conv2d(stride 2, padding
// kernelSize // 2), act, ...) over `channels`, then `fc` = Sequential(Flatten, Linear(C' * f * f,
// 128), act, Linear(128, 1)) with f the side of conv_net's output (the seed's imageSize //
// 2^len(channels) where that is right; see the constructor); E(x) = fc(conv_net(x)).squeeze(-1),
// shape [batch]. Each Conv2d + activation pair runs as one fused conv dispatch (Sequential). Like the seed
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
  /** The side of conv_net's output maps, from the conv arithmetic (the seed's imageSize // 2^n where that is right). */
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
    // fc's input is sized from the convolutions' true output, floor((s + 2p - k) / 2) + 1 per
    // layer. The seed writes imageSize // 2^n, which is the same for powers of two with an odd
    // kernel but wrong whenever a stride-2 layer rounds up (28 with three layers: 14 -> 7 -> 4,
    // not 3), where the seed's PyTorch class fails at its first forward.
    let side = imageSize;
    for (let i = 0; i < channels.length; i++) side = Math.floor((side + 2 * padding - kernelSize) / 2) + 1;
    if (side < 1) throw new Error(`${cls}: imageSize ${imageSize} is too small for ${channels.length} stride-2 convolutions with kernelSize ${kernelSize}`);
    this.featureSize = side;
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
