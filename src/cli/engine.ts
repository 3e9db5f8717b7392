// What a TrainConfig becomes: the library's model, sampler, optimizer, loss and trainer, wired
// as TorchEBM's examples wire them. The train command runs the trainer's fit() and saves its
// stateDict(); nothing here steps or keeps state of its own.
import * as ebm from '../index.js';
import { buildModel, buildSampler, type CliSampler, type TrainConfig } from './config.js';

export interface Engine {
  model: ebm.BaseEnergyFunction;
  sampler: CliSampler;
  optimizer: ebm.Optimizer;
  loss: ebm.BaseLoss;
  trainer: ebm.EBMTrainer;
  dispose(): void;
}

/** Per-purpose seeds derived from the run's seed. */
const SEED = { model: 1, data: 2, loss: 3, eval: 4, evalData: 5, batches: 6 } as const;

/** The seed of one purpose of the run; `extra` derives a further stream from it (an epoch, a step). */
export function seedFor(config: TrainConfig, purpose: keyof typeof SEED, extra = 0): number {
  return ebm.deriveSeed(streamSeed(config, purpose), extra)!;
}

/** The root of a purpose's streams: the data order's seed (its epoch e draws from seedFor(config, 'batches', e)). */
export function streamSeed(config: TrainConfig, purpose: keyof typeof SEED): number {
  return ebm.deriveSeed(config.seed, SEED[purpose])!;
}

/**
 * The run's parts. `legacyResumeStep`: a checkpoint written before trainer states carried the
 * loss's random streams resumes as it always did, with a fresh loss stream seeded by its step.
 */
export function createEngine(config: TrainConfig, opts: { legacyResumeStep?: number } = {}): Engine {
  const model = buildModel(config.model, seedFor(config, 'model'));
  const sampler = buildSampler(config.sampler, model);
  const loss = makeLoss(config, model, sampler, seedFor(config, 'loss', opts.legacyResumeStep ?? 0));
  // NCE's learned log-normaliser c trains with the model's parameters.
  const params = loss instanceof ebm.NoiseContrastiveEstimation ? [...model.parameters(), ...loss.parameters()] : model.parameters();
  const optimizer = new ebm.Adam(params, { lr: config.optimizer.lr, betas: config.optimizer.betas });
  const Trainer = config.mixedPrecision ? ebm.MixedPrecisionEBMTrainer : ebm.EBMTrainer;
  // logEvery 0: the trainer never reads back by itself; fit reads the CLI's logged steps.
  const trainer = new Trainer({ energyFunction: model, sampler, optimizer, lossFn: loss, logEvery: 0 });
  return {
    model,
    sampler,
    optimizer,
    loss,
    trainer,
    dispose() {
      trainer.dispose();
      if (loss instanceof ebm.ContrastiveDivergence) loss.dispose();
      if (loss instanceof ebm.NoiseContrastiveEstimation) {
        loss.dispose();
        loss.noise.dispose();
      }
    },
  };
}

function makeLoss(config: TrainConfig, model: ebm.BaseEnergyFunction, sampler: Engine['sampler'], seed: number): ebm.BaseLoss {
  const l = config.loss;
  switch (l.type) {
    case 'cd':
    case 'pcd':
      return new ebm.ContrastiveDivergence(model, sampler, {
        kSteps: l.kSteps,
        persistent: l.type === 'pcd',
        bufferSize: Math.max(l.bufferSize, config.batchSize),
        newSampleRatio: l.newSampleRatio,
        energyRegWeight: l.energyRegWeight,
        seed,
      });
    case 'dsm':
      return new ebm.DenoisingScoreMatching(model, { noiseScale: l.noiseScale, seed });
    case 'ssm':
      return new ebm.SlicedScoreMatching(model, { nProjections: l.nProjections, seed });
    case 'nce': {
      // The noise: a Gaussian fitted to the training set (the same seeded draw train.ts makes).
      const noise = ebm.tidy(() => ebm.GaussianNoise.fit(ebm.makeDataset(config.dataset, { nSamples: config.datasetSize, seed: seedFor(config, 'data') }), { scaleFactor: l.noiseScaleFactor }));
      return new ebm.NoiseContrastiveEstimation(model, { noise, noiseRatio: l.noiseRatio, seed });
    }
    case 'eqm':
      return new ebm.EquilibriumMatchingLoss(model, { interpolant: l.interpolant, ctThreshold: l.ctThreshold, ctMultiplier: l.ctMultiplier, seed });
  }
}
