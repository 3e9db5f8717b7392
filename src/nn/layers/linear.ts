// Linear: y = x Wᵀ + b with PyTorch's layout (weight [out, in], bias [out]) and initialisation,
// through ebm.linear: one dispatch, with an activation fused into its epilogue when Sequential
// finds one right after it (forwardActivated).
import { type Activation, activationOptions, applyActivation, linear, matmulT, rand, Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { deriveSeed } from '../init.js';
import { Module } from '../module.js';
import { Parameter } from '../parameter.js';

export interface LinearModuleOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Seeds the initial weight and bias; without one they come from the global generator. */
  seed?: number;
}

export function checkFeatures(cls: string, name: string, v: unknown): asserts v is number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`${cls}: ${name} must be a positive integer, got ${String(v)}`);
}


/**
 * torch.nn.Linear's default initialisation, made on the GPU: weight from kaiming_uniform_ with
 * a = sqrt(5), which is U(-1/sqrt(fanIn), 1/sqrt(fanIn)), and bias U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
 */
export function defaultWeightAndBias(shape: readonly number[], fanIn: number, bias: boolean, seed: number | undefined): [Parameter, Parameter | null] {
  // kaiming_uniform_(a = sqrt(5)): gain = sqrt(2 / (1 + 5)), bound = sqrt(3) * gain / sqrt(fanIn).
  const bound = (Math.sqrt(3) * Math.sqrt(2 / (1 + 5))) / Math.sqrt(fanIn);
  const biasBound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  const weight = Parameter.adopt(rand(shape, { low: -bound, high: bound, seed }));
  const b = bias ? Parameter.adopt(rand([shape[0]!], { low: -biasBound, high: biasBound, seed: deriveSeed(seed, 1) })) : null;
  return [weight, b];
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, opts: LinearModuleOptions = {}) {
    super();
    checkFeatures('Linear', 'inFeatures', inFeatures);
    checkFeatures('Linear', 'outFeatures', outFeatures);
    if (opts === null || typeof opts !== 'object') throw new Error(`Linear: options must be an object { bias, seed }, got ${String(opts)}`);
    const { bias = true, seed } = opts;
    if (typeof bias !== 'boolean') throw new Error(`Linear: bias must be a boolean, got ${typeof bias}`);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const [w, b] = defaultWeightAndBias([outFeatures, inFeatures], inFeatures, bias, seed);
    this.registerParameter('weight', w);
    this.registerParameter('bias', b);
  }

  /** The trainable weight [out, in] (under spectral norm, weight_orig). */
  get weight(): Parameter {
    return this.rawParameter('weight')!;
  }

  /** The bias [out], or null. */
  get bias(): Parameter | null {
    return this.rawParameter('bias');
  }

  override forward(x: Tensor): Tensor {
    return this.forwardActivated(x, 'none');
  }

  /**
   * act(x Wᵀ + b) in one fused dispatch (Sequential uses it for a Linear followed by an
   * activation module). x is [..., inFeatures]; `param` is the activation's first parameter
   * (leakyRelu's negative slope, elu's alpha, softplus's beta; default: the table's).
   */
  forwardActivated(x: Tensor, activation: Activation = 'none', param?: number): Tensor {
    if (!(x instanceof Tensor)) throw new Error(`${this.describe()}: expected a Tensor input, got ${x === null ? 'null' : typeof x}`);
    if (x.rank < 1 || x.shape[x.rank - 1] !== this.inFeatures)
      throw new Error(`${this.describe()}: expected input of shape [..., ${this.inFeatures}] (last dim = in_features), got ${fmt(x.shape)}`);
    const w = this.param('weight')!;
    const b = this.param('bias');
    if (w.dtype === 'f32') return linear(x, w, b && b.dtype !== 'f32' ? b.to('f32') : b, activationOptions(activation, param));
    // f16 weights (toDtype('f16')): the f16 matmul (f32 accumulation, f32 result), then bias and
    // activation as separate ops.
    const x2 = x.reshape([-1, this.inFeatures]).to(w.dtype);
    let y = matmulT(x2, w, false, true);
    if (b) y = y.add(b.to('f32'));
    y = applyActivation(y, activation, param);
    return y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
  }

  private describe(): string {
    return `Linear(in_features=${this.inFeatures}, out_features=${this.outFeatures})`;
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias !== null ? 'True' : 'False'}`;
  }
}

