// The image EBM recipe (src/train/image-recipe.ts from IMAGE_DEFAULTS): clipGradNorm_ against a
// float64 computation, the clipped trainer's step bounded by the clip, and a tiny image model
// trained on real digits by the full recipe (PCD, replay buffer with uniform restarts, clamped
// Langevin, energy regulariser, clipping) that stays finite and puts held-out digits below noise.
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm } from './helpers.js';

// The digits from the committed asset (test/mnist.test.ts checks it equals the mnist package): its
// 1.6 MB inflate much faster than the package's 21 MB of JSON parse.
const ASSET = join(import.meta.dirname, '..', 'demo', 'assets', 'mnist-digits.bin');

beforeAll(async () => {
  await device();
  ebm.manualSeed(1234);
});

describe('clipGradNorm_', () => {
  test('scales every gradient by min(1, maxNorm / (norm + 1e-6)), norm over all of them', async () => {
    const a = ebm.tensor(new Float32Array(6), [2, 3]).requiresGrad_();
    const b = ebm.tensor(new Float32Array(4), [4]).requiresGrad_();
    const ga = Float32Array.from({ length: 6 }, (_, i) => Math.sin(i + 1) * 3);
    const gb = Float32Array.from({ length: 4 }, (_, i) => Math.cos(i) * 2);
    const norm64 = Math.sqrt([...ga, ...gb].reduce((s, v) => s + v * v, 0));
    for (const maxNorm of [0.5, 100]) {
      a.grad = ebm.keep(ebm.tensor(ga, [2, 3]));
      b.grad = ebm.keep(ebm.tensor(gb, [4]));
      const norm = ebm.clipGradNorm_([a, b], maxNorm)!;
      expect((await norm.data())[0]).toBeCloseTo(norm64, 4);
      norm.dispose();
      const s = Math.min(1, maxNorm / (norm64 + 1e-6));
      const got = [...(await a.grad!.data()), ...(await b.grad!.data())];
      // f32 round-off of a few products: 1e-5 relative to the values (|g| <= 3).
      got.forEach((v, i) => expect(Math.abs(v - [...ga, ...gb][i]! * s)).toBeLessThan(3e-5));
    }
    expect(ebm.clipGradNorm_([ebm.zeros([2])], 1)).toBeUndefined();
    expect(() => ebm.clipGradNorm_([a], 0)).toThrow(/clipGradNorm_: maxNorm must be a finite number > 0, got 0/);
    expect(() => ebm.clipGradNorm_([a, 3 as never], 1)).toThrow(/clipGradNorm_: params\[1\] is not a Tensor/);
  });

  test('ClippedEBMTrainer: an SGD step (lr 1) moves the parameters by at most maxGradNorm', async () => {
    const dist = async (maxGradNorm: number | undefined) => {
      const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [16, 16], seed: 3 });
      const before = await Promise.all(model.parameters().map((p) => p.data()));
      const optimizer = new ebm.SGD(model.parameters(), { lr: 1 });
      const sampler = new ebm.LangevinDynamics(model, { stepSize: 0.01, fused: false });
      const lossFn = new ebm.ContrastiveDivergence(model, sampler, { kSteps: 2, seed: 5, energyRegWeight: 1 });
      const opts = { energyFunction: model, optimizer, lossFn };
      const trainer = maxGradNorm === undefined ? new ebm.EBMTrainer(opts) : new ebm.ClippedEBMTrainer({ ...opts, maxGradNorm });
      await trainer.step(ebm.randn([8, 2], { seed: 9, std: 3 })).read();
      const after = await Promise.all(model.parameters().map((p) => p.data()));
      let sq = 0;
      after.forEach((a, i) => a.forEach((v, j) => (sq += (v - before[i]![j]!) ** 2)));
      return Math.sqrt(sq);
    };
    const free = await dist(undefined);
    // The unclipped step is well above the clip, so the clip is what bounds the clipped one.
    expect(free).toBeGreaterThan(0.05);
    const clipped = await dist(0.01);
    expect(clipped).toBeGreaterThan(0.0099);
    expect(clipped).toBeLessThan(0.0101);
    expect(() => new ebm.ClippedEBMTrainer({ energyFunction: null as never, optimizer: null as never, lossFn: null as never, maxGradNorm: 1 })).toThrow(/ClippedEBMTrainer: energyFunction/);
  });
});

describe('createImageEBM', () => {
  test('the defaults come from IMAGE_DEFAULTS; overrides and bad options', () => {
    const r = ebm.createImageEBM({ seed: 1, bufferSize: 64 });
    expect(r.model.channels).toEqual(ebm.IMAGE_DEFAULTS.channels);
    expect(r.loss.kSteps).toBe(ebm.IMAGE_DEFAULTS.langevinSteps);
    expect(r.loss.bufferSize).toBe(64);
    expect(r.loss.newSampleRatio).toBe(ebm.IMAGE_DEFAULTS.restartFraction);
    expect(r.loss.energyRegWeight).toBe(ebm.IMAGE_DEFAULTS.energyRegWeight);
    expect(r.sampler.clamp).toEqual({ min: -1, max: 1 });
    expect(r.trainer.maxGradNorm).toBe(ebm.IMAGE_DEFAULTS.maxGradNorm);
    // noiseScale sqrt(2h) is the configured per-step noise std.
    expect((r.sampler.noiseScale as number) * Math.sqrt(2 * ebm.IMAGE_DEFAULTS.stepSize)).toBeCloseTo(ebm.IMAGE_DEFAULTS.noiseStd, 12);
    expect(() => ebm.createImageEBM({ chanels: [4] } as never)).toThrow(/createImageEBM: unknown option 'chanels'/);
    expect(() => ebm.createImageEBM({ range: { min: 1, max: -1 } })).toThrow(/createImageEBM: range must be \{ min, max \} with min < max/);
  });

  test('a tiny image model trains on digits without NaN and puts held-out digits below noise', async () => {
    // 28x28 digits, channels [4, 8], batch 16, 5 Langevin steps, 15 updates: seconds on lavapipe.
    const train = await ebm.loadMnist({ source: ASSET, limit: 320 });
    const held = await ebm.loadMnist({ source: ASSET, split: 'heldOut', limit: 64 });
    const r = ebm.createImageEBM({ channels: [4, 8], batchSize: 16, langevinSteps: 5, bufferSize: 320, lr: 1e-3, seed: 11 });
    const noise = r.noise(64);
    const energies = async (x: ebm.Tensor) => {
      const e = ebm.noGrad(() => r.model.forward(x));
      const v = await e.data();
      e.dispose();
      return v;
    };
    const result = await r.trainer.fit(train.images, { steps: 15, batchSize: 16, seed: 2, logEvery: 5 });
    expect(result.steps).toBe(15);
    const last = result.last!;
    expect(Number.isFinite(last.loss) && Number.isFinite(last.posEnergy) && Number.isFinite(last.negEnergy)).toBe(true);
    // The replay buffer holds chains inside the box.
    const buf = await r.loss.replayBuffer!.data();
    expect(buf.every((v) => v >= -1 && v <= 1)).toBe(true);
    const eHeld = await energies(held.images);
    const eNoise = await energies(noise);
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    // Every held-out digit below the median noise energy is a far stronger claim than the means;
    // the means must separate by more than the noise energies' spread.
    console.log(`tiny image EBM after 15 steps: E(held-out digits) ${mean(eHeld).toFixed(4)}, E(uniform noise) ${mean(eNoise).toFixed(4)}`);
    const sd = Math.sqrt(eNoise.reduce((s, v) => s + (v - mean(eNoise)) ** 2, 0) / eNoise.length);
    expect(mean(eHeld)).toBeLessThan(mean(eNoise) - 2 * sd);
    for (const t of [train.images, held.images, noise]) t.dispose();
    r.loss.dispose();
    r.trainer.dispose();
  });
});
