// SGD with momentum, dampening, Nesterov, weight decay and maximize: torch.optim.SGD's update,
// one fused dispatch per parameter.
import { type Tensor } from '../../tensor/index.js';
import { sgdStep_, type UpdateGate } from '../../tensor/ops/fused/index.js';
import { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';
import { bool, nonNegative } from './validate.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  maximize: boolean;
}

const DEFAULTS: SGDOptions = { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };

export class SGD extends Optimizer<SGDOptions> {
  protected readonly reportsStep = false;

  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super('SGD', params, DEFAULTS, options);
  }

  protected checkOptions(o: SGDOptions): SGDOptions {
    const n = (k: 'lr' | 'momentum' | 'dampening' | 'weightDecay') => nonNegative('SGD', k, o[k]);
    const checked = { lr: n('lr'), momentum: n('momentum'), dampening: n('dampening'), weightDecay: n('weightDecay'), nesterov: bool('SGD', 'nesterov', o.nesterov), maximize: bool('SGD', 'maximize', o.maximize) };
    if (checked.nesterov && (checked.momentum <= 0 || checked.dampening !== 0))
      throw new Error(`SGD: option 'nesterov' needs momentum > 0 and dampening 0, got momentum ${checked.momentum}, dampening ${checked.dampening}`);
    return checked;
  }

  protected stateKeys(o: SGDOptions): readonly string[] {
    return o.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected launch(param: Tensor, grad: Tensor, state: Tensor | null, g: ParamGroup<SGDOptions>, update: { parity: number; gate: UpdateGate | null }): void {
    sgdStep_(param, grad, state, g, update);
  }
}
