// linear: y = act(x Wᵀ + b) with PyTorch's weight layout [out, in], in one dispatch (the matmul
// kernel's fused bias + activation epilogue). Its backward is one fused activation-gradient
// dispatch plus the transposed-operand matmuls (dx = gz W, dW = gzᵀ x) and a bias sum, so no
// transpose is ever materialised. Under createGraph the backward is written in differentiable
// ops instead, so gradients of gradients work.
import { activationGradKernel } from '../../kernels/elementwise.js';
import { matmulKernel, type EpilogueActivation } from '../../kernels/matmul.js';
import { autocastDtype, autocastOperand } from '../autocast.js';
import { fmt, sizeOf } from '../shape.js';
import { defineOp, isGradEnabled, runOp } from '../tape.js';
import { Tensor } from '../tensor.js';
import { matmulT } from './matmul.js';
import { add, sub } from './binary.js';

export type Activation = EpilogueActivation;
export const ACTIVATIONS: readonly Activation[] = ['none', 'relu', 'leakyRelu', 'silu', 'tanh', 'gelu', 'sigmoid'];

export interface LinearOptions {
  activation?: Activation;
  /** leakyRelu's negative slope (default 0.01, like torch). */
  negativeSlope?: number;
}

interface LinearAttrs {
  activation: Activation;
  slope: number;
  hasBias: boolean;
  /** The pre-activation x Wᵀ + b ([rows, out]), saved by the forward pass when the tape needs it. */
  z: Tensor | null;
}

/** act(y) as separate (unfused) ops: for paths that cannot use the fused epilogue. */
export function applyActivation(y: Tensor, activation: Activation, negativeSlope = 0.01): Tensor {
  switch (activation) {
    case 'none':
      return y;
    case 'relu':
      return y.relu();
    case 'leakyRelu':
      return y.leakyRelu(negativeSlope);
    case 'silu':
      return y.silu();
    case 'tanh':
      return y.tanh();
    case 'gelu':
      return y.gelu();
    case 'sigmoid':
      return y.sigmoid();
    default:
      throw new Error(`linear: unknown activation '${String(activation)}' (valid: ${ACTIVATIONS.join(', ')})`);
  }
}

/** act'(z) in differentiable ops, for the createGraph backward. */
function activationDerivative(z: Tensor, act: Activation, slope: number): Tensor {
  switch (act) {
    case 'relu':
      return z.step(0);
    case 'leakyRelu':
      return z.step(0).mul(1 - slope).add(slope);
    case 'silu': {
      const s = z.sigmoid();
      return s.mul(add(1, z.mul(sub(1, s))));
    }
    case 'tanh':
      return sub(1, z.tanh().square());
    case 'gelu':
      return z.mul(-Math.SQRT1_2).erfc().mul(0.5).add(z.mul(z.square().mul(-0.5).exp()).mul(1 / Math.sqrt(2 * Math.PI)));
    case 'sigmoid': {
      const s = z.sigmoid();
      return s.mul(sub(1, s));
    }
    default:
      return z.mul(0).add(1);
  }
}

const linearDef = defineOp<LinearAttrs>({
  name: 'linear',
  backward: ({ inputs, attrs, needs, output }, g) => {
    const [x, w] = inputs as [Tensor, Tensor];
    const inF = w.shape[1]!;
    const outF = w.shape[0]!;
    const x2 = x.reshape([-1, inF]);
    const g2 = g.reshape([-1, outF]);
    let gz: Tensor;
    if (attrs.activation === 'none') gz = g2;
    else if (isGradEnabled()) {
      // createGraph: the pre-activation is recomputed on the tape, so act'(z) depends on x, W, b.
      let z = matmulT(x2, w, false, true);
      if (attrs.hasBias) z = z.add(inputs[2]!);
      gz = g2.mul(activationDerivative(z, attrs.activation, attrs.slope));
    } else {
      gz = Tensor.empty(g.device, g2.shape, 'linear.gz');
      const z = attrs.z ?? output;
      activationGradKernel(g.device, attrs.activation, attrs.slope, g2.buffer, z.buffer, gz.buffer, gz.size);
    }
    const gx = needs[0] ? matmulT(gz, w).reshape(x.shape) : null;
    const gw = needs[1] ? matmulT(gz, x2, true, false) : null;
    const gb = attrs.hasBias && needs[2] ? gz.sum(0) : null;
    return attrs.hasBias ? [gx, gw, gb] : [gx, gw];
  },
});

/** Activations whose derivative the saved output gives as well as z (sign-preserving ones). */
function derivativeFromOutput(act: Activation, slope: number): boolean {
  return act === 'relu' || (act === 'leakyRelu' && slope > 0);
}

/**
 * y = act(x Wᵀ + b) for x [..., in], weight [out, in], bias [out] (optional): one dispatch.
 * activation: none | relu | leakyRelu | silu | tanh | gelu | sigmoid.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: LinearOptions = {}): Tensor {
  for (const [name, t] of [['x', x], ['weight', weight]] as const)
    if (!(t instanceof Tensor)) throw new Error(`linear: ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  const activation = opts.activation ?? 'none';
  if (!ACTIVATIONS.includes(activation)) throw new Error(`linear: unknown activation '${String(activation)}' (valid: ${ACTIVATIONS.join(', ')})`);
  const slope = opts.negativeSlope ?? 0.01;
  if (typeof slope !== 'number' || Number.isNaN(slope)) throw new Error(`linear: negativeSlope must be a number, got ${String(slope)}`);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  inputs.forEach((t) => t.assertAlive('linear'));
  if (weight.rank !== 2) throw new Error(`linear: weight must be [out, in], got shape ${fmt(weight.shape)}`);
  const [outF, inF] = weight.shape as [number, number];
  if (x.rank < 1 || x.shape[x.rank - 1] !== inF)
    throw new Error(`linear: x of shape ${fmt(x.shape)} does not end in the weight's in_features ${inF} (weight ${fmt(weight.shape)})`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outF)) throw new Error(`linear: bias must have shape [${outF}], got ${fmt(bias.shape)}`);
  const policy = autocastDtype('linear');
  if (policy) {
    // An f16 autocast scope: f16(x) @ f16(W)ᵀ with f32 accumulation, then the bias and the
    // activation in f32 (the fused epilogue is f32-only).
    let y = matmulT(autocastOperand(x.reshape([-1, inF]), policy), autocastOperand(weight, policy), false, true);
    if (bias) y = y.add(bias.dtype === 'f32' ? bias : bias.to('f32'));
    return applyActivation(y, activation, slope).reshape([...x.shape.slice(0, -1), outF]);
  }
  const recording = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const saveZ = recording && activation !== 'none' && !derivativeFromOutput(activation, slope);
  const attrs: LinearAttrs = { activation, slope, hasBias: !!bias, z: null };
  return runOp(linearDef, inputs, attrs, (rt) => {
    const rows = sizeOf(x.shape.slice(0, -1));
    const out = Tensor.empty(rt, [...x.shape.slice(0, -1), outF], 'linear');
    if (saveZ) attrs.z = Tensor.empty(rt, [rows, outF], 'linear.z');
    if (out.size === 0) return out;
    matmulKernel(
      rt,
      { buffer: x.buffer, rows, cols: inF, trans: false, batchStrides: [] },
      { buffer: weight.buffer, rows: outF, cols: inF, trans: true, batchStrides: [] },
      out.buffer,
      rows,
      outF,
      inF,
      [],
      { bias: bias?.buffer, activation, slope, z: attrs.z?.buffer },
    );
    return out;
  });
}
