// The seed's "Custom Model Example" (Best Practices for Custom Models), shipped as an example:
// `network` = Sequential(Linear(inputDim, hiddenDim), SiLU, Linear(hiddenDim, hiddenDim), SiLU,
// Linear(hiddenDim, 1)), every weight orthogonal (init.orthogonal_) and every bias zero;
// E(x) = network(x).squeeze(-1), shape [batch]. A template for your own models: subclass
// BaseEnergyFunction, register submodules under PyTorch's names, validate the input, return [batch].
import type { Tensor } from '../../tensor/index.js';
import { orthogonal_, zeros_ } from '../init.js';
import { SiLU } from '../layers/activation.js';
import { Sequential } from '../layers/container.js';
import { Linear } from '../layers/linear.js';
import { BaseEnergyFunction } from '../energy.js';
import { runsAsDefinedBy, type PlainMlp } from '../module.js';
import { checkInputShape, checkOptions, checkPositiveInt, checkSeed, layerSeed } from './common.js';

export interface CustomEnergyModelOptions {
  inputDim: number;
  /** Default 128. */
  hiddenDim?: number;
  /** Seeds the orthogonal weights; without one they come from the global generator. */
  seed?: number;
}

export class CustomEnergyModel extends BaseEnergyFunction {
  readonly inputDim: number;
  readonly hiddenDim: number;
  readonly network: Sequential;

  constructor(opts: CustomEnergyModelOptions) {
    super();
    const cls = 'CustomEnergyModel';
    checkOptions(cls, opts, 'inputDim, hiddenDim, seed');
    const { inputDim, hiddenDim = 128, seed } = opts;
    checkPositiveInt(cls, 'inputDim', inputDim);
    checkPositiveInt(cls, 'hiddenDim', hiddenDim);
    checkSeed(cls, seed);
    this.inputDim = inputDim;
    this.hiddenDim = hiddenDim;
    this.network = this.registerModule(
      'network',
      new Sequential(new Linear(inputDim, hiddenDim, { seed: layerSeed(seed, 0) }), new SiLU(), new Linear(hiddenDim, hiddenDim, { seed: layerSeed(seed, 1) }), new SiLU(), new Linear(hiddenDim, 1, { seed: layerSeed(seed, 2) })),
    );
    // Initialize weights properly (the seed's words): orthogonal weights, zero biases.
    let i = 0;
    for (const m of this.modules())
      if (m instanceof Linear) {
        orthogonal_(m.weight, 1, { seed: layerSeed(seed, 100 + i++) });
        if (m.bias) zeros_(m.bias);
      }
  }

  /** E(x) for x [batch, inputDim]: shape [batch]. */
  override forward(x: Tensor): Tensor {
    checkInputShape('CustomEnergyModel', x, ['batch', this.inputDim]);
    return this.network.forward(x).squeeze(-1);
  }

  /** network's layers (its forward is network(x).squeeze(-1)); null where forward() or gradient() is replaced. */
  override asPlainMlp(): PlainMlp | null {
    return runsAsDefinedBy(this, CustomEnergyModel, ['forward', 'gradient']) ? this.network.asPlainMlp() : null;
  }

  override extraRepr(): string {
    return `input_dim=${this.inputDim}, hidden_dim=${this.hiddenDim}`;
  }
}
