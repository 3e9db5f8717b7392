// MLPEnergyModel: the seed's BaseModel trunk (`activation`, `network`) plus `output_layer` =
// Linear(hiddenDims.at(-1), 1); E(x) = output_layer(network(x)).squeeze(-1), shape [batch].
//
// useSpectralNorm wraps every Linear (network's and output_layer) with spectralNorm, which is
// what the seed's _apply_spectral_norm means: torch.nn.utils.spectral_norm(module) changes the
// module in place. (As written, the seed's loop raises "dictionary changed size during
// iteration" in PyTorch, because its setattr(self, 'network.0', ...) adds an alias submodule
// while named_modules() walks the dict; with the walk materialised first it runs, and the
// aliases add no state-dict keys. scripts/make_zoo_fixtures.py checks both.) The state dict is
// then network.0.bias, network.0.weight_orig, network.0.weight_u, network.0.weight_v, ...,
// output_layer.bias, output_layer.weight_orig, output_layer.weight_u, output_layer.weight_v.
//
// TypeScript has single inheritance and every zoo energy is a BaseEnergyFunction, so this class
// extends BaseEnergyFunction and builds the same trunk as BaseModel (same members, same keys);
// `features(x)` is what the seed's `super().forward(x)` computes.
import type { Tensor } from '../../tensor/index.js';
import { deriveSeed } from '../init.js';
import { Linear } from '../layers/linear.js';
import type { Sequential } from '../layers/container.js';
import { runsAsDefinedBy, type Module, type PlainMlp } from '../module.js';
import { BaseEnergyFunction } from '../energy.js';
import { spectralNorm } from '../spectral-norm.js';
import { buildTrunk, type BaseModelOptions } from './base-model.js';
import { checkInputShape, layerSeed } from './common.js';

export interface MLPEnergyModelOptions extends BaseModelOptions {
  /** Spectral norm on every Linear (default false). */
  useSpectralNorm?: boolean;
  /** The same as useSpectralNorm (the name DESIGN.md's example uses). */
  spectralNorm?: boolean;
}

export class MLPEnergyModel extends BaseEnergyFunction {
  readonly inputDim: number;
  readonly hiddenDims: readonly number[];
  readonly useSpectralNorm: boolean;
  /** The activation module every hidden layer shares. */
  readonly activation: Module;
  readonly network: Sequential;
  readonly output_layer: Linear;

  constructor(opts: MLPEnergyModelOptions) {
    super();
    const cls = 'MLPEnergyModel';
    const { activation, network } = buildTrunk(this, cls, opts, false);
    const { useSpectralNorm, spectralNorm: sn } = opts;
    for (const [name, v] of [['useSpectralNorm', useSpectralNorm], ['spectralNorm', sn]] as const)
      if (v !== undefined && typeof v !== 'boolean') throw new Error(`${cls}: ${name} must be a boolean, got ${typeof v}`);
    if (useSpectralNorm !== undefined && sn !== undefined && useSpectralNorm !== sn)
      throw new Error(`${cls}: useSpectralNorm (${useSpectralNorm}) and spectralNorm (${sn}) disagree; give one of them`);
    this.inputDim = opts.inputDim;
    this.hiddenDims = Object.freeze([...opts.hiddenDims]);
    this.useSpectralNorm = useSpectralNorm ?? sn ?? false;
    this.activation = activation;
    this.network = network;
    this.output_layer = this.registerModule('output_layer', new Linear(opts.hiddenDims.at(-1)!, 1, { seed: layerSeed(opts.seed, opts.hiddenDims.length) }));
    if (this.useSpectralNorm) {
      let i = 0;
      for (const [, m] of this.namedModules()) if (m instanceof Linear) spectralNorm(m, { seed: deriveSeed(opts.seed, 2000 + i++) });
    }
  }

  /** The trunk's features (the seed's BaseModel.forward): [batch, hiddenDims.at(-1)]. */
  features(x: Tensor): Tensor {
    checkInputShape('MLPEnergyModel', x, ['batch', this.inputDim]);
    return this.network.forward(x);
  }

  /** E(x) for x [batch, inputDim]: shape [batch]. */
  override forward(x: Tensor): Tensor {
    return this.output_layer.forward(this.features(x)).squeeze(-1);
  }

  /**
   * network's layers then output_layer: the plain MLP the fused Langevin sampler runs. null for a
   * subclass or instance that replaces forward(), features() or gradient() (it is another energy).
   */
  override asPlainMlp(): PlainMlp | null {
    if (!runsAsDefinedBy(this, MLPEnergyModel, ['forward', 'features', 'gradient'])) return null;
    const trunk = this.network.asPlainMlp();
    return trunk && { layers: [...trunk.layers, this.output_layer] };
  }

  override extraRepr(): string {
    return `input_dim=${this.inputDim}, hidden_dims=[${this.hiddenDims.join(', ')}]${this.useSpectralNorm ? ', use_spectral_norm=True' : ''}`;
  }
}
