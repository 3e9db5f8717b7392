// conv2d (NCHW, PyTorch weight layout [out, in, kh, kw], groups = 1) and its two gradient ops.
// The three ops are each other's adjoints, so every backward rule is one of them:
//   y  = conv2d(x, w)            dx = convInputGrad(gy, w)    dw = convWeightGrad(x, gy)
//   dx = convInputGrad(g, w)     dg = conv2d(h, w)            dw = convWeightGrad(h, g)
//   dw = convWeightGrad(x, g)    dx = convInputGrad(g, h)     dg = conv2d(x, h)
// (h being the upstream gradient of the op's output), which makes gradients of gradients work.
import { CONV_TILINGS, conv2dDataGradKernel, conv2dForwardKernel, conv2dWeightGradKernel, defaultTiling, type ConvGeometry, type ConvTiling } from '../../kernels/conv2d.js';
import { activationGradKernel } from '../../kernels/elementwise.js';
import { ACTIVATION_NAMES, ACTIVATION_OPS, activationParams, resolveActivationParam, type Activation, type ActivationParamOptions } from '../activations.js';
import { fmt } from '../shape.js';
import { checkInputs, defineOp, isGradEnabled, runOp, willRecord } from '../tape.js';
import { Tensor } from '../tensor.js';

export type { ConvTiling } from '../../kernels/conv2d.js';

type Pair = readonly [number, number];

export interface Conv2dOptions extends ActivationParamOptions {
  /**
   * An activation applied in the same dispatch (the fused epilogue): y = act(conv + bias). Any
   * row of the activation table; its parameter by the table's name (negativeSlope, alpha, beta).
   */
  activation?: Activation;
  /** A number, or [h, w]. Default 1. */
  stride?: number | readonly [number, number];
  /** Zeros added on both sides of each spatial dim: a number, or [h, w]. Default 0. */
  padding?: number | readonly [number, number];
  /** Spacing between kernel taps: a number, or [h, w]. Default 1. */
  dilation?: number | readonly [number, number];
  /**
   * The kernel schedule; by default chosen per adapter ('subgroup' on CPU adapters with 8-lane
   * subgroups such as lavapipe, 'registers' on other CPU adapters, 'workgroup' on GPUs).
   * Gradients use the same one; 'subgroup' runs as 'registers' where subgroups are narrower.
   */
  tiling?: ConvTiling;
}

interface ConvAttrs {
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  tiling: ConvTiling | undefined;
}

interface ForwardAttrs extends ConvAttrs {
  activation: Activation;
  /** The activation's first parameter (default filled in). */
  param: number;
}

interface InputGradAttrs extends ConvAttrs {
  /** The input's spatial size [H, W]: strides make it ambiguous given only the output's. */
  inputSize: Pair;
}

interface WeightGradAttrs extends ConvAttrs {
  kernelSize: Pair;
}

// ---------------------------------------------------------------------------------------------
// Validation and geometry

function pair(op: string, name: string, v: unknown, min: number): Pair {
  const p = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : null;
  if (!p || !p.every((d) => Number.isInteger(d) && d >= min))
    throw new Error(`${op}: ${name} must be a ${min > 0 ? 'positive' : 'non-negative'} integer or a pair [h, w] of them, got ${JSON.stringify(v)}`);
  return [p[0], p[1]];
}

function resolveAttrs(op: string, opts: Conv2dOptions): ConvAttrs {
  if (opts.tiling !== undefined && !CONV_TILINGS.includes(opts.tiling))
    throw new Error(`${op}: tiling must be one of ${CONV_TILINGS.map((t) => `'${t}'`).join(', ')}, got ${JSON.stringify(opts.tiling)}`);
  return {
    stride: pair(op, 'stride', opts.stride ?? 1, 1),
    padding: pair(op, 'padding', opts.padding ?? 0, 0),
    dilation: pair(op, 'dilation', opts.dilation ?? 1, 1),
    tiling: opts.tiling,
  };
}

function checkTensor(op: string, name: string, t: unknown, layout: string): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  t.assertAlive(op);
  if (t.rank !== 4) throw new Error(`${op}: ${name} must have rank 4 ${layout}, got ${fmt(t.shape)}`);
}

/** Output size along one axis, as torch computes it; 0 or less means the kernel does not fit. */
function outSize(input: number, kernel: number, stride: number, pad: number, dil: number): number {
  return Math.floor((input + 2 * pad - dil * (kernel - 1) - 1) / stride) + 1;
}

/**
 * The geometry of convolving an input of `xShape` with a weight of `wShape`, checked: the
 * channel counts must agree and the (dilated) kernel must fit in the padded input.
 */
function geometry(op: string, xShape: readonly number[], wShape: readonly number[], a: ConvAttrs): ConvGeometry {
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [o, cw, kh, kw] = wShape as [number, number, number, number];
  if (c !== cw) throw new Error(`${op}: the input has ${c} channels (x ${fmt(xShape)}) but the weight expects ${cw} (weight ${fmt(wShape)} is [out, in, kh, kw])`);
  const oh = outSize(h, kh, a.stride[0], a.padding[0], a.dilation[0]);
  const ow = outSize(w, kw, a.stride[1], a.padding[1], a.dilation[1]);
  if (oh < 1 || ow < 1 || kh < 1 || kw < 1) {
    const span = `${a.dilation[0] * (kh - 1) + 1}x${a.dilation[1] * (kw - 1) + 1}`;
    throw new Error(
      `${op}: the kernel (weight ${fmt(wShape)}, dilation ${fmt(a.dilation)}) spans ${span}, larger than the padded input ` +
        `${h + 2 * a.padding[0]}x${w + 2 * a.padding[1]} (x ${fmt(xShape)}, padding ${fmt(a.padding)})`,
    );
  }
  return { batch: n, inC: c, inH: h, inW: w, outC: o, outH: oh, outW: ow, kH: kh, kW: kw, stride: a.stride, padding: a.padding, dilation: a.dilation };
}

/** Checks that a gradient has the shape the convolution's output has. */
function checkOutputShape(op: string, name: string, t: Tensor, g: ConvGeometry): void {
  const want = [g.batch, g.outC, g.outH, g.outW];
  if (t.shape.some((d, i) => d !== want[i]))
    throw new Error(`${op}: ${name} has shape ${fmt(t.shape)}, but the convolution's output is ${fmt(want)}`);
}

// ---------------------------------------------------------------------------------------------
// The three ops

const conv2dDef = defineOp<ForwardAttrs>({
  name: 'conv2d',
  backward: ({ inputs, attrs, needs, output, saved }, g) => {
    const [x, w] = inputs as [Tensor, Tensor];
    // Only dx wanted (a sampler's dE/dx), no createGraph: the data-gradient kernel takes g and
    // z and folds act'(z) into its packing pass, so g * act'(z) is never written out.
    if (attrs.activation !== 'none' && !isGradEnabled() && needs[0] && !needs[1] && !needs[2])
      return [convInputGrad(g, w, { ...attrs, inputSize: [x.shape[2]!, x.shape[3]!] }, { activation: attrs.activation, param: attrs.param, z: saved[0] ?? output }), null, null];
    const gz = activationGrad(inputs, attrs, output, saved[0] ?? null, g);
    return [
      needs[0] ? convInputGrad(gz, w, { ...attrs, inputSize: [x.shape[2]!, x.shape[3]!] }) : null,
      needs[1] ? convWeightGrad(x, gz, { ...attrs, kernelSize: [w.shape[2]!, w.shape[3]!] }) : null,
      needs[2] ? gz.sum([0, 2, 3]) : null,
    ];
  },
});

/**
 * The gradient at the pre-activation, g * act'(z): one fused dispatch from the saved z (or the
 * output, where it gives the same act'), as linear does; under createGraph z is recomputed in
 * differentiable ops, so gradients of gradients see act'(z) depend on x, w and b.
 */
function activationGrad(inputs: readonly Tensor[], attrs: ForwardAttrs, output: Tensor, saved: Tensor | null, g: Tensor): Tensor {
  if (attrs.activation === 'none') return g;
  if (isGradEnabled()) {
    const z = convForward(inputs[0]!, inputs[1]!, inputs[2] ?? null, { ...attrs, activation: 'none', param: 0 });
    return g.mul(ACTIVATION_OPS[attrs.activation].derivative(z, output, activationParams(attrs.activation, attrs.param)));
  }
  const gz = Tensor.empty(g.device, g.shape, 'conv2d.gz');
  activationGradKernel(g.device, attrs.activation, attrs.param, g.buffer, (saved ?? output).buffer, gz.buffer, gz.size);
  return gz;
}

/** Activations whose derivative the output gives as well as z (sign-preserving ones). */
function derivativeFromOutput(act: Activation, param: number): boolean {
  return act === 'relu' || (act === 'leakyRelu' && param > 0);
}

const inputGradDef = defineOp<InputGradAttrs>({
  name: 'conv2dInputGrad',
  backward: ({ inputs, attrs, needs }, h) => {
    const [g, w] = inputs as [Tensor, Tensor];
    return [needs[0] ? convForward(h, w, null, { ...attrs, activation: 'none', param: 0 }) : null, needs[1] ? convWeightGrad(h, g, { ...attrs, kernelSize: [w.shape[2]!, w.shape[3]!] }) : null];
  },
});

const weightGradDef = defineOp<WeightGradAttrs>({
  name: 'conv2dWeightGrad',
  backward: ({ inputs, attrs, needs }, h) => {
    const [x, g] = inputs as [Tensor, Tensor];
    return [needs[0] ? convInputGrad(g, h, { ...attrs, inputSize: [x.shape[2]!, x.shape[3]!] }) : null, needs[1] ? convForward(x, h, null, { ...attrs, activation: 'none', param: 0 }) : null];
  },
});

function convForward(x: Tensor, w: Tensor, bias: Tensor | null, attrs: ForwardAttrs): Tensor {
  const geo = geometry('conv2d', x.shape, w.shape, attrs);
  const inputs = bias ? [x, w, bias] : [x, w];
  const saveZ = attrs.activation !== 'none' && !derivativeFromOutput(attrs.activation, attrs.param) && willRecord(conv2dDef, inputs);
  return runOp(conv2dDef, inputs, attrs, (rt, save) => {
    const shape = [geo.batch, geo.outC, geo.outH, geo.outW];
    const out = Tensor.empty(rt, shape, 'conv2d');
    // The pre-activation, for the backward: the node owns it and releases it with the output.
    const z = saveZ ? save(Tensor.empty(rt, shape, 'conv2d.z')) : null;
    if (out.size > 0)
      conv2dForwardKernel(rt, x.buffer, w.buffer, bias?.buffer ?? null, out.buffer, geo, attrs.tiling ?? defaultTiling(rt), {
        activation: attrs.activation,
        param: attrs.param,
        z: z?.buffer,
      });
    return out;
  });
}

/**
 * The gradient of conv2d with respect to its input, given the output's gradient g; with
 * `through`, g is the gradient at the activation's output and z (or the output, where it gives
 * act') what act' is taken at (no createGraph: that op is not recorded).
 */
function convInputGrad(g: Tensor, w: Tensor, attrs: InputGradAttrs, through?: { activation: Activation; param: number; z: Tensor }): Tensor {
  const op = 'conv2dInputGrad';
  const [h, wd] = attrs.inputSize;
  const geo = geometry(op, [g.shape[0]!, w.shape[1]!, h, wd], w.shape, attrs);
  checkOutputShape(op, 'the output gradient', g, geo);
  return runOp(inputGradDef, [g, w], attrs, (rt) => {
    const dx = Tensor.empty(rt, [geo.batch, geo.inC, geo.inH, geo.inW], op);
    const fold = through && { activation: through.activation, param: through.param, z: through.z.buffer };
    if (dx.size > 0) conv2dDataGradKernel(rt, g.buffer, w.buffer, dx.buffer, geo, attrs.tiling ?? defaultTiling(rt), fold);
    return dx;
  });
}

/** The gradient of conv2d with respect to its weight, given the input x and the output's gradient g. */
function convWeightGrad(x: Tensor, g: Tensor, attrs: WeightGradAttrs): Tensor {
  const op = 'conv2dWeightGrad';
  const [kh, kw] = attrs.kernelSize;
  const geo = geometry(op, x.shape, [g.shape[1]!, x.shape[1]!, kh, kw], attrs);
  checkOutputShape(op, 'the output gradient', g, geo);
  return runOp(weightGradDef, [x, g], attrs, (rt) => {
    const dw = Tensor.empty(rt, [geo.outC, geo.inC, kh, kw], op);
    if (dw.size > 0) conv2dWeightGradKernel(rt, x.buffer, g.buffer, dw.buffer, geo, attrs.tiling ?? defaultTiling(rt));
    return dw;
  });
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * 2-D convolution with torch.nn.functional.conv2d's semantics (cross-correlation, groups = 1):
 * x [N, C, H, W], weight [O, C, KH, KW], optional bias [O] -> [N, O, OH, OW], with an optional
 * fused activation (opts.activation: y = act(conv + bias) in the same dispatch).
 * Inside an f16 autocast scope conv2d stays f32: there is no f16 conv kernel yet
 * (AUTOCAST_OPS in ../autocast.ts lists what the policy changes).
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  checkTensor(op, 'x', x, '[N, C, H, W]');
  checkTensor(op, 'weight', weight, '[out, in, kh, kw]');
  if (bias !== undefined && bias !== null) {
    if (!(bias instanceof Tensor)) throw new Error(`${op}: bias must be a Tensor or null, got ${typeof bias}`);
    bias.assertAlive(op);
    if (bias.rank !== 1 || bias.shape[0] !== weight.shape[0])
      throw new Error(`${op}: bias must have shape [${weight.shape[0]}] (one per output channel of weight ${fmt(weight.shape)}), got ${fmt(bias.shape)}`);
  }
  if (typeof opts !== 'object' || opts === null) throw new Error(`${op}: options must be an object { stride, padding, dilation, activation }, got ${JSON.stringify(opts)}`);
  const attrs = resolveAttrs(op, opts);
  const activation = opts.activation ?? 'none';
  if (!ACTIVATION_NAMES.includes(activation)) throw new Error(`${op}: unknown activation '${String(activation)}' (valid: ${ACTIVATION_NAMES.join(', ')})`);
  const param = resolveActivationParam(op, activation, opts);
  checkInputs(op, bias ? [x, weight, bias] : [x, weight]);
  return convForward(x, weight, bias ?? null, { ...attrs, activation, param });
}

/**
 * The two gradient ops, for callers that need one without the other (they are differentiable
 * too). `inputSize` / `kernelSize` are the spatial sizes of the tensor being differentiated.
 */
export function conv2dInputGrad(gradOutput: Tensor, weight: Tensor, inputSize: readonly [number, number], opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2dInputGrad';
  checkTensor(op, 'gradOutput', gradOutput, '[N, O, OH, OW]');
  checkTensor(op, 'weight', weight, '[out, in, kh, kw]');
  const attrs = resolveAttrs(op, opts);
  checkInputs(op, [gradOutput, weight]);
  if (gradOutput.shape[1] !== weight.shape[0])
    throw new Error(`${op}: gradOutput has ${gradOutput.shape[1]} channels (${fmt(gradOutput.shape)}) but weight ${fmt(weight.shape)} has ${weight.shape[0]} outputs`);
  return convInputGrad(gradOutput, weight, { ...attrs, inputSize: pair(op, 'inputSize', inputSize, 1) });
}

export function conv2dWeightGrad(x: Tensor, gradOutput: Tensor, kernelSize: readonly [number, number], opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2dWeightGrad';
  checkTensor(op, 'x', x, '[N, C, H, W]');
  checkTensor(op, 'gradOutput', gradOutput, '[N, O, OH, OW]');
  const attrs = resolveAttrs(op, opts);
  checkInputs(op, [x, gradOutput]);
  if (gradOutput.shape[0] !== x.shape[0]) throw new Error(`${op}: x ${fmt(x.shape)} and gradOutput ${fmt(gradOutput.shape)} have different batch sizes`);
  return convWeightGrad(x, gradOutput, { ...attrs, kernelSize: pair(op, 'kernelSize', kernelSize, 1) });
}
