// The trainers' state: stateDict() / loadStateDict() carry model, optimizer, scheduler, grad
// scaler, replay buffer, data order, step and every random stream, so N steps straight and
// N/2 + (stateDict -> fresh trainer -> loadStateDict) + N/2 end on the same parameter bytes;
// a state that does not fit is an error that leaves the trainer as it was; fit({ data, ... })
// with its data order (the CLI's wrapped order among them) and an AbortSignal.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, settleGarbage } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { deriveSeed } from '../src/nn/init.js';
import { Mulberry32, permutation } from '../src/tensor/host-random.js';
import {
  Adam,
  ContrastiveDivergence,
  DataLoader,
  DenoisingScoreMatching,
  disposeTrainerState,
  EBMTrainer,
  LangevinDynamics,
  makeDataset,
  MixedPrecisionEBMTrainer,
  StepLR,
  type EBMTrainerStateDict,
} from '../src/train/index.js';
import { MLPEnergyModel } from '../src/nn/index.js';

beforeAll(async () => {
  await device();
});

interface Run {
  model: MLPEnergyModel;
  lossFn: ContrastiveDivergence | DenoisingScoreMatching;
  trainer: EBMTrainer;
  dispose(): void;
}

/** A small persistent-CD run; `seeded: false` leaves loss and sampler to the process-wide streams. */
function makeRun(opts: { mixed?: boolean; seeded?: boolean; loss?: 'pcd' | 'dsm'; spectralNorm?: boolean } = {}): Run {
  const model = new MLPEnergyModel({ inputDim: 2, hiddenDims: [16, 16], activation: 'silu', useSpectralNorm: opts.spectralNorm ?? false, seed: 1 });
  const sampler = new LangevinDynamics(model, { stepSize: 0.05, noiseScale: 0.1 });
  const seed = opts.seeded === false ? undefined : 2;
  const lossFn =
    opts.loss === 'dsm'
      ? new DenoisingScoreMatching(model, { noiseScale: 0.1, seed })
      : new ContrastiveDivergence(model, sampler, { kSteps: 4, persistent: true, bufferSize: 96, newSampleRatio: 0.25, seed });
  const optimizer = new Adam(model.parameters(), { lr: 1e-2 });
  const Trainer = opts.mixed ? MixedPrecisionEBMTrainer : EBMTrainer;
  const trainer = new Trainer({ energyFunction: model, sampler, optimizer, lossFn, logEvery: 3, scheduler: new StepLR(optimizer, { stepSize: 3, gamma: 0.5 }) });
  return {
    model,
    lossFn,
    trainer,
    dispose() {
      trainer.dispose();
      if (lossFn instanceof ContrastiveDivergence) lossFn.dispose();
      optimizer.dispose();
      model.dispose();
    },
  };
}

async function bytesOf(tensors: readonly Tensor[]): Promise<Float32Array[]> {
  return Promise.all(tensors.map((t) => t.data()));
}

function sameBytes(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((x, i) => x.length === b[i]!.length && x.every((v, j) => Object.is(v, b[i]![j])));
}

describe('a resumed run is bit-identical to an uninterrupted one', () => {
  const N = 8;
  const cases = [
    { name: 'EBMTrainer, persistent CD, seeded, 10 rows of a 64-row epoch per step', mixed: false, seeded: true, loss: 'pcd' as const },
    { name: 'EBMTrainer, spectral norm, denoising score matching', mixed: false, seeded: true, loss: 'dsm' as const, spectralNorm: true },
    { name: 'MixedPrecisionEBMTrainer, persistent CD drawing from the process-wide streams (no seeds)', mixed: true, seeded: false, loss: 'pcd' as const },
  ];
  for (const c of cases) {
    it(c.name, { timeout: 120_000 }, async () => {
      const data = makeDataset('eight-gaussians', { nSamples: 64, seed: 3 });
      const fit = { batchSize: 10, seed: 4 };
      // The straight run; its state at step 0 also pins the process-wide streams it starts from.
      const a = makeRun(c);
      const start = await a.trainer.stateDict();
      const straight = await a.trainer.fit({ data, steps: N, ...fit });
      expect(straight.steps).toBe(N);
      const want = await bytesOf([...a.model.stateDict().values()]);
      const wantLoss = straight.last!.loss;

      // Half, from the same start.
      const b = makeRun(c);
      b.trainer.loadStateDict(start);
      await b.trainer.fit({ data, steps: N / 2, ...fit });
      const half = await b.trainer.stateDict();
      b.dispose();
      expect(half.step).toBe(N / 2);
      expect(half.data).toMatchObject({ rows: 64, batchSize: 10, seed: 4, epoch: 0, offset: 40 });
      if (c.loss === 'pcd') expect(half.loss!.replayBuffer!.shape).toEqual([96, 2]);
      if (c.mixed) expect(half.scaler!.scale).toBeGreaterThan(0);

      // A fresh trainer continues from the half-way state; the half-way data order continues too.
      const r = makeRun(c);
      r.trainer.loadStateDict(half);
      expect(r.trainer.steps).toBe(N / 2);
      const resumed = await r.trainer.fit({ data, steps: N / 2, ...fit });
      expect(resumed.last!.step).toBe(N);
      const got = await bytesOf([...r.model.stateDict().values()]);
      expect(sameBytes(got, want)).toBe(true);
      expect(resumed.last!.loss).toBe(wantLoss);
      if (a.lossFn instanceof ContrastiveDivergence && r.lossFn instanceof ContrastiveDivergence)
        expect(sameBytes(await bytesOf([r.lossFn.replayBuffer!]), await bytesOf([a.lossFn.replayBuffer!]))).toBe(true);

      for (const sd of [start, half]) disposeTrainerState(sd);
      a.dispose();
      r.dispose();
      data.dispose();
    });
  }

  it('stateDict() copies: it leaks nothing once disposed, and later steps do not change it', async () => {
    const run = makeRun();
    const data = makeDataset('eight-gaussians', { nSamples: 64, seed: 3 });
    await run.trainer.fit(data, { steps: 2, batchSize: 16, seed: 1 });
    // Tensors earlier tests dropped without dispose() are finalized now, not between the counts
    // (under load the registry ran mid-test once: 47 -> 25).
    await settleGarbage();
    const before = ebm.memory().liveTensors;
    const sd = await run.trainer.stateDict();
    const saved = await bytesOf([...sd.model.values()]);
    await run.trainer.fit(data, { steps: 1, batchSize: 16 });
    expect(sameBytes(await bytesOf([...sd.model.values()]), saved)).toBe(true);
    disposeTrainerState(sd);
    await settleGarbage();
    expect(ebm.memory().liveTensors).toBe(before);
    run.dispose();
    data.dispose();
  });
});

describe('loadStateDict: an invalid state changes nothing', () => {
  it('a state whose optimizer part does not fit: an error naming it, and model, optimizer, loss and step as they were', async () => {
    const data = makeDataset('eight-gaussians', { nSamples: 64, seed: 3 });
    const other = makeRun();
    await other.trainer.fit(data, { steps: 3, batchSize: 16, seed: 5 });
    const foreign = await other.trainer.stateDict();
    const run = makeRun();
    await run.trainer.fit(data, { steps: 2, batchSize: 16, seed: 6 });
    const params = await bytesOf(run.model.parameters());
    const buffer = await bytesOf([(run.lossFn as ContrastiveDivergence).replayBuffer!]);
    const mine = await run.trainer.stateDict();

    // The model part loads (it fits), then the optimizer part fails: the model is put back.
    const bad: EBMTrainerStateDict = { ...foreign, optimizer: { ...foreign.optimizer, paramGroups: foreign.optimizer.paramGroups.slice(1) } };
    expect(() => run.trainer.loadStateDict(bad)).toThrow(/^EBMTrainer\.loadStateDict: Adam\.loadStateDict: the state dict has 0 parameter groups, this optimizer 1 \(the trainer is as it was\)$/);
    expect(() => run.trainer.loadStateDict({ ...foreign, step: -1 })).toThrow(/step must be an integer >= 0, got -1/);
    expect(() => run.trainer.loadStateDict({ ...foreign, data: { ...foreign.data!, offset: 99 } })).toThrow(/data order offset 99 is not below its 64 rows/);
    expect(() => run.trainer.loadStateDict({ ...foreign, random: { generator: { seed: -1, offset: 0 }, samplerCalls: 0 } })).toThrow(/random must be \{ generator/);
    const wrongModel = new Map([...foreign.model].slice(1));
    expect(() => run.trainer.loadStateDict({ ...foreign, model: wrongModel })).toThrow(/MLPEnergyModel\.loadStateDict: .*1 missing.*\(the trainer is as it was\)/s);
    expect(() => run.trainer.loadStateDict({ ...foreign, loss: { ...foreign.loss, replayBuffer: ebm.zeros([5, 2]) } })).toThrow(/loadReplayBuffer: expected \[96, \.\.\.dim\]/);
    expect(() => new MixedPrecisionEBMTrainer({ energyFunction: run.model, optimizer: run.trainer.optimizer, lossFn: run.lossFn }).loadStateDict({ ...mine, scheduler: null, scaler: { scale: 0, growthFactor: 2, backoffFactor: 0.5, growthInterval: 10, growthTracker: 0 } })).toThrow(
      /GradScaler: option 'initScale' must be a finite number > 0, got 0/,
    );
    expect(sameBytes(await bytesOf(run.model.parameters()), params)).toBe(true);
    expect(sameBytes(await bytesOf([(run.lossFn as ContrastiveDivergence).replayBuffer!]), buffer)).toBe(true);
    expect(run.trainer.steps).toBe(2);
    // The optimizer's moments are as they were too.
    const after = await run.trainer.stateDict();
    expect(sameBytes(await bytesOf([after.optimizer.state[0]!.exp_avg as Tensor]), await bytesOf([mine.optimizer.state[0]!.exp_avg as Tensor]))).toBe(true);
    for (const sd of [foreign, mine, after]) disposeTrainerState(sd);
    other.dispose();
    run.dispose();
    data.dispose();
  });
});

describe('fit and its data order', () => {
  it('fit({ data, ... }) is fit(data, { ... }); wrap makes every batch full across epoch ends', async () => {
    const model = new MLPEnergyModel({ inputDim: 2, hiddenDims: [8], activation: 'relu', seed: 7 });
    const sizes: number[] = [];
    class Probe extends DenoisingScoreMatching {
      override compute(x: Tensor) {
        sizes.push(x.shape[0]!);
        return super.compute(x);
      }
    }
    const trainer = new EBMTrainer({ energyFunction: model, optimizer: new Adam(model.parameters(), { lr: 0 }), lossFn: new Probe(model, { noiseScale: 0.1, seed: 1 }) });
    const data = ebm.arange(0, 20).reshape([10, 2]);
    const r = await trainer.fit({ data, steps: 5, batchSize: 4, wrap: true, seed: 1 });
    expect(sizes).toEqual([4, 4, 4, 4, 4]);
    expect([r.steps, r.epochs]).toEqual([5, 2]);
    await expect(trainer.fit({ data } as never, {})).rejects.toThrow(/give fit\(\{ data, \.\.\.options \}\) or fit\(data, options\), not both/);
    await expect(trainer.fit({ data, wrapp: true } as never)).rejects.toThrow(/unknown option 'wrapp'/);
    data.dispose();
    trainer.dispose();
  });

  it('an AbortSignal stops fit after the step in progress', async () => {
    const model = new MLPEnergyModel({ inputDim: 2, hiddenDims: [8], activation: 'relu', seed: 8 });
    const trainer = new EBMTrainer({ energyFunction: model, optimizer: new Adam(model.parameters(), { lr: 1e-3 }), lossFn: new DenoisingScoreMatching(model, { noiseScale: 0.1, seed: 1 }) });
    const data = makeDataset('eight-gaussians', { nSamples: 64, seed: 3 });
    const stop = new AbortController();
    const r = await trainer.fit({ data, steps: 10, batchSize: 8, signal: stop.signal, onStep: (m) => void (m.step === 3 && stop.abort()) });
    expect([r.steps, r.aborted, trainer.steps]).toEqual([3, true, 3]);
    expect(r.last!.isRead).toBe(true);
    data.dispose();
    trainer.dispose();
  });

  it("the wrapped order is the CLI's: epoch e shuffled by mulberry32(deriveSeed(seed, e)), the flat row stream cut into full batches", () => {
    const data = ebm.zeros([10, 2]);
    const seed = 1234;
    const loader = new DataLoader(data, { batchSize: 4, wrap: true, seed });
    // The CLI's formula before the loader: row (step - 1) * b + i of the epochs laid end to end.
    const perm = (e: number) => permutation(10, ((g) => () => g.next())(new Mulberry32(deriveSeed(seed, e)!)));
    for (let step = 1; step <= 8; step++) {
      const want = Array.from({ length: 4 }, (_, i) => {
        const flat = (step - 1) * 4 + i;
        return perm(Math.floor(flat / 10))[flat % 10]!;
      });
      expect(Array.from(loader.nextIndices().indices)).toEqual(want);
    }
    expect(loader.stateDict()).toEqual({ rows: 10, batchSize: 4, shuffle: true, dropLast: false, wrap: true, seed, epoch: 3, offset: 2 });
    const other = new DataLoader(data, { batchSize: 4, wrap: true, seed });
    expect(() => other.loadStateDict({ ...loader.stateDict(), batchSize: 5 })).toThrow(/DataLoader\.loadStateDict: the state is for another configuration \(batchSize 5, here 4\)/);
    other.loadStateDict(loader.stateDict());
    expect(Array.from(other.nextIndices().indices)).toEqual(Array.from(loader.nextIndices().indices));
    expect(() => new DataLoader(data, { batchSize: 11 })).toThrow(/DataLoader: batchSize \(11\) exceeds the 10 rows of data/);
    data.dispose();
  });
});
