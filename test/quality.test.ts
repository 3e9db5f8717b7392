// Sample quality, computed by the project: the committed digit classifier
// (demo/assets/digit-classifier.safetensors, trained by scripts/train-digit-classifier.mjs with
// this library) reaches >= 97% on the held-out digits; the figures (mean confidence, class
// histogram, Inception-style score) match a float64 computation on a hand-made probability
// table; real digits score sharp and balanced, uniform noise does not.
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm } from './helpers.js';

// The digits from the committed asset (test/mnist.test.ts checks it equals the mnist package): its
// 1.6 MB inflate much faster than the package's 21 MB of JSON parse.
const ASSET = join(import.meta.dirname, '..', 'demo', 'assets', 'mnist-digits.bin');

let classifier: ebm.DigitClassifier;

beforeAll(async () => {
  await device();
  classifier = await ebm.loadDigitClassifier();
});

/** The figures in float64, straight from the definitions, for probabilities p [n][k]. */
function reference(p: number[][]): { conf: number; hist: number[]; is: number } {
  const n = p.length;
  const k = p[0]!.length;
  const py = Array.from({ length: k }, (_, j) => p.reduce((s, r) => s + r[j]!, 0) / n);
  let conf = 0;
  let kl = 0;
  const hist = new Array<number>(k).fill(0);
  for (const r of p) {
    const top = Math.max(...r);
    conf += top / n;
    r.forEach((v, j) => {
      if (v === top) hist[j]! += 1 / n;
      if (v > 0) kl += (v * Math.log(v / py[j]!)) / n;
    });
  }
  return { conf, hist, is: Math.exp(kl) };
}

describe('the committed digit classifier', () => {
  test('held-out accuracy >= 97% (999 digits no training run saw)', async () => {
    const held = await ebm.loadMnist({ source: ASSET, split: 'heldOut' });
    const acc = await ebm.digitAccuracy(classifier, held.images, held.labels);
    console.log(`digit classifier: held-out accuracy ${(100 * acc).toFixed(2)}% on ${held.labels.length} digits`);
    expect(acc).toBeGreaterThanOrEqual(0.97);
    held.images.dispose();
  });
});

describe('qualityFromLogits', () => {
  test('matches float64 on a hand-made probability table', async () => {
    // Rows: sharp on different classes, flat, two-way split, and one with tiny probabilities.
    const rows: number[][] = [
      [0.91, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01],
      [0.02, 0.82, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02],
      new Array(10).fill(0.1).map((v, i) => (i === 3 ? 0.19 : 0.09)),
      [0.5, 0.3, 0.2, 0, 0, 0, 0, 0, 0, 0].map((v) => v * 0.99 + 0.001),
      [1e-6, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6, 1 - 9e-6, 1e-6, 1e-6],
      [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.35, 0.25],
    ];
    const norm = rows.map((r) => r.map((v) => v / r.reduce((a, b) => a + b, 0)));
    // Logits up to a per-row constant: log p + c_i (the softmax removes c_i).
    const logits = ebm.tensor(
      norm.flatMap((r, i) => r.map((v) => Math.log(v) + i - 2)),
      [6, 10],
    );
    const q = await ebm.qualityFromLogits(logits);
    // f32 (exp, log, sums of 10 and 6 terms): 1e-5 absolute on figures of order 1.
    const ref = reference(norm);
    expect(q.n).toBe(6);
    expect(Math.abs(q.meanConfidence - ref.conf)).toBeLessThan(1e-5);
    q.histogram.forEach((h, j) => expect(Math.abs(h - ref.hist[j]!), `class ${j}`).toBeLessThan(1e-6));
    expect(Math.abs(q.inceptionScore - ref.is) / ref.is).toBeLessThan(1e-5);
    expect(q.minClassFraction).toBe(Math.min(...q.histogram));
    logits.dispose();
  });

  test('the extremes: one-hot on distinct classes gives IS = classes, identical rows give 1', async () => {
    const sharp = ebm.tensor(Array.from({ length: 100 }, (_, i) => (i % 11 === 0 ? 40 : 0)), [10, 10]);
    const q = await ebm.qualityFromLogits(sharp);
    expect(q.inceptionScore).toBeCloseTo(10, 3);
    expect(q.meanConfidence).toBeCloseTo(1, 5);
    q.histogram.forEach((h) => expect(h).toBeCloseTo(0.1, 6));
    const same = ebm.tensor(Array.from({ length: 40 }, (_, i) => (i % 10) * 0.3), [4, 10]);
    expect((await ebm.qualityFromLogits(same)).inceptionScore).toBeCloseTo(1, 5);
    await expect(ebm.qualityFromLogits(ebm.zeros([3]))).rejects.toThrow(/qualityFromLogits: expected logits \[n >= 1, classes >= 2\], got \[3\]/);
  });
});

describe('scoreDigits', () => {
  test('real held-out digits: confident and balanced; uniform noise: neither', async () => {
    const held = await ebm.loadMnist({ source: ASSET, split: 'heldOut', limit: 600 });
    const real = await ebm.scoreDigits(classifier, held.images, { batchSize: 256 });
    console.log(`real digits: confidence ${real.meanConfidence.toFixed(3)}, IS ${real.inceptionScore.toFixed(2)}, smallest class ${real.minClassFraction.toFixed(3)}`);
    // 600 digits of a stratified split: each class holds 8.6% to 11.3% of them; a >= 97% classifier
    // moves at most 3% of them, so every class is above 5%, and the score near its maximum 10.
    expect(real.n).toBe(600);
    expect(real.meanConfidence).toBeGreaterThan(0.9);
    expect(real.minClassFraction).toBeGreaterThan(0.05);
    expect(real.inceptionScore).toBeGreaterThan(8);
    const noise = ebm.rand([600, 1, 28, 28], { low: -1, high: 1, seed: 3 });
    const q = await ebm.scoreDigits(classifier, noise, { batchSize: 256 });
    console.log(`uniform noise: confidence ${q.meanConfidence.toFixed(3)}, IS ${q.inceptionScore.toFixed(2)}, histogram ${q.histogram.map((h) => h.toFixed(2)).join(' ')}`);
    // Noise images look alike to the classifier: they fall into a few classes (4 here, IS 2.2,
    // confidence 0.77 with seed 3), far from real digits' 10 balanced classes.
    expect(q.inceptionScore).toBeLessThan(3);
    expect(q.inceptionScore).toBeLessThan(real.inceptionScore / 3);
    expect(q.histogram.filter((h) => h < 0.01).length).toBeGreaterThanOrEqual(4);
    expect(q.meanConfidence).toBeLessThan(real.meanConfidence - 0.1);
    held.images.dispose();
    noise.dispose();
  });

  test('argument errors', async () => {
    await expect(ebm.scoreDigits(classifier, ebm.zeros([2, 28, 28]))).rejects.toThrow(/scoreDigits: images must be \[n >= 1, 1, 28, 28\], got \[2, 28, 28\]/);
    await expect(ebm.scoreDigits(null as never, ebm.zeros([2, 1, 28, 28]))).rejects.toThrow(/scoreDigits: classifier must be a DigitClassifier/);
    await expect(ebm.scoreDigits(classifier, ebm.zeros([2, 1, 28, 28]), { batchSize: 0 })).rejects.toThrow(/scoreDigits: batchSize must be an integer >= 1, got 0/);
    expect(() => classifier.forward(ebm.zeros([2, 1, 14, 14]))).toThrow(/DigitClassifier: expected images \[batch, 1, 28, 28\]/);
  });
});
