// The tensor layer's public surface.
import './methods.js';
import { unary } from './ops/unary.js';
import type { Tensor } from './tensor.js';

export { Tensor, Storage, type DType, type NestedArray } from './tensor.js';
export { init, createDevice, getDevice, shutdown } from './context.js';
export { tensor, zeros, ones, full, arange, linspace, eye, rand, randn, manualSeed, getRngState, setRngState, type CreateOptions, type RandomOptions } from './ops/create.js';
export { add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge, where, type Operand } from './ops/binary.js';
export { sum, mean, max, min, logsumexp, variance as var, variance, sumToShape, type Axes } from './ops/reduce.js';
export { reshape, squeeze, unsqueeze, flatten, permute, transpose, expand, slice, concat, stack, indexSelect, type Indices } from './ops/shape.js';
export { matmul, matmulT } from './ops/matmul.js';
export { linear, applyActivation, ACTIVATIONS, type Activation, type LinearOptions } from './ops/linear.js';
export { ACTIVATION_OPS, activationOptions, activationParams, resolveActivationParam, type ActivationOps, type ActivationParamOptions } from './activations.js';
export {
  ACTIVATION_TABLE,
  ACTIVATION_SPELLINGS,
  NONLINEAR_ACTIVATIONS,
  activationFromSpelling,
  defaultActivationParam,
  type ActivationRow,
  type ActivationParam,
  type ActivationSpelling,
  type NonlinearActivation,
} from '../kernels/activation-table.js';
export { cast } from './ops/cast.js';
export { spectralNorm, type SpectralNormOptions, type SpectralNormResult } from './ops/spectral-norm.js';
export { conv2d, type Conv2dOptions, type ConvTiling } from './ops/conv2d.js';
export { leakyRelu, elu, softplus, clamp, step } from './ops/unary.js';
export { backward, grad, valueAndGrad, type BackwardOptions, type GradOptions } from './autodiff.js';
export { noGrad, isGradEnabled, registeredOps } from './tape.js';
export { tidy, keep } from './scope.js';
export { autocast, autocastState, AUTOCAST_OPS, type AutocastOptions, type AutocastOp } from './autocast.js';
export { memory, type MemoryInfo } from './memory.js';
export { MAX_RANK, broadcastShapes } from './shape.js';
// The fused training steps, for code that writes its own optimizer or sampler: ebm.fused.adamStep_ ...
export * as fused from './ops/fused/index.js';
// The device type, for layers above src/tensor that name a device without touching src/kernels.
export type { Runtime } from '../kernels/runtime.js';

const fn = (name: Parameters<typeof unary>[0]) => (x: Tensor): Tensor => unary(name, x);
export const neg = fn('neg');
export const abs = fn('abs');
export const exp = fn('exp');
export const log = fn('log');
export const sqrt = fn('sqrt');
export const rsqrt = fn('rsqrt');
export const square = fn('square');
export const reciprocal = fn('reciprocal');
export const sin = fn('sin');
export const cos = fn('cos');
export const tanh = fn('tanh');
export const sigmoid = fn('sigmoid');
export const relu = fn('relu');
export const gelu = fn('gelu');
export const silu = fn('silu');
export const erf = fn('erf');
export const erfc = fn('erfc');
export const expm1 = fn('expm1');
export const log1p = fn('log1p');
export const sign = fn('sign');
