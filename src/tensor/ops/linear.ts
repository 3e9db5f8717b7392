// linear: y = act(x Wᵀ + b) with PyTorch's weight layout [out, in], in one dispatch (the matmul
// kernel's fused bias + activation epilogue). Its backward is one fused activation-gradient
// dispatch plus the transposed-operand matmuls (dx = gz W, dW = gzᵀ x) and a bias sum, so no
// transpose is ever materialised. Under createGraph the backward is written in differentiable
// ops instead, so gradients of gradients work.
import { activationGradKernel } from '../../kernels/elementwise.js';
import { matmulKernel } from '../../kernels/matmul.js';
import { ACTIVATION_NAMES, ACTIVATION_OPS, activationParams, applyActivation, resolveActivationParam, type Activation, type ActivationParamOptions } from '../activations.js';
import { autocastDtype, autocastOperand } from '../autocast.js';
import { describeValue, fmt, sizeOf } from '../shape.js';
import { defineOp, isGradEnabled, runOp, willRecord } from '../tape.js';
import { Tensor } from '../tensor.js';
import { matmulT } from './matmul.js';

export { applyActivation, type Activation };

/** The activations linear fuses: every row of the activation table, 'none' first. */
export const ACTIVATIONS: readonly Activation[] = ACTIVATION_NAMES;

/**
 * The activation, and its parameter by the name the activation table gives it: negativeSlope
 * (leakyRelu, default 0.01 like torch), alpha (elu, default 1), beta (softplus, default 1; its
 * threshold is torch's default, 20).
 */
export interface LinearOptions extends ActivationParamOptions {
  activation?: Activation;
}

interface LinearAttrs {
  activation: Activation;
  /** The activation's first parameter (defaults filled in). */
  param: number;
  hasBias: boolean;
}

const linearDef = defineOp<LinearAttrs>({
  name: 'linear',
  backward: ({ inputs, attrs, needs, output, saved }, g) => {
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
      const y = output.rank === 2 ? output : output.reshape(z.shape);
      gz = g2.mul(ACTIVATION_OPS[attrs.activation].derivative(z, y, activationParams(attrs.activation, attrs.param)));
    } else {
      gz = Tensor.empty(g.device, g2.shape, 'linear.gz');
      // The saved pre-activation, or the output where it gives the same act'.
      const z = saved[0] ?? output;
      activationGradKernel(g.device, attrs.activation, attrs.param, g2.buffer, z.buffer, gz.buffer, gz.size);
    }
    const gx = needs[0] ? matmulT(gz, w).reshape(x.shape) : null;
    const gw = needs[1] ? matmulT(gz, x2, true, false) : null;
    const gb = attrs.hasBias && needs[2] ? gz.sum(0) : null;
    return attrs.hasBias ? [gx, gw, gb] : [gx, gw];
  },
});

/** Activations whose derivative the saved output gives as well as z (sign-preserving ones). */
function derivativeFromOutput(act: Activation, param: number): boolean {
  return act === 'relu' || (act === 'leakyRelu' && param > 0);
}

/**
 * y = act(x Wᵀ + b) for x [..., in], weight [out, in], bias [out] (optional): one dispatch.
 * activation: any row of the activation table (ACTIVATIONS), with its parameter in opts.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: LinearOptions = {}): Tensor {
  for (const [name, t] of [['x', x], ['weight', weight]] as const)
    if (!(t instanceof Tensor)) throw new Error(`linear: ${name} must be a Tensor, got ${describeValue(t)}`);
  const activation = opts.activation ?? 'none';
  if (!ACTIVATIONS.includes(activation)) throw new Error(`linear: unknown activation '${String(activation)}' (valid: ${ACTIVATIONS.join(', ')})`);
  const param = resolveActivationParam('linear', activation, opts);
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
    return applyActivation(y, activation, param).reshape([...x.shape.slice(0, -1), outF]);
  }
  const saveZ = willRecord(linearDef, inputs) && activation !== 'none' && !derivativeFromOutput(activation, param);
  const attrs: LinearAttrs = { activation, param, hasBias: !!bias };
  return runOp(linearDef, inputs, attrs, (rt, save) => {
    const rows = sizeOf(x.shape.slice(0, -1));
    const out = Tensor.empty(rt, [...x.shape.slice(0, -1), outF], 'linear');
    // The pre-activation, for the backward: the node owns it and releases it with the output.
    const z = saveZ ? save(Tensor.empty(rt, [rows, outF], 'linear.z')) : null;
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
      { bias: bias?.buffer, activation, param, z: z?.buffer },
    );
    return out;
  });
}
