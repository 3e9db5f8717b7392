// The samplers: TorchEBM's LangevinDynamics and HamiltonianMonteCarlo over GPU chains.
export { BaseSampler, type SampleOptions, type SampleResult, type SamplerDiagnostics, type CallContext } from './base.js';
export { LangevinDynamics, type LangevinOptions } from './langevin.js';
export { HamiltonianMonteCarlo, type HamiltonianMonteCarloOptions } from './hmc.js';
export { type Hyper } from './options.js';
