// Log-likelihoods of energy models: log Z by annealed importance sampling, and the data's mean log-density on it.
export { annealedImportanceSampling, annealingSchedule, type AnnealedImportanceSamplingOptions, type AnnealedImportanceSamplingResult } from './ais.js';
export { logLikelihood, type LogLikelihoodOptions, type LogLikelihoodResult } from './log-likelihood.js';
