// Pointwise activation modules (torch.nn.ReLU and friends), one per row of the activation table
// (ACTIVATION_MODULES; the class names are the table's PyTorch names). Each reports the linear
// epilogue that computes it through epilogue(), so Sequential can fuse it into the Linear before
// it. Parameter defaults are the table's (PyTorch's).
import { ACTIVATION_TABLE, type Activation, defaultActivationParam, type NonlinearActivation, Tensor } from '../../tensor/index.js';
import { Module } from '../module.js';

/** The linear epilogue equivalent to an activation module. */
export interface Epilogue {
  activation: Activation;
  /** The activation's first parameter (leakyRelu's negative slope, elu's alpha, softplus's beta); 0 for one without. */
  param: number;
}

function epilogueOf(activation: Activation, param = defaultActivationParam(activation)): Epilogue {
  return { activation, param };
}

const [LEAKY_RELU_SLOPE] = ACTIVATION_TABLE.leakyRelu.params;
const [ELU_ALPHA] = ACTIVATION_TABLE.elu.params;
const [SOFTPLUS_BETA, SOFTPLUS_THRESHOLD] = ACTIVATION_TABLE.softplus.params;

function checkInput(mod: Module, x: Tensor): void {
  if (!(x instanceof Tensor)) throw new Error(`${mod.constructor.name}: expected a Tensor input, got ${x === null ? 'null' : typeof x}`);
}

function checkNumber(cls: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${cls}: ${name} must be a finite number, got ${String(v)}`);
}

/** Base of the activation modules: no parameters, shape in = shape out. */
export abstract class ActivationModule extends Module {
  /** The activation itself. */
  protected abstract apply_(x: Tensor): Tensor;

  /** What ebm.linear's fused epilogue computes for this activation, or null if it cannot. */
  epilogue(): Epilogue | null {
    return null;
  }

  override forward(x: Tensor): Tensor {
    checkInput(this, x);
    return this.apply_(x);
  }
}

export class ReLU extends ActivationModule {
  protected apply_(x: Tensor): Tensor {
    return x.relu();
  }
  override epilogue(): Epilogue {
    return epilogueOf('relu');
  }
}

export class LeakyReLU extends ActivationModule {
  constructor(readonly negativeSlope: number = LEAKY_RELU_SLOPE.default) {
    super();
    checkNumber('LeakyReLU', 'negativeSlope', negativeSlope);
  }
  protected apply_(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
  override epilogue(): Epilogue {
    return epilogueOf('leakyRelu', this.negativeSlope);
  }
  override extraRepr(): string {
    return `negative_slope=${this.negativeSlope}`;
  }
}

export class SiLU extends ActivationModule {
  protected apply_(x: Tensor): Tensor {
    return x.silu();
  }
  override epilogue(): Epilogue {
    return epilogueOf('silu');
  }
}

export class Tanh extends ActivationModule {
  protected apply_(x: Tensor): Tensor {
    return x.tanh();
  }
  override epilogue(): Epilogue {
    return epilogueOf('tanh');
  }
}

export class Sigmoid extends ActivationModule {
  protected apply_(x: Tensor): Tensor {
    return x.sigmoid();
  }
  override epilogue(): Epilogue {
    return epilogueOf('sigmoid');
  }
}

/** GELU: exact (x Φ(x), the default) or torch's tanh approximation. */
export class GELU extends ActivationModule {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`GELU: approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
  }
  protected apply_(x: Tensor): Tensor {
    if (this.approximate === 'none') return x.gelu();
    // 0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))
    return x.mul(0.5).mul(x.square().mul(x).mul(0.044715).add(x).mul(Math.sqrt(2 / Math.PI)).tanh().add(1));
  }
  override epilogue(): Epilogue | null {
    return this.approximate === 'none' ? epilogueOf('gelu') : null;
  }
  override extraRepr(): string {
    return this.approximate === 'none' ? '' : `approximate='tanh'`;
  }
}

export class ELU extends ActivationModule {
  constructor(readonly alpha: number = ELU_ALPHA.default) {
    super();
    checkNumber('ELU', 'alpha', alpha);
  }
  protected apply_(x: Tensor): Tensor {
    return x.elu(this.alpha);
  }
  override epilogue(): Epilogue {
    return epilogueOf('elu', this.alpha);
  }
  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}

/**
 * PyTorch's softplus: log(1 + exp(beta x)) / beta, linear where beta x > threshold. It fuses at
 * the default threshold only (the fused kernels hold it as a constant).
 */
export class Softplus extends ActivationModule {
  constructor(
    readonly beta: number = SOFTPLUS_BETA.default,
    readonly threshold: number = SOFTPLUS_THRESHOLD.default,
  ) {
    super();
    checkNumber('Softplus', 'beta', beta);
    checkNumber('Softplus', 'threshold', threshold);
    if (beta === 0) throw new Error('Softplus: beta must be non-zero');
  }
  protected apply_(x: Tensor): Tensor {
    return x.softplus(this.beta, this.threshold);
  }
  override epilogue(): Epilogue | null {
    return this.threshold === SOFTPLUS_THRESHOLD.default ? epilogueOf('softplus', this.beta) : null;
  }
  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

/** The module class of each activation of the table, keyed by its name (`new` gives PyTorch's defaults). */
export const ACTIVATION_MODULES = {
  relu: ReLU,
  leakyRelu: LeakyReLU,
  silu: SiLU,
  tanh: Tanh,
  gelu: GELU,
  sigmoid: Sigmoid,
  elu: ELU,
  softplus: Softplus,
} as const satisfies Record<NonlinearActivation, new () => ActivationModule>;

/** The activation modules that Sequential fuses into a preceding Linear (exact classes only): one per table row. */
export const FUSABLE_ACTIVATIONS: ReadonlySet<Function> = new Set(Object.values(ACTIVATION_MODULES));

/** The epilogue for `m` when it is one of the fusable activation classes (not a subclass), else null. */
export function fusableEpilogue(m: Module | null | undefined): Epilogue | null {
  if (!m || !FUSABLE_ACTIVATIONS.has(m.constructor)) return null;
  return (m as ActivationModule).epilogue();
}
