// Pointwise activation modules (torch.nn.ReLU and friends). Those the linear kernel's epilogue
// computes report it through epilogue(), so Sequential can fuse them into the Linear before them.
import { type Activation, Tensor } from '../../tensor/index.js';
import { Module } from '../module.js';

/** The linear epilogue equivalent to an activation module. */
export interface Epilogue {
  activation: Activation;
  negativeSlope?: number;
}

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
    return { activation: 'relu' };
  }
}

export class LeakyReLU extends ActivationModule {
  constructor(readonly negativeSlope = 0.01) {
    super();
    checkNumber('LeakyReLU', 'negativeSlope', negativeSlope);
  }
  protected apply_(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
  override epilogue(): Epilogue {
    return { activation: 'leakyRelu', negativeSlope: this.negativeSlope };
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
    return { activation: 'silu' };
  }
}

export class Tanh extends ActivationModule {
  protected apply_(x: Tensor): Tensor {
    return x.tanh();
  }
  override epilogue(): Epilogue {
    return { activation: 'tanh' };
  }
}

export class Sigmoid extends ActivationModule {
  protected apply_(x: Tensor): Tensor {
    return x.sigmoid();
  }
  override epilogue(): Epilogue {
    return { activation: 'sigmoid' };
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
    return this.approximate === 'none' ? { activation: 'gelu' } : null;
  }
  override extraRepr(): string {
    return this.approximate === 'none' ? '' : `approximate='tanh'`;
  }
}

export class ELU extends ActivationModule {
  constructor(readonly alpha = 1) {
    super();
    checkNumber('ELU', 'alpha', alpha);
  }
  protected apply_(x: Tensor): Tensor {
    return x.elu(this.alpha);
  }
  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}

/** PyTorch's softplus: log(1 + exp(beta x)) / beta, linear where beta x > threshold. */
export class Softplus extends ActivationModule {
  constructor(
    readonly beta = 1,
    readonly threshold = 20,
  ) {
    super();
    checkNumber('Softplus', 'beta', beta);
    checkNumber('Softplus', 'threshold', threshold);
    if (beta === 0) throw new Error('Softplus: beta must be non-zero');
  }
  protected apply_(x: Tensor): Tensor {
    return x.softplus(this.beta, this.threshold);
  }
  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

/** The activation modules that Sequential fuses into a preceding Linear (exact classes only). */
export const FUSABLE_ACTIVATIONS: ReadonlySet<Function> = new Set([ReLU, LeakyReLU, SiLU, Tanh, Sigmoid, GELU]);

/** The epilogue for `m` when it is one of the fusable activation classes (not a subclass), else null. */
export function fusableEpilogue(m: Module | null | undefined): Epilogue | null {
  if (!m || !FUSABLE_ACTIVATIONS.has(m.constructor)) return null;
  return (m as ActivationModule).epilogue();
}
