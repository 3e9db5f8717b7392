// Elementwise unary ops: one table row per op (its kernel code is `OP_<name>` in unary.wgsl,
// its parameters, its gradient written with tensor ops).
import { unaryKernel } from '../../kernels/elementwise.js';
import { defineOp, runOp, type OpDef } from '../tape.js';
import { Tensor } from '../tensor.js';
import { add, div, gt, mul, sub, where } from './binary.js';

interface UnaryAttrs {
  p0: number;
  p1: number;
}

type GradRule = (x: Tensor, y: Tensor, g: Tensor, a: UnaryAttrs) => Tensor;

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** Gradient rules; an op absent here (sign, step) has no gradient. */
const RULES: Record<string, GradRule | null> = {
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
  tanh: (_x, y, g) => g.mul(sub(1, y.square())),
  sigmoid: (_x, y, g) => g.mul(y.mul(sub(1, y))),
  relu: (x, _y, g) => g.mul(x.step(0)),
  leakyRelu: (x, _y, g, a) => g.mul(x.step(0).mul(1 - a.p0).add(a.p0)),
  elu: (x, y, g, a) => where(gt(x, 0), g, g.mul(y.add(a.p0))),
  // d/dx x Phi(x) = Phi(x) + x phi(x); Phi through erfc keeps precision for x << 0.
  gelu: (x, _y, g) => g.mul(x.mul(-SQRT1_2).erfc().mul(0.5).add(x.mul(x.square().mul(-0.5).exp()).mul(INV_SQRT_2PI))),
  silu: (x, _y, g) => {
    const s = x.sigmoid();
    return g.mul(s.mul(add(1, x.mul(sub(1, s)))));
  },
  softplus: (x, _y, g, a) => {
    const z = x.mul(a.p0);
    return where(gt(z, a.p1), g, g.mul(z.sigmoid()));
  },
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
};

const DEFS = new Map<string, OpDef<UnaryAttrs>>();
for (const [name, rule] of Object.entries(RULES)) {
  DEFS.set(
    name,
    defineOp<UnaryAttrs>({
      name,
      backward: rule ? ({ inputs, output, attrs }, g) => [rule(inputs[0]!, output, g, attrs)] : undefined,
    }),
  );
}

export type UnaryOpName = keyof typeof RULES;

export function unary(name: UnaryOpName, x: Tensor, p0 = 0, p1 = 0): Tensor {
  const def = DEFS.get(name)!;
  return runOp(def, [x], { p0, p1 }, (rt) => {
    const y = Tensor.empty(rt, x.shape, name);
    unaryKernel(rt, name, x.buffer, y.buffer, x.size, p0, p1);
    return y;
  });
}

function checkNumber(op: string, arg: string, v: number): void {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${op}: ${arg} must be a number, got ${String(v)}`);
}

export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  checkNumber('leakyRelu', 'negativeSlope', negativeSlope);
  return unary('leakyRelu', x, negativeSlope);
}

export function elu(x: Tensor, alpha = 1): Tensor {
  checkNumber('elu', 'alpha', alpha);
  return unary('elu', x, alpha);
}

export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
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
  return unary('step', x, threshold);
}

