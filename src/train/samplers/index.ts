// The samplers: TorchEBM's LangevinDynamics, HamiltonianMonteCarlo, GradientDescentSampler,
// NesterovSampler and FlowSampler, with MALA and parallel tempering, over GPU chains.
export { BaseSampler, type SampleOptions, type SampleResult, type SamplerDiagnostics, type CallContext } from './base.js';
export { LangevinDynamics, type LangevinOptions } from './langevin.js';
export { HamiltonianMonteCarlo, type HamiltonianMonteCarloOptions } from './hmc.js';
export { MetropolisAdjustedLangevin, type MetropolisAdjustedLangevinOptions } from './mala.js';
export { ParallelTempering, type ParallelTemperingOptions, type ParallelTemperingDiagnostics } from './parallel-tempering.js';
export { GradientDescentSampler, NesterovSampler, type GradientDescentOptions, type NesterovOptions } from './gradient-descent.js';
export { FlowSampler, type FlowSamplerOptions, type Velocity } from './flow.js';
export { type Hyper } from './options.js';
