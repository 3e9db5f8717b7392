// The losses: TorchEBM's contrastive divergence (with persistent chains) and score matching
// (exact, denoising with the correct sign, sliced).
export { BaseLoss, type LossOutput, type LossStateDict } from './base.js';
export { ContrastiveDivergence, type ContrastiveDivergenceOptions, type NegativeSampler } from './contrastive-divergence.js';
export {
  ScoreMatching,
  DenoisingScoreMatching,
  SlicedScoreMatching,
  type ScoreMatchingOptions,
  type DenoisingScoreMatchingOptions,
  type SlicedScoreMatchingOptions,
} from './score-matching.js';
export { GaussianNoise, type GaussianNoiseOptions, type GaussianNoiseFitOptions } from './gaussian-noise.js';
export { NoiseContrastiveEstimation, type NoiseContrastiveEstimationOptions } from './noise-contrastive-estimation.js';
export { EquilibriumMatchingLoss, EQM_INTERPOLANTS, type EqmInterpolantName, type EquilibriumMatchingLossOptions } from './equilibrium-matching.js';
