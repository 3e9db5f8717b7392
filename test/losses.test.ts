// Losses: exact score matching against its closed form (TorchEBM's test: E = |x|^2/2 on N(0, I)
// gives -d/2, batch 4096, d = 10, tolerance 0.2), the sign test (DSM and SSM push a quadratic
// energy's scale the same way as exact SM, and an inverted DSM, TorchEBM 0.7's bug, is caught),
// ContrastiveDivergence's value, metrics and replay buffer, CD moving a Gaussian towards the
// data, and the errors for bad input.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { BaseEnergyFunction } from '../src/nn/energy.js';
import { Parameter } from '../src/nn/parameter.js';
import { ContrastiveDivergence, DenoisingScoreMatching, LangevinDynamics, ScoreMatching, SGD, SlicedScoreMatching } from '../src/train/index.js';

/** E = |x|^2 / 2 over every dim of a sample, written with ops (twice differentiable). */
class HalfSquare extends BaseEnergyFunction {
  override forward(x: Tensor): Tensor {
    return x.square().reshape([x.shape[0]!, -1]).sum(1).mul(0.5);
  }
}

/** E = a |x|^2 / 2 with a learnable scale a. */
class ScaledQuadratic extends BaseEnergyFunction {
  readonly a: Parameter;
  constructor(a: number) {
    super();
    this.a = this.registerParameter('a', new Parameter(ebm.tensor([a])));
  }
  override forward(x: Tensor): Tensor {
    return x.square().sum(1).mul(this.a).mul(0.5);
  }
}

/** E = |x - mu|^2 / 2 with a learnable mean. */
class LearnableGaussian extends BaseEnergyFunction {
  readonly mu: Parameter;
  constructor(mu: number[]) {
    super();
    this.mu = this.registerParameter('mu', new Parameter(ebm.tensor(mu)));
  }
  override forward(x: Tensor): Tensor {
    return x.sub(this.mu).square().sum(1).mul(0.5);
  }
}

/** Returns energies of the wrong shape ([batch, 2] instead of [batch]). */
class WrongShape extends BaseEnergyFunction {
  readonly w = this.registerParameter('w', new Parameter(ebm.tensor([1])));
  override forward(x: Tensor): Tensor {
    return x.mul(this.w);
  }
}

/** d loss / d a for a ScaledQuadratic at scale a, by backward through the loss (one readback). */
async function scaleGradient(make: (m: ScaledQuadratic) => { forward(x: Tensor): Tensor }, a: number, x: Tensor): Promise<number> {
  const model = new ScaledQuadratic(a);
  const loss = make(model);
  ebm.tidy(() => loss.forward(x).backward());
  const g = await model.a.grad!.item();
  model.dispose();
  return g;
}

beforeAll(async () => {
  await device();
});

describe('ScoreMatching (exact, double backward)', () => {
  it('E = |x|^2/2 on N(0, I) data gives -d/2 (TorchEBM: batch 4096, d = 10, within 0.2)', async () => {
    const x = ebm.randn([4096, 10], { seed: 1 });
    const loss = ebm.tidy(() => new ScoreMatching(new HalfSquare()).forward(x));
    const v = await loss.item();
    console.log(`exact SM on N(0, I_10), 4096 samples: ${v.toFixed(4)} (expected -5)`);
    expect(Math.abs(v - -5)).toBeLessThan(0.2);
    loss.dispose();
    x.dispose();
  });

  it('equals 1/2 mean |x|^2 - d on the batch itself, and in chunks the same as at once', async () => {
    const x = ebm.randn([64, 3, 2, 2], { seed: 2 });
    const sq = await ebm.tidy(() => x.square().sum().div(64)).item();
    const d = 12;
    const whole = await ebm.tidy(() => new ScoreMatching(new HalfSquare()).forward(x)).item();
    // 200 bytes per replica forces one copy per chunk: 12 chunks.
    const chunked = await ebm.tidy(() => new ScoreMatching(new HalfSquare(), { maxReplicaBytes: 200 }).forward(x)).item();
    expect(whole).toBeCloseTo(0.5 * sq - d, 3);
    expect(chunked).toBeCloseTo(whole, 4);
    x.dispose();
  });

  it('its gradient with respect to the parameters is exact: d/da of (a^2/2 mean|x|^2 - a d) = a mean|x|^2 - d', async () => {
    const x = ebm.randn([256, 2], { seed: 3 });
    const sq = await ebm.tidy(() => x.square().sum().div(256)).item();
    for (const a of [0.5, 1.5]) {
      const g = await scaleGradient((m) => new ScoreMatching(m), a, x);
      expect(g).toBeCloseTo(a * sq - 2, 3);
    }
    x.dispose();
  });
});

describe('the sign test: DSM and SSM move a quadratic energy the way exact SM does', () => {
  // E = a|x|^2/2 on N(0, I) data. Exact SM: J(a) = d (a^2/2 - a), so dJ/da < 0 for a < 1, > 0 for a > 1.
  // DSM's optimum is a = 1/(1 + sigma^2), SSM's is a = 1: with a = 0.3 and a = 2 all must agree.
  const sigma = 0.1;
  const losses: [string, (m: ScaledQuadratic) => { forward(x: Tensor): Tensor }][] = [
    ['ScoreMatching', (m) => new ScoreMatching(m)],
    ['DenoisingScoreMatching', (m) => new DenoisingScoreMatching(m, { noiseScale: sigma, seed: 5 })],
    ['SlicedScoreMatching', (m) => new SlicedScoreMatching(m, { nProjections: 4, seed: 6 })],
    ['SlicedScoreMatching (rademacher)', (m) => new SlicedScoreMatching(m, { nProjections: 2, projection: 'rademacher', seed: 7 })],
  ];

  it('a too small (0.3): every loss says increase a; a too large (2): every loss says decrease a', async () => {
    const x = ebm.randn([2048, 2], { seed: 4 });
    const report: string[] = [];
    for (const [name, make] of losses) {
      const small = await scaleGradient(make, 0.3, x);
      const large = await scaleGradient(make, 2, x);
      report.push(`${name}: dL/da = ${small.toFixed(3)} at a = 0.3, ${large.toFixed(3)} at a = 2`);
      expect(small, `${name} at a = 0.3`).toBeLessThan(0);
      expect(large, `${name} at a = 2`).toBeGreaterThan(0);
    }
    console.log(report.join('\n'));
    x.dispose();
  });

  it('DSM gradient matches its closed form d[a(1 + sigma^2) - 1], and the inverted target (+eps/sigma) fails the test', async () => {
    const x = ebm.randn([4096, 2], { seed: 8 });
    const g = await scaleGradient((m) => new DenoisingScoreMatching(m, { noiseScale: sigma, seed: 9 }), 0.3, x);
    // With g = a x~: dL/da = mean over the batch of (a |x~|^2 - eps . x~ / sigma), whose
    // expectation is d (a (1 + sigma^2) - 1). The loss's first call draws eps from deriveSeed(9, 0).
    const eps = ebm.randn(x.shape, { seed: ebm.deriveSeed(9, 0) });
    const [xv, ev] = [await x.data(), await eps.data()];
    let sum = 0;
    for (let i = 0; i < xv.length; i++) {
      const xt = xv[i]! + sigma * ev[i]!;
      sum += 0.3 * xt * xt - (ev[i]! * xt) / sigma;
    }
    expect(g).toBeCloseTo(sum / 4096, 3);
    expect(Math.abs(g - 2 * (0.3 * (1 + sigma * sigma) - 1))).toBeLessThan(0.5); // sampling sd about 0.22
    eps.dispose();
    // TorchEBM 0.7's sign: target +eps/sigma, i.e. 1/2 |grad E(x~) + eps/sigma|^2. Its gradient is
    // d (a (1 + sigma^2) + 1) > 0 everywhere: it says "decrease a" even when a is too small.
    const model = new ScaledQuadratic(0.3);
    const inverted = {
      forward: (xx: Tensor) => {
        const eps = ebm.randn(xx.shape, { seed: 9 });
        const noised = xx.add(eps.mul(sigma)).requiresGrad_();
        const gE = ebm.grad((v: Tensor) => model.forward(v).sum(), { createGraph: true })(noised);
        return gE.add(eps.mul(1 / sigma)).square().sum().mul(0.5 / xx.shape[0]!);
      },
    };
    ebm.tidy(() => inverted.forward(x).backward());
    expect(await model.a.grad!.item()).toBeGreaterThan(0);
    model.dispose();
    x.dispose();
  });
});

describe('ContrastiveDivergence', () => {
  it('loss = mean E(x+) - mean E(x-) + w (mean E(x+)^2 + mean E(x-)^2), with posEnergy and negEnergy', async () => {
    const model = new LearnableGaussian([0.5, -0.5]);
    const sampler = new LangevinDynamics(model, { stepSize: 0.1 });
    const cd = new ContrastiveDivergence(model, sampler, { energyRegWeight: 0.1 });
    const pos = ebm.randn([32, 2], { seed: 10 });
    const neg = ebm.randn([48, 2], { seed: 11, std: 2 });
    const [loss, metrics] = ebm.tidy(() => {
      const out = cd.compute(pos, neg);
      return [out.loss, out.metrics!];
    });
    const ePos = await ebm.tidy(() => model.forward(pos)).data();
    const eNeg = await ebm.tidy(() => model.forward(neg)).data();
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const meanSq = (a: Float32Array) => a.reduce((s, v) => s + v * v, 0) / a.length;
    const expected = mean(ePos) - mean(eNeg) + 0.1 * (meanSq(ePos) + meanSq(eNeg));
    expect(await loss.item()).toBeCloseTo(expected, 4);
    const [mp, mn] = await metrics.data();
    expect(mp).toBeCloseTo(mean(ePos), 4);
    expect(mn).toBeCloseTo(mean(eNeg), 4);
    expect(cd.metricNames).toEqual(['posEnergy', 'negEnergy']);
    [loss, metrics, pos, neg].forEach((t) => t.dispose());
    cd.dispose();
  });

  for (const persistent of [false, true]) {
    it(`${persistent ? 'persistent ' : ''}CD with Langevin moves a Gaussian's mean to the data's`, async () => {
      const model = new LearnableGaussian([0, 0]);
      const sampler = new LangevinDynamics(model, { stepSize: 0.1 });
      // 40 steps of h = 0.1 from N(0, I): the chains forget their start (0.9^40 = 1.5%), so
      // short-run CD's bias towards the starting noise is small.
      const cd = new ContrastiveDivergence(model, sampler, { kSteps: persistent ? 20 : 40, persistent, bufferSize: 1024, seed: 12 });
      const opt = new SGD(model.parameters(), { lr: 0.2 });
      const data = ebm.randn([2048, 2], { seed: 13, std: 0.5 }).add(ebm.tensor([2, -1]));
      let start = Infinity;
      for (let step = 0; step < 60; step++) {
        ebm.tidy(() => {
          opt.zeroGrad();
          cd.forward(data.slice(0, (step % 16) * 128, (step % 16) * 128 + 128)).backward();
          opt.step();
        });
        if (step === 0) {
          const [m0, m1] = await model.mu.data();
          start = Math.hypot(m0! - 2, m1! + 1);
        }
      }
      const [m0, m1] = await model.mu.data();
      const end = Math.hypot(m0! - 2, m1! + 1);
      console.log(`${persistent ? 'PCD' : 'CD'}: mu (${m0!.toFixed(3)}, ${m1!.toFixed(3)}), distance to the data mean ${start.toFixed(3)} after 1 step -> ${end.toFixed(3)} after 60`);
      expect(end).toBeLessThan(0.25);
      expect(end).toBeLessThan(start / 4);
      if (persistent) expect(cd.replayBuffer!.shape).toEqual([1024, 2]);
      data.dispose();
      cd.dispose();
      opt.dispose();
    });
  }

  it('same seed, same loss; loadReplayBuffer copies a saved buffer', async () => {
    const run = async () => {
      const model = new LearnableGaussian([0.3, 0]);
      const cd = new ContrastiveDivergence(model, new LangevinDynamics(model, { stepSize: 0.05 }), { kSteps: 5, persistent: true, bufferSize: 64, seed: 3 });
      const pos = ebm.randn([16, 2], { seed: 1 });
      const v = await ebm.tidy(() => cd.forward(pos)).item();
      const saved = cd.replayBuffer!.clone();
      pos.dispose();
      return { v, cd, saved };
    };
    const a = await run();
    const b = await run();
    expect(a.v).toBe(b.v);
    const fresh = new ContrastiveDivergence(new LearnableGaussian([0, 0]), new LangevinDynamics(new LearnableGaussian([0, 0])), { persistent: true, bufferSize: 64 });
    fresh.loadReplayBuffer(a.saved);
    expect(Array.from(await fresh.replayBuffer!.data())).toEqual(Array.from(await a.saved.data()));
    expect(() => fresh.loadReplayBuffer(ebm.zeros([10, 2]))).toThrow(/\[64, \.\.\.dim\]/);
    for (const r of [a, b]) {
      r.cd.dispose();
      r.saved.dispose();
    }
    fresh.dispose();
  });
});

describe('bad input', () => {
  it('an energy that returns the wrong shape is named, with the shapes', () => {
    const model = new WrongShape();
    const x = ebm.randn([8, 2], { seed: 1 });
    const sampler = new LangevinDynamics(new HalfSquare());
    const cases: [string, () => unknown][] = [
      ['ContrastiveDivergence', () => new ContrastiveDivergence(model, sampler).compute(x, x)],
      ['ScoreMatching', () => new ScoreMatching(model).forward(x)],
      ['DenoisingScoreMatching', () => new DenoisingScoreMatching(model).forward(x)],
      ['SlicedScoreMatching', () => new SlicedScoreMatching(model).forward(x)],
    ];
    const before = ebm.memory().liveTensors;
    for (const [name, f] of cases) {
      expect(() => ebm.tidy(f)).toThrow(new RegExp(`${name}: WrongShape.forward\\(x\\) returned shape \\[\\d+, 2\\] for x of shape \\[\\d+, 2\\]; an energy function must return one energy per sample, shape \\[\\d+\\]`));
    }
    expect(ebm.memory().liveTensors).toBe(before);
    x.dispose();
  });

  it('bad models, samplers, options, batches and negatives', () => {
    const model = new HalfSquare();
    const sampler = new LangevinDynamics(model);
    const x = ebm.randn([8, 2], { seed: 1 });
    expect(() => new ScoreMatching({ forward: 1 })).toThrow(/ScoreMatching: the model must be an energy function/);
    expect(() => new ContrastiveDivergence(model, {})).toThrow(/ContrastiveDivergence: the sampler must have sample/);
    expect(() => new ContrastiveDivergence(model, sampler, { kSteps: 0 })).toThrow(/kSteps must be an integer >= 1, got 0/);
    expect(() => new ContrastiveDivergence(model, sampler, { k_steps: 5 } as never)).toThrow(/unknown option 'k_steps'/);
    expect(() => new ContrastiveDivergence(model, sampler, { newSampleRatio: 1.5 })).toThrow(/newSampleRatio must be in \[0, 1\]/);
    expect(() => new DenoisingScoreMatching(model, { noiseScale: 0 })).toThrow(/noiseScale must be a finite number > 0, got 0/);
    expect(() => new SlicedScoreMatching(model, { nProjections: 1.5 })).toThrow(/nProjections must be an integer >= 1/);
    expect(() => new SlicedScoreMatching(model, { projection: 'sphere' as never })).toThrow(/projection must be 'gaussian' or 'rademacher'/);
    expect(() => new ScoreMatching(model).forward(ebm.randn([8]) as Tensor)).toThrow(/ScoreMatching: the data batch must have shape \[batch, \.\.\.dim\]/);
    expect(() => new ScoreMatching(model).compute(x, x)).toThrow(/ScoreMatching: score matching uses no negative samples/);
    const cd = new ContrastiveDivergence(model, sampler);
    expect(() => ebm.tidy(() => cd.compute(x, ebm.randn([8, 3])))).toThrow(/the negatives have shape \[8, 3\], the data \[8, 2\]/);
    const pcd = new ContrastiveDivergence(model, sampler, { persistent: true, bufferSize: 4 });
    expect(() => ebm.tidy(() => pcd.forward(x))).toThrow(/the batch \(8\) is larger than bufferSize \(4\)/);
    x.dispose();
  });
});
