// Analytic energies with TorchEBM's formulas and defaults, each with a closed-form gradient.
export { GaussianEnergy, type VectorLike, type MatrixLike } from './gaussian.js';
export { DoubleWellEnergy, type DoubleWellEnergyOptions } from './double-well.js';
export { HarmonicEnergy, type HarmonicEnergyOptions } from './harmonic.js';
export { RosenbrockEnergy, type RosenbrockEnergyOptions } from './rosenbrock.js';
export { AckleyEnergy, type AckleyEnergyOptions } from './ackley.js';
export { RastriginEnergy, type RastriginEnergyOptions } from './rastrigin.js';
