// The trainers: TorchEBM's EBMTrainer and MixedPrecisionEBMTrainer.
export { EBMTrainer, StepMetrics, type EBMTrainerOptions, type FitOptions, type FitResult } from './ebm-trainer.js';
export { MixedPrecisionEBMTrainer, type MixedPrecisionEBMTrainerOptions } from './mixed-precision.js';
export { NonFiniteLossError } from './step-log.js';
export { withF16Matmuls } from './autocast.js';
