// Conv2d: PyTorch's layout (NCHW input, weight [out, in, kh, kw], bias [out]) and
// initialisation, through ebm.conv2d (implicit GEMM; groups = 1).
import { type Activation, activationOptions, conv2d, Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { Module } from '../module.js';
import type { Parameter } from '../parameter.js';
import { checkFeatures, defaultWeightAndBias } from './linear.js';

type Pair = [number, number];

export interface Conv2dModuleOptions {
  /** Default 1. */
  stride?: number | readonly [number, number];
  /** Zeros on both sides of each spatial dim (default 0); 'valid' is 0, 'same' keeps the size (stride 1). */
  padding?: number | readonly [number, number] | 'valid' | 'same';
  /** Default 1. */
  dilation?: number | readonly [number, number];
  /** Learn an additive bias per output channel (default true). */
  bias?: boolean;
  /** Seeds the initial weight and bias; without one they come from the global generator. */
  seed?: number;
}


function pair(name: string, v: unknown, min: number): Pair {
  const p = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : null;
  if (!p || !p.every((d) => Number.isInteger(d) && d >= min))
    throw new Error(`Conv2d: ${name} must be a ${min > 0 ? 'positive' : 'non-negative'} integer or a pair [h, w] of them, got ${JSON.stringify(v)}`);
  return [p[0], p[1]];
}

export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;

  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly [number, number], opts: Conv2dModuleOptions = {}) {
    super();
    checkFeatures('Conv2d', 'inChannels', inChannels);
    checkFeatures('Conv2d', 'outChannels', outChannels);
    if (opts === null || typeof opts !== 'object') throw new Error(`Conv2d: options must be an object { stride, padding, dilation, bias, seed }, got ${String(opts)}`);
    const { bias = true, seed } = opts;
    if (typeof bias !== 'boolean') throw new Error(`Conv2d: bias must be a boolean, got ${typeof bias}`);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair('kernelSize', kernelSize, 1);
    this.stride = pair('stride', opts.stride ?? 1, 1);
    this.dilation = pair('dilation', opts.dilation ?? 1, 1);
    const padding = opts.padding ?? 0;
    if (padding === 'valid') this.padding = [0, 0];
    else if (padding === 'same') {
      if (this.stride[0] !== 1 || this.stride[1] !== 1) throw new Error(`Conv2d: padding='same' is not supported for strided convolutions (stride ${fmt(this.stride)})`);
      const total = this.kernelSize.map((k, i) => this.dilation[i]! * (k - 1));
      if (total.some((t) => t % 2 !== 0))
        throw new Error(`Conv2d: padding='same' needs an even dilation * (kernel - 1) in each dim (got ${fmt(total)}); uneven padding is not supported, pad the input instead`);
      this.padding = [total[0]! / 2, total[1]! / 2];
    } else this.padding = pair('padding', padding, 0);
    const [kh, kw] = this.kernelSize;
    const [w, b] = defaultWeightAndBias([outChannels, inChannels, kh, kw], inChannels * kh * kw, bias, seed);
    this.registerParameter('weight', w);
    this.registerParameter('bias', b);
  }

  /** The trainable weight [out, in, kh, kw] (under spectral norm, weight_orig). */
  get weight(): Parameter {
    return this.rawParameter('weight')!;
  }

  /** The bias [out], or null. */
  get bias(): Parameter | null {
    return this.rawParameter('bias');
  }

  /** x: [N, inChannels, H, W], or one unbatched image [inChannels, H, W]. */
  override forward(x: Tensor): Tensor {
    return this.forwardActivated(x, 'none');
  }

  /**
   * act(conv(x) + b) in one fused dispatch (Sequential uses it for a Conv2d followed by an
   * activation module); `param` is the activation's first parameter (default: the table's).
   */
  forwardActivated(x: Tensor, activation: Activation = 'none', param?: number): Tensor {
    if (!(x instanceof Tensor)) throw new Error(`${this.describe()}: expected a Tensor input, got ${x === null ? 'null' : typeof x}`);
    const batched = x.rank === 4;
    if ((x.rank !== 4 && x.rank !== 3) || x.shape[x.rank - 3] !== this.inChannels)
      throw new Error(`${this.describe()}: expected input of shape [N, ${this.inChannels}, H, W] (or unbatched [${this.inChannels}, H, W]), got ${fmt(x.shape)}`);
    let w = this.param('weight')!;
    let b = this.param('bias');
    // f16 parameters (toDtype('f16')): the convolution runs in f32.
    if (w.dtype !== 'f32') w = w.to('f32');
    if (b && b.dtype !== 'f32') b = b.to('f32');
    const y = conv2d(batched ? x : x.unsqueeze(0), w, b, { stride: this.stride, padding: this.padding, dilation: this.dilation, ...activationOptions(activation, param) });
    return batched ? y : y.squeeze(0);
  }

  private describe(): string {
    return `Conv2d(${this.inChannels}, ${this.outChannels}, kernel_size=(${this.kernelSize.join(', ')}))`;
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernel_size=(${this.kernelSize.join(', ')}), stride=(${this.stride.join(', ')})`];
    if (this.padding.some((p) => p !== 0)) parts.push(`padding=(${this.padding.join(', ')})`);
    if (this.dilation.some((d) => d !== 1)) parts.push(`dilation=(${this.dilation.join(', ')})`);
    if (this.bias === null) parts.push('bias=False');
    return parts.join(', ');
  }
}
