// The chainable Tensor methods (x.exp().sum()), attached to the prototype here so that the
// op modules can import Tensor without a cycle. Each method forwards to its op function.
import { backward, type BackwardOptions } from './autodiff.js';
import * as bin from './ops/binary.js';
import type { Operand } from './ops/binary.js';
import { matmul } from './ops/matmul.js';
import * as red from './ops/reduce.js';
import type { Axes } from './ops/reduce.js';
import * as shp from './ops/shape.js';
import type { Indices } from './ops/shape.js';
import * as un from './ops/unary.js';
import { fmt, sameShape } from './shape.js';
import { Tensor, type DType } from './tensor.js';
import { cast } from './ops/cast.js';

declare module './tensor.js' {
  interface Tensor {
    neg(): Tensor;
    abs(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    square(): Tensor;
    reciprocal(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    relu(): Tensor;
    leakyRelu(negativeSlope?: number): Tensor;
    elu(alpha?: number): Tensor;
    gelu(): Tensor;
    silu(): Tensor;
    softplus(beta?: number, threshold?: number): Tensor;
    erf(): Tensor;
    erfc(): Tensor;
    expm1(): Tensor;
    log1p(): Tensor;
    sign(): Tensor;
    step(threshold?: number): Tensor;
    clamp(min?: number | null, max?: number | null): Tensor;
    /** A number exponent (elementwise x^p) or a tensor of exponents (broadcast). */
    pow(exponent: Operand): Tensor;

    add(other: Operand): Tensor;
    sub(other: Operand): Tensor;
    mul(other: Operand): Tensor;
    div(other: Operand): Tensor;
    maximum(other: Operand): Tensor;
    minimum(other: Operand): Tensor;
    eq(other: Operand): Tensor;
    ne(other: Operand): Tensor;
    lt(other: Operand): Tensor;
    le(other: Operand): Tensor;
    gt(other: Operand): Tensor;
    ge(other: Operand): Tensor;

    sum(axis?: Axes, keepdim?: boolean): Tensor;
    mean(axis?: Axes, keepdim?: boolean): Tensor;
    max(axis?: Axes, keepdim?: boolean): Tensor;
    min(axis?: Axes, keepdim?: boolean): Tensor;
    logsumexp(axis?: Axes, keepdim?: boolean): Tensor;
    var(axis?: Axes, keepdim?: boolean, correction?: number): Tensor;

    reshape(shape: readonly number[]): Tensor;
    view(shape: readonly number[]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    permute(dims: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    readonly T: Tensor;
    expand(shape: readonly number[]): Tensor;
    squeeze(dim?: number | null): Tensor;
    unsqueeze(dim: number): Tensor;
    slice(dim: number, start?: number, end?: number | null, step?: number): Tensor;
    indexSelect(indices: Indices): Tensor;
    matmul(other: Tensor): Tensor;

    /** backward(), backward(gradient), backward(gradient, { createGraph }) or backward({ createGraph }). */
    backward(gradient?: Tensor | BackwardOptions | null, opts?: BackwardOptions): void;
    /** A tensor over the same data that is cut from the tape (like torch's detach). */
    detach(): Tensor;
    /** Sets requiresGrad (on a leaf) and returns this. */
    requiresGrad_(flag?: boolean): Tensor;
    /** Overwrites this tensor's values with src's (same shape), in order with pending GPU work. */
    assign(src: Tensor): Tensor;
    /** A copy with its own storage (no graph). */
    clone(): Tensor;
    /** This tensor as `dtype` (itself if it already is); differentiable. */
    to(dtype: DType): Tensor;
    /** to('f16') */
    half(): Tensor;
    /** to('f32') */
    float(): Tensor;
  }
}

type Proto = Record<string, unknown>;
const proto = Tensor.prototype as unknown as Proto;

for (const name of ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'square', 'reciprocal', 'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'gelu', 'silu', 'erf', 'erfc', 'expm1', 'log1p', 'sign'] as const)
  proto[name] = function (this: Tensor) {
    return un.unary(name, this);
  };

Object.assign(proto, {
  leakyRelu(this: Tensor, s?: number) { return un.leakyRelu(this, s); },
  elu(this: Tensor, a?: number) { return un.elu(this, a); },
  softplus(this: Tensor, b?: number, t?: number) { return un.softplus(this, b, t); },
  step(this: Tensor, t?: number) { return un.step(this, t); },
  clamp(this: Tensor, lo?: number | null, hi?: number | null) { return un.clamp(this, lo, hi); },
  pow(this: Tensor, e: Operand) { return bin.pow(this, e); },
  sum(this: Tensor, a?: Axes, k?: boolean) { return red.sum(this, a, k); },
  mean(this: Tensor, a?: Axes, k?: boolean) { return red.mean(this, a, k); },
  max(this: Tensor, a?: Axes, k?: boolean) { return red.max(this, a, k); },
  min(this: Tensor, a?: Axes, k?: boolean) { return red.min(this, a, k); },
  logsumexp(this: Tensor, a?: Axes, k?: boolean) { return red.logsumexp(this, a, k); },
  var(this: Tensor, a?: Axes, k?: boolean, c?: number) { return red.variance(this, a, k, c); },
  reshape(this: Tensor, s: readonly number[]) { return shp.reshape(this, s); },
  view(this: Tensor, s: readonly number[]) { return shp.reshape(this, s); },
  flatten(this: Tensor, s?: number, e?: number) { return shp.flatten(this, s, e); },
  permute(this: Tensor, d: readonly number[]) { return shp.permute(this, d); },
  transpose(this: Tensor, a?: number, b?: number) { return shp.transpose(this, a, b); },
  expand(this: Tensor, s: readonly number[]) { return shp.expand(this, s); },
  squeeze(this: Tensor, d?: number | null) { return shp.squeeze(this, d); },
  unsqueeze(this: Tensor, d: number) { return shp.unsqueeze(this, d); },
  slice(this: Tensor, d: number, s?: number, e?: number | null, st?: number) { return shp.slice(this, d, s, e, st); },
  indexSelect(this: Tensor, i: Indices) { return shp.indexSelect(this, i); },
  matmul(this: Tensor, o: Tensor) { return matmul(this, o); },
  backward(this: Tensor, g?: Tensor | BackwardOptions | null, o?: BackwardOptions) { backward(this, g, o); },
  detach(this: Tensor) {
    this.assertAlive('detach');
    return this.share(this.shape);
  },
  requiresGrad_(this: Tensor, flag = true) {
    if (this.node) throw new Error(`requiresGrad_: ${this.describe()} is the result of an op; only leaves can change requiresGrad (use detach())`);
    this.requiresGrad = flag;
    return this;
  },
  assign(this: Tensor, src: Tensor) {
    this.assertAlive('assign');
    src.assertAlive('assign');
    if (!sameShape(this.shape, src.shape)) throw new Error(`assign: shapes differ: target ${fmt(this.shape)}, source ${fmt(src.shape)}`);
    if (this.node) throw new Error(`assign: ${this.describe()} is the result of a recorded op; assigning into it would corrupt the tape`);
    if (this.device !== src.device) throw new Error('assign: source and target are on different devices');
    if (this.dtype !== src.dtype) throw new Error(`assign: dtypes differ: target ${this.dtype}, source ${src.dtype}`);
    if (this.buffer !== src.buffer && this.size) this.device.copy(src.buffer, 0, this.buffer, 0, this.byteLength);
    return this;
  },
  to(this: Tensor, d: DType) { return cast(this, d); },
  half(this: Tensor) { return cast(this, 'f16'); },
  float(this: Tensor) { return cast(this, 'f32'); },
  clone(this: Tensor) {
    this.assertAlive('clone');
    const t = Tensor.empty(this.device, this.shape, 'clone', this.dtype);
    if (this.size) this.device.copy(this.buffer, 0, t.buffer, 0, this.byteLength);
    return t;
  },
});

for (const name of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const)
  proto[name] = function (this: Tensor, other: Operand) {
    return bin.binary(name, this, other);
  };

Object.defineProperty(proto, 'T', {
  get(this: Tensor) {
    return shp.permute(this, [...this.shape.keys()].reverse());
  },
});
