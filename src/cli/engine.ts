// What a TrainConfig becomes: the library's model, sampler, optimizer, loss and trainer, wired
// as TorchEBM's examples wire them. `step(batch)` records one training step on the GPU and
// returns its metrics unread; the train command reads them back only on logged steps.
import * as ebm from '../index.js';
import { buildModel, buildSampler, type TrainConfig } from './config.js';
import type { TrainerState } from './checkpoint.js';

export interface StepHandle {
  step: number;
  /** One readback: the step's metrics by name. */
  read(): Promise<Record<string, number>>;
}

export interface Engine {
  model: ebm.BaseEnergyFunction;
  sampler: ebm.LangevinDynamics | ebm.HamiltonianMonteCarlo;
  optimizer: ebm.Optimizer;
  /** The metric names, 'loss' first (CD adds posEnergy and negEnergy). */
  metricNames: readonly string[];
  /** Records one training step on `batch`; nothing is read back. */
  step(batch: ebm.Tensor): StepHandle;
  /** State beyond model and optimizer that a checkpoint carries (the PCD replay buffer). */
  trainerState(): Promise<TrainerState>;
  restoreTrainerState(s: { tensors: Map<string, ebm.Tensor>; json: unknown }): void;
  dispose(): void;
}

/** Per-purpose seeds derived from the run's seed. */
const SEED = { model: 1, data: 2, loss: 3, eval: 4, evalData: 5, batches: 6 } as const;

export function seedFor(config: TrainConfig, purpose: keyof typeof SEED, extra = 0): number {
  return ebm.deriveSeed(ebm.deriveSeed(config.seed, SEED[purpose])!, extra)!;
}

export function createEngine(config: TrainConfig, opts: { resumeStep?: number } = {}): Engine {
  const model = buildModel(config.model, seedFor(config, 'model'));
  const sampler = buildSampler(config.sampler, model);
  const optimizer = new ebm.Adam(model.parameters(), { lr: config.optimizer.lr, betas: config.optimizer.betas });
  // A resumed run continues with a fresh, reproducible stream of loss noise for the step it resumes at.
  const lossSeed = seedFor(config, 'loss', opts.resumeStep ?? 0);
  const l = config.loss;
  const loss = makeLoss(config, model, sampler, lossSeed);
  const Trainer = config.mixedPrecision ? ebm.MixedPrecisionEBMTrainer : ebm.EBMTrainer;
  // logEvery 0: the trainer never reads back by itself; the CLI reads its logged steps.
  const trainer = new Trainer({ energyFunction: model, sampler, optimizer, lossFn: loss, logEvery: 0 });

  return {
    model,
    sampler,
    optimizer,
    metricNames: trainer.metricNames,
    step(batch) {
      const m = trainer.step(batch);
      return {
        step: m.step,
        read: async () => {
          try {
            return await m.read();
          } catch (e) {
            if (e instanceof ebm.NonFiniteLossError) throw new Error(e.message);
            throw e;
          }
        },
      };
    },
    async trainerState() {
      const tensors = new Map<string, ebm.Tensor>();
      const buf = loss instanceof ebm.ContrastiveDivergence ? loss.replayBuffer : null;
      if (buf) tensors.set('replay_buffer', buf);
      const scaler = trainer instanceof ebm.MixedPrecisionEBMTrainer ? await trainer.scaler.stateDict() : null;
      return { tensors, json: { scaler } };
    },
    restoreTrainerState(s) {
      const scaler = (s.json as { scaler?: Parameters<ebm.GradScaler['loadStateDict']>[0] } | null)?.scaler;
      if (scaler && trainer instanceof ebm.MixedPrecisionEBMTrainer) trainer.scaler.loadStateDict(scaler);
      const buf = s.tensors.get('replay_buffer');
      if (buf && loss instanceof ebm.ContrastiveDivergence) loss.loadReplayBuffer(buf);
    },
    dispose() {
      trainer.dispose();
      if (loss instanceof ebm.ContrastiveDivergence) loss.dispose();
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
  }
}
