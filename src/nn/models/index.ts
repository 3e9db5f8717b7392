// The seed's energy-model zoo (shared/seed/models-implementation.md), with its names, defaults
// and PyTorch state-dict layouts.
export { type ActivationName, type ActivationSpec } from './common.js';
export { BaseModel, type BaseModelOptions } from './base-model.js';
export { MLPEnergyModel, type MLPEnergyModelOptions } from './mlp.js';
export { ConvEnergyModel, type ConvEnergyModelOptions } from './conv.js';
export { ResidualBlock, ResNetEnergyModel, type ResidualBlockOptions, type ResNetEnergyModelOptions } from './resnet.js';
export { NeuralEnergyFunction } from './neural.js';
export { CustomEnergyModel, type CustomEnergyModelOptions } from './custom.js';
