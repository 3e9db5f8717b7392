// The nn layer's public surface: Module, Parameter, layers, init, spectral norm.
export { Module, type PlainMlp, type Parametrization, type StateDict, type LoadStateDictOptions, type LoadStateDictResult, type ShapeMismatch, type BufferOptions } from './module.js';
export { Parameter } from './parameter.js';
export { Linear, type LinearModuleOptions } from './layers/linear.js';
export { Conv2d, type Conv2dModuleOptions } from './layers/conv.js';
export { Sequential, ModuleList } from './layers/container.js';
export { Flatten } from './layers/flatten.js';
export { ActivationModule, ReLU, LeakyReLU, SiLU, Tanh, ELU, GELU, Softplus, Sigmoid, type Epilogue } from './layers/activation.js';
export {
  orthogonal_,
  kaimingUniform_,
  kaimingNormal_,
  xavierUniform_,
  xavierNormal_,
  zeros_,
  ones_,
  constant_,
  normal_,
  uniform_,
  calculateGain,
  calculateFanInAndFanOut,
  deriveSeed,
  type SeedOptions,
  type KaimingOptions,
  type Nonlinearity,
  type FanMode,
} from './init.js';
export { spectralNorm, removeSpectralNorm, SpectralNorm, type SpectralNormModuleOptions } from './spectral-norm.js';
export * from './safetensors.js';
export * from './checkpoint-model.js';
export { BaseEnergyFunction, isEnergyFunction } from './energy.js';
export * from './models/index.js';
export * from './energies/index.js';
