// The fused steps as tensor ops: optimizer updates, Langevin and HMC updates, the fused MLP
// Langevin sampler, the loss scaler's check and update, chain statistics, replay-buffer row
// scatters, the toy datasets, and the word copies they share. Inputs and outputs are tensors;
// a name ending in _ updates its first tensor argument(s) in place (documented per op). None of
// them is recorded on the tape.
export { copyInto_, writeData_, readWords, wordsAsFloats, type CopyRange } from './copy.js';
export { sharesStorage } from './common.js';
export {
  optimState,
  optimStateSize,
  optimStateRegion,
  optimStateStep,
  loadOptimState_,
  sgdStep_,
  adamStep_,
  type UpdateGate,
  type UpdateOptions,
  type SgdHyper,
  type AdamHyper,
} from './optim.js';
export { checkFinite_, updateScale_, scalerFlagWord, type ScalerFlag, type ScaleUpdate } from './grad-scaler.js';
export { langevinStep_, type LangevinStep, type PhiloxKey } from './langevin.js';
export { hmcBegin_, hmcLeap_, hmcAccept_, type HmcState, type HmcStep } from './hmc.js';
export { malaPropose_, malaAccept_, temperedLangevin_, temperingSwap_, type MalaState, type MalaStep, type SwapStep } from './mala.js';
export { chainStats_, type ChainStatsTables } from './chain-stats.js';
export { replaceRows, scatterRows_ } from './replay.js';
export { toyDataset, type ToyDatasetArgs } from './datasets.js';
export {
  packMlpWeights_,
  langevinMlpSteps_,
  langevinMlpScratchWords,
  langevinMlpUsable,
  packedLayout,
  LANGEVIN_MLP_LIMITS,
  type MlpActivation,
  type MlpLayerShape,
  type MlpLayerWeights,
  type PackedLayout,
  type LangevinMlpSteps,
} from './langevin-mlp.js';
