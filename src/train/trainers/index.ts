// The trainers: TorchEBM's EBMTrainer and MixedPrecisionEBMTrainer.
export {
  EBMTrainer,
  StepMetrics,
  disposeTrainerState,
  type EBMTrainerOptions,
  type EBMTrainerStateDict,
  type FitOptions,
  type FitResult,
  type RandomStreamsState,
} from './ebm-trainer.js';
export { MixedPrecisionEBMTrainer, type MixedPrecisionEBMTrainerOptions } from './mixed-precision.js';
export { NonFiniteLossError } from './step-log.js';
