// NeuralEnergyFunction: the seed's wrapper that makes any network an energy function. It
// registers the network as `model` (keys model.0.weight, ...) and returns model(x) as energies
// [batch]: a network that ends in Linear(..., 1) returns [batch, 1], which is squeezed (the seed
// returns it as is; the energy contract here is [batch]). Any other output shape is an error.
import { Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { BaseEnergyFunction } from '../energy.js';
import { Module, runsAsDefinedBy, type PlainMlp } from '../module.js';

export class NeuralEnergyFunction<M extends Module = Module> extends BaseEnergyFunction {
  readonly model: M;

  constructor(model: M) {
    super();
    if (!(model instanceof Module))
      throw new Error(`NeuralEnergyFunction: expected a Module (a network whose forward returns [batch] or [batch, 1]), got ${model === null ? 'null' : typeof model === 'object' ? ((model as object).constructor?.name ?? 'object') : typeof model}`);
    this.model = this.registerModule('model', model);
  }

  /**
   * The wrapped network's plain MLP, when it declares one (a Sequential of Linear layers and
   * activations does): model(x) is then [batch, 1], returned squeezed. null where forward() or
   * gradient() is replaced.
   */
  override asPlainMlp(): PlainMlp | null {
    return runsAsDefinedBy(this, NeuralEnergyFunction, ['forward', 'gradient']) ? this.model.asPlainMlp() : null;
  }

  /** model(x) as energies of shape [batch]. */
  override forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) throw new Error(`NeuralEnergyFunction: expected a Tensor input, got ${x === null ? 'null' : typeof x}`);
    if (x.rank < 1) throw new Error(`NeuralEnergyFunction: expected input of shape [batch, ...], got ${fmt(x.shape)}`);
    const y = this.model.forward(x);
    if (!(y instanceof Tensor)) throw new Error(`NeuralEnergyFunction: the model (${this.model.constructor.name}) must return a Tensor, got ${y === null ? 'null' : typeof y}`);
    const batch = x.shape[0]!;
    if (y.rank === 1 && y.shape[0] === batch) return y;
    if (y.rank === 2 && y.shape[0] === batch && y.shape[1] === 1) return y.squeeze(-1);
    throw new Error(`NeuralEnergyFunction: the model (${this.model.constructor.name}) must return energies of shape [${batch}] or [${batch}, 1] for input ${fmt(x.shape)}, got ${fmt(y.shape)}`);
  }
}
