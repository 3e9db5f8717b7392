// BaseModel, the seed's base of the MLP models: `network` = Sequential(Linear, act, Linear,
// act, ...), one Linear + activation per hidden dim, every one sharing the same activation
// module (registered as `activation` too, as the seed's `self.activation` is). Its forward is
// the feature map [batch, inputDim] -> [batch, hiddenDims.at(-1)], not an energy; Sequential
// runs each Linear + activation pair as one fused ebm.linear dispatch.
import type { Tensor } from '../../tensor/index.js';
import { ReLU } from '../layers/activation.js';
import { Sequential } from '../layers/container.js';
import { Linear } from '../layers/linear.js';
import { Module } from '../module.js';
import { checkDims, checkInputShape, checkOptions, checkPositiveInt, checkSeed, layerSeed, resolveActivation, type ActivationSpec } from './common.js';

export interface BaseModelOptions {
  inputDim: number;
  /** One Linear + activation per entry (empty: the identity). */
  hiddenDims: readonly number[];
  /** A module (shared by every layer) or a name; default ReLU. */
  activation?: ActivationSpec;
  /** Seeds the layers' initial weights; without one they come from the global generator. */
  seed?: number;
}

/** The trunk BaseModel and MLPEnergyModel share: registers `activation` and `network` on `owner`, in the seed's order. */
export function buildTrunk(owner: Module, cls: string, opts: BaseModelOptions, allowEmpty: boolean): { activation: Module; network: Sequential } {
  checkOptions(cls, opts, 'inputDim, hiddenDims, activation, seed');
  checkPositiveInt(cls, 'inputDim', opts.inputDim);
  checkDims(cls, 'hiddenDims', opts.hiddenDims, allowEmpty);
  checkSeed(cls, opts.seed);
  const activation = owner.registerModule('activation', resolveActivation(cls, opts.activation, () => new ReLU()));
  const layers: Module[] = [];
  let prev = opts.inputDim;
  opts.hiddenDims.forEach((dim, i) => {
    layers.push(new Linear(prev, dim, { seed: layerSeed(opts.seed, i) }), activation);
    prev = dim;
  });
  const network = owner.registerModule('network', new Sequential(...layers));
  return { activation, network };
}

export class BaseModel extends Module {
  readonly inputDim: number;
  readonly hiddenDims: readonly number[];
  /** The activation module every layer shares (state-dict free). */
  readonly activation: Module;
  /** Linear, activation, Linear, activation, ...: keys network.0.weight, network.0.bias, network.2.weight, ... */
  readonly network: Sequential;

  constructor(opts: BaseModelOptions) {
    super();
    const { activation, network } = buildTrunk(this, 'BaseModel', opts, true);
    this.inputDim = opts.inputDim;
    this.hiddenDims = Object.freeze([...opts.hiddenDims]);
    this.activation = activation;
    this.network = network;
  }

  /** The features of x [batch, inputDim]: [batch, hiddenDims.at(-1)] (x itself when hiddenDims is empty). */
  override forward(x: Tensor): Tensor {
    checkInputShape('BaseModel', x, ['batch', this.inputDim]);
    return this.network.forward(x);
  }

  override extraRepr(): string {
    return `input_dim=${this.inputDim}, hidden_dims=[${this.hiddenDims.join(', ')}]`;
  }
}
