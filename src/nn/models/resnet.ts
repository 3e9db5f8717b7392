// The seed's residual models. ResidualBlock: `block` = Sequential(Linear(dim, dim), act,
// Linear(dim, dim)) and forward x + block(x) (no activation after the sum; the seed keeps the
// activation as `activation` too). ResNetEnergyModel: `input_proj` = Sequential(Linear(inputDim,
// hiddenDim), act), `blocks` = ModuleList of nBlocks ResidualBlocks, `output_proj` =
// Linear(hiddenDim, 1); E(x) = output_proj(blocks(input_proj(x))).squeeze(-1), shape [batch].
// One activation module (default ReLU) is shared by every layer, as the seed's default argument is.
import type { Tensor } from '../../tensor/index.js';
import { deriveSeed } from '../init.js';
import { ReLU } from '../layers/activation.js';
import { ModuleList, Sequential } from '../layers/container.js';
import { Linear } from '../layers/linear.js';
import { Module } from '../module.js';
import { BaseEnergyFunction } from '../energy.js';
import { checkInputShape, checkOptions, checkPositiveInt, checkSeed, layerSeed, resolveActivation, type ActivationSpec } from './common.js';

export interface ResidualBlockOptions {
  dim: number;
  /** A module or a name; default ReLU. */
  activation?: ActivationSpec;
  /** Seeds the two layers' initial weights; without one they come from the global generator. */
  seed?: number;
}

export class ResidualBlock extends Module {
  readonly dim: number;
  readonly block: Sequential;
  readonly activation: Module;

  constructor(opts: ResidualBlockOptions) {
    super();
    const cls = 'ResidualBlock';
    checkOptions(cls, opts, 'dim, activation, seed');
    checkPositiveInt(cls, 'dim', opts.dim);
    checkSeed(cls, opts.seed);
    const activation = resolveActivation(cls, opts.activation, () => new ReLU());
    this.dim = opts.dim;
    this.block = this.registerModule('block', new Sequential(new Linear(opts.dim, opts.dim, { seed: layerSeed(opts.seed, 0) }), activation, new Linear(opts.dim, opts.dim, { seed: layerSeed(opts.seed, 1) })));
    this.activation = this.registerModule('activation', activation);
  }

  /** x + block(x), for x [batch, dim]. */
  override forward(x: Tensor): Tensor {
    checkInputShape('ResidualBlock', x, ['batch', this.dim]);
    return x.add(this.block.forward(x));
  }

  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

export interface ResNetEnergyModelOptions {
  inputDim: number;
  /** Default 128. */
  hiddenDim?: number;
  /** Default 4. */
  nBlocks?: number;
  /** A module (shared by every layer) or a name; default ReLU. */
  activation?: ActivationSpec;
  /** Seeds the layers' initial weights; without one they come from the global generator. */
  seed?: number;
}

export class ResNetEnergyModel extends BaseEnergyFunction {
  readonly inputDim: number;
  readonly hiddenDim: number;
  readonly nBlocks: number;
  readonly input_proj: Sequential;
  readonly blocks: ModuleList;
  readonly output_proj: Linear;

  constructor(opts: ResNetEnergyModelOptions) {
    super();
    const cls = 'ResNetEnergyModel';
    checkOptions(cls, opts, 'inputDim, hiddenDim, nBlocks, activation, seed');
    const { inputDim, hiddenDim = 128, nBlocks = 4, seed } = opts;
    checkPositiveInt(cls, 'inputDim', inputDim);
    checkPositiveInt(cls, 'hiddenDim', hiddenDim);
    if (!Number.isInteger(nBlocks) || nBlocks < 0) throw new Error(`${cls}: nBlocks must be a non-negative integer, got ${String(nBlocks)}`);
    checkSeed(cls, seed);
    const activation = resolveActivation(cls, opts.activation, () => new ReLU());
    this.inputDim = inputDim;
    this.hiddenDim = hiddenDim;
    this.nBlocks = nBlocks;
    this.input_proj = this.registerModule('input_proj', new Sequential(new Linear(inputDim, hiddenDim, { seed: layerSeed(seed, 0) }), activation));
    this.blocks = this.registerModule(
      'blocks',
      new ModuleList(Array.from({ length: nBlocks }, (_, i) => new ResidualBlock({ dim: hiddenDim, activation, seed: deriveSeed(seed, 3000 + i) }))),
    );
    this.output_proj = this.registerModule('output_proj', new Linear(hiddenDim, 1, { seed: layerSeed(seed, 1) }));
  }

  /** E(x) for x [batch, inputDim]: shape [batch]. */
  override forward(x: Tensor): Tensor {
    checkInputShape('ResNetEnergyModel', x, ['batch', this.inputDim]);
    let h = this.input_proj.forward(x);
    for (const block of this.blocks) h = block.forward(h);
    return this.output_proj.forward(h).squeeze(-1);
  }

  override extraRepr(): string {
    return `input_dim=${this.inputDim}, hidden_dim=${this.hiddenDim}, n_blocks=${this.nBlocks}`;
  }
}
