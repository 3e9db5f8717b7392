// Elementwise unary ops: one table row per op (its kernel code is `OP_<name>` in unary.wgsl,
// its parameters, its gradient written with tensor ops). The activations' gradients come from
// the activation table (src/tensor/activations.ts), where each derivative is written once.
import { unaryKernel } from '../../kernels/elementwise.js';
import { ACTIVATION_TABLE, NONLINEAR_ACTIVATIONS, type NonlinearActivation } from '../../kernels/activation-table.js';
import { ACTIVATION_OPS } from '../activations.js';
import { defineOp, isGradEnabled, runOp, type OpDef } from '../tape.js';
import { activationGrad } from '../fusion/activation-grad.js';
import { foldActivation, fusableParams, fusionEnabled } from '../fusion/matmul-chain.js';
import { shown } from '../shape.js';
import { Tensor } from '../tensor.js';
import { div } from './binary.js';

interface UnaryAttrs {
  p0: number;
  p1: number;
}

type GradRule = (x: Tensor, y: Tensor, g: Tensor, a: UnaryAttrs) => Tensor;

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * Each activation's unary op: g act'(x), its parameters in the op's slots p0, p1. Without a
 * graph to record (no createGraph) it is one fused dispatch, as in linear's backward; with one,
 * tensor ops, so it can be differentiated again.
 */
const ACTIVATION_RULES = Object.fromEntries(
  NONLINEAR_ACTIVATIONS.map((name): [NonlinearActivation, GradRule] => [
    name,
    (x, y, g, a) => (isGradEnabled() || !fusableParams(name, a.p1) || !fusionEnabled(g.device) ? g.mul(ACTIVATION_OPS[name].derivative(x, y, [a.p0, a.p1])) : activationGrad(name, a.p0, g, x)),
  ]),
) as Record<NonlinearActivation, GradRule>;

/** Gradient rules; an op whose rule is null (sign, step) has no gradient. */
const RULES = {
  neg: (_x, _y, g) => g.neg(),
  abs: (x, _y, g) => g.mul(x.sign()),
  exp: (_x, y, g) => g.mul(y),
  log: (x, _y, g) => g.div(x),
  sqrt: (_x, y, g) => g.div(y).mul(0.5),
  rsqrt: (_x, y, g) => g.mul(y.pow(3)).mul(-0.5),
  square: (x, _y, g) => g.mul(x).mul(2),
  reciprocal: (_x, y, g) => g.mul(y.square()).neg(),
  sin: (x, _y, g) => g.mul(x.cos()),
  cos: (x, _y, g) => g.mul(x.sin()).neg(),
  ...ACTIVATION_RULES,
  clamp: (x, _y, g, a) => {
    let m = g;
    if (!Number.isNaN(a.p0)) m = m.mul(x.ge(a.p0));
    if (!Number.isNaN(a.p1)) m = m.mul(x.le(a.p1));
    return m;
  },
  erf: (x, _y, g) => g.mul(x.square().neg().exp()).mul(TWO_OVER_SQRT_PI),
  erfc: (x, _y, g) => g.mul(x.square().neg().exp()).mul(-TWO_OVER_SQRT_PI),
  expm1: (_x, y, g) => g.mul(y.add(1)),
  log1p: (x, _y, g) => div(g, x.add(1)),
  sign: null,
  step: null,
} satisfies Record<string, GradRule | null>;

/** A unary op's name: a key of RULES, so a misspelt op does not compile. */
export type UnaryOpName = keyof typeof RULES;

const DEFS = new Map<UnaryOpName, OpDef<UnaryAttrs>>();
for (const [name, rule] of Object.entries(RULES) as [UnaryOpName, GradRule | null][]) {
  DEFS.set(
    name,
    defineOp<UnaryAttrs>({
      name,
      backward: rule ? ({ inputs, output, attrs }, g) => [rule(inputs[0]!, output, g, attrs)] : undefined,
    }),
  );
}

export function unary(name: UnaryOpName, x: Tensor, p0 = 0, p1 = 0): Tensor {
  const def = DEFS.get(name);
  if (!def) throw new Error(`unary: unknown op '${String(name)}' (valid: ${[...DEFS.keys()].join(', ')})`);
  return runOp(def, [x], { p0, p1 }, (rt) => {
    // An activation of a pending matmul joins its dispatch (src/tensor/fusion/matmul-chain.ts).
    const folded = foldActivation(rt, name, x, p0, p1);
    if (folded) return folded;
    const y = Tensor.empty(rt, x.shape, name);
    unaryKernel(rt, name, x.buffer, y.buffer, x.size, p0, p1);
    return y;
  });
}

function checkNumber(op: string, arg: string, v: number): void {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${op}: ${arg} must be a number, got ${shown(v)}`);
}

// The parameters' defaults are PyTorch's, as the activation table records them.
const [LEAKY_RELU_SLOPE] = ACTIVATION_TABLE.leakyRelu.params;
const [ELU_ALPHA] = ACTIVATION_TABLE.elu.params;
const [SOFTPLUS_BETA, SOFTPLUS_THRESHOLD] = ACTIVATION_TABLE.softplus.params;

export function leakyRelu(x: Tensor, negativeSlope: number = LEAKY_RELU_SLOPE.default): Tensor {
  checkNumber('leakyRelu', 'negativeSlope', negativeSlope);
  return unary('leakyRelu', x, negativeSlope);
}

export function elu(x: Tensor, alpha: number = ELU_ALPHA.default): Tensor {
  checkNumber('elu', 'alpha', alpha);
  return unary('elu', x, alpha);
}

export function softplus(x: Tensor, beta: number = SOFTPLUS_BETA.default, threshold: number = SOFTPLUS_THRESHOLD.default): Tensor {
  checkNumber('softplus', 'beta', beta);
  checkNumber('softplus', 'threshold', threshold);
  if (beta === 0) throw new Error('softplus: beta must be non-zero');
  return unary('softplus', x, beta, threshold);
}

/** Clamps to [min, max]; either bound may be null (no bound on that side), not both. */
export function clamp(x: Tensor, min: number | null = null, max: number | null = null): Tensor {
  if (min === null && max === null) throw new Error('clamp: at least one of min and max must be given');
  if (min !== null) checkNumber('clamp', 'min', min);
  if (max !== null) checkNumber('clamp', 'max', max);
  return unary('clamp', x, min ?? NaN, max ?? NaN);
}

/** 1 where x > threshold, else 0 (no gradient). */
export function step(x: Tensor, threshold = 0): Tensor {
  checkNumber('step', 'threshold', threshold);
  return unary('step', x, threshold);
}

