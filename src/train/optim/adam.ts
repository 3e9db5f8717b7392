// Adam and AdamW: torch.optim.Adam / AdamW's update (bias-corrected moments, amsgrad,
// L2 or decoupled weight decay, maximize), one fused dispatch per parameter.
import { type Tensor } from '../../tensor/index.js';
import { adamStep_, type UpdateGate } from '../../tensor/ops/fused/index.js';
import { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';
import { betas, bool, nonNegative } from './validate.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

const ADAM_DEFAULTS: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };

/** What Adam and AdamW share; they differ in the weight decay and its default. */
export abstract class AdamBase extends Optimizer<AdamOptions> {
  protected readonly reportsStep = true;

  protected constructor(
    name: string,
    /** AdamW: weight decay scales the parameter instead of joining the gradient. */
    private readonly decoupled: boolean,
    params: ParamsInput<AdamOptions>,
    defaults: AdamOptions,
    options: Partial<AdamOptions>,
  ) {
    super(name, params, defaults, options);
  }

  protected checkOptions(o: AdamOptions): AdamOptions {
    const n = (k: 'lr' | 'eps' | 'weightDecay') => nonNegative(this.name, k, o[k]);
    return { lr: n('lr'), betas: betas(this.name, o.betas), eps: n('eps'), weightDecay: n('weightDecay'), amsgrad: bool(this.name, 'amsgrad', o.amsgrad), maximize: bool(this.name, 'maximize', o.maximize) };
  }

  protected stateKeys(o: AdamOptions): readonly string[] {
    return o.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
  }

  protected launch(param: Tensor, grad: Tensor, state: Tensor | null, g: ParamGroup<AdamOptions>, update: { parity: number; gate: UpdateGate | null }): void {
    const [beta1, beta2] = g.betas;
    adamStep_(param, grad, state!, { lr: g.lr, beta1, beta2, eps: g.eps, weightDecay: g.weightDecay, decoupled: this.decoupled, amsgrad: g.amsgrad, maximize: g.maximize }, update);
  }
}

/** Adam (Kingma & Ba) with L2 weight decay added to the gradient, as torch.optim.Adam. */
export class Adam extends AdamBase {
  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super('Adam', false, params, ADAM_DEFAULTS, options);
  }
}

/** AdamW (Loshchilov & Hutter): decoupled weight decay, 1e-2 by default, as torch.optim.AdamW. */
export class AdamW extends AdamBase {
  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super('AdamW', true, params, { ...ADAM_DEFAULTS, weightDecay: 1e-2 }, options);
  }
}
