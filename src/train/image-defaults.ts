// The default image EBM and its training recipe, in ONE place: src/train/image-recipe.ts builds
// from it, and the CLI (`webgpu-ebm train --dataset mnist`), the demo's digits mode and the
// bench's image-langevin suite read it. Change a default here and all of them follow.
//
// The recipe is persistent contrastive divergence as IGEBM (Du & Mordatch 2019), JEM and the UvA
// deep-learning tutorial on EBMs train MNIST, with the tutorial's numbers where it has them:
// images in [-1, 1]; negatives from a replay buffer of 10,000 chains, 5% restarted from uniform
// noise each step; short-run Langevin clamped to the data's box; the energy-magnitude
// regulariser alpha (E+^2 + E-^2) with alpha = 0.1; gradients clipped to norm 0.1; Adam with
// beta1 = 0 (the tutorial's (0, 0.999): momentum lags the moving negatives). lr is 3e-4, not the
// tutorial's 1e-4 over 60 epochs: a 15-minute run has about a thousand updates, and in PyTorch
// runs of this recipe (/examples/pytorch; scored by the digit classifier) 3e-4 had every class
// at >= 3% of the replay buffer by 750-1,000 updates where 1e-4 was still at 1-2%.
//
// Sized for lavapipe (a CPU rasteriser, 2 cores): channels [16, 32] (28 -> 14 -> 7, the seed's
// formula and the conv arithmetic agree for two layers at 28), batch 64 and 20 Langevin steps
// per update. Each update is then 21 forward/backward passes of a 2-layer conv net at batch 64:
// about 1 s on an idle 2-core machine when chosen (0.92-1.0 updates/s; about 2 since issue 12's
// conv kernels; the CLI's default run is 700 updates, src/cli/image-config.ts); [32, 64], batch
// 128 and 60 steps (the tutorial's scale) took 9.6 s per update then. The tutorial
// runs 60 steps of size 10 with each pixel's gradient clamped to +-0.03; this sampler does not
// clamp gradients, so the defaults take fewer steps of the same size with the same noise
// (std 0.005 per step) and rely on the box clamp, the regulariser and the norm clip.

/** Everything the default image run is made of. */
export interface ImageConfig {
  /** The ConvEnergyModel's stride-2 conv channels. */
  channels: readonly number[];
  kernelSize: number;
  /** The model's activation (by name): SiLU, smooth, so Langevin's dE/dx is (LeakyReLU's is piecewise constant). */
  activation: string;
  batchSize: number;
  /** Langevin steps per update (k of PCD-k). */
  langevinSteps: number;
  /** h of x <- x - h dE/dx + noiseScale sqrt(2h) eps. */
  stepSize: number;
  /** The Langevin noise's std per step, noiseScale * sqrt(2h) (the tutorial's 0.005). */
  noiseStd: number;
  /** The data's box: chains start uniform in it and are clamped to it after every step. */
  range: { readonly min: number; readonly max: number };
  lr: number;
  betas: readonly [number, number];
  /** alpha of the regulariser alpha (mean E+^2 + mean E-^2). */
  energyRegWeight: number;
  /** The largest global gradient norm (clipGradNorm_). */
  maxGradNorm: number;
  /** Replay buffer rows. */
  bufferSize: number;
  /** Fraction of each batch's chains restarted from uniform noise. */
  restartFraction: number;
}

export const IMAGE_DEFAULTS: Readonly<ImageConfig> = Object.freeze({
  channels: Object.freeze([16, 32]),
  kernelSize: 3,
  activation: 'silu',
  batchSize: 64,
  langevinSteps: 20,
  stepSize: 10,
  noiseStd: 0.005,
  range: Object.freeze({ min: -1, max: 1 }),
  lr: 3e-4,
  betas: Object.freeze([0, 0.999]) as unknown as readonly [number, number],
  energyRegWeight: 0.1,
  maxGradNorm: 0.1,
  bufferSize: 10000,
  restartFraction: 0.05,
});
