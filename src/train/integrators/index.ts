// The integrators: TorchEBM's fixed-step (SDE and ODE), symplectic and adaptive schemes.
export { BaseIntegrator, type Drift, type Diffusion, type IntegratorStepArgs, type IntegrateArgs } from './base.js';
export { EulerMaruyama, Heun, Midpoint, RK4 } from './runge-kutta.js';
export { Leapfrog, type LeapfrogArgs } from './leapfrog.js';
export { Dopri5, type Dopri5Options, type Dopri5Args, type Dopri5Result } from './dopri5.js';
