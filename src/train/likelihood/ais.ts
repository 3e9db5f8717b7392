// Annealed importance sampling (Neal 2001): log Z of an energy, Z = integral exp(-E(x)) dx, on
// the geometric path from a normalised Gaussian base q (a GaussianNoise) to the target,
//
//   E_beta(x) = (1 - beta) (-log q(x)) + beta E(x),   0 = beta_0 < beta_1 < ... < beta_K = 1.
//
// Chains start as exact draws of q (log Z_0 = 0). At each beta_k every chain's log weight gains
// (beta_k - beta_{k-1}) (-log q(x) - E(x)) at its current x, then the chain takes HMC steps that
// leave E_{beta_k}'s distribution invariant (today's fused HMC kernels: momentum, leapfrog,
// Metropolis decision on the GPU). Then Z ~ mean_i w_i, so
//
//   log Z = log mean_i exp(logw_i)          (a logsumexp on the GPU)
//   se    = std_i(w_i) / (sqrt(N) mean_i w_i)  (the delta method: the std of log Z's estimate)
//   ESS   = (sum w)^2 / sum w^2.
//
// Nothing is read back until the end: the weights accumulate in a tensor, and one readback
// fetches log Z, its standard error, the ESS and the HMC acceptance rate together. The estimate
// is biased low by about se^2 / 2 (Jensen), which the standard error bounds.
import { isEnergyFunction, type BaseEnergyFunction } from '../../nn/energy.js';
import { concat, keep, noGrad, tidy, zeros, Tensor } from '../../tensor/index.js';
import { copyInto_, hmcAccept_, hmcBegin_, hmcLeap_, type HmcState } from '../../tensor/ops/fused/index.js';
import { fmt, sameShape } from '../../tensor/shape.js';
import { checkOptionKeys, intOption, numberOption } from '../losses/base.js';
import { GaussianNoise } from '../losses/gaussian-noise.js';
import { describe } from '../samplers/options.js';
import { callKey, streamSeed, STREAM_INIT } from '../samplers/streams.js';

export interface AnnealedImportanceSamplingOptions {
  /** The shape of one sample (a number for a vector). */
  dim: number | readonly number[];
  /** Independent chains (default 1024); the standard error shrinks as 1 / sqrt(nChains). */
  nChains?: number;
  /** K, the steps of the path (default 200); ignored when betas is given. */
  nTemperatures?: number;
  /**
   * How beta goes from 0 to 1: 'sigmoid' (default; Grosse et al.'s, denser at both ends) or
   * 'linear'; or the betas themselves, increasing from 0 to 1.
   */
  schedule?: 'sigmoid' | 'linear' | readonly number[];
  /** The base distribution q (default N(0, I)); it should cover the target's mass. */
  base?: GaussianNoise;
  /** HMC's leapfrog step (default 0.1). */
  stepSize?: number;
  /** Leapfrog steps per HMC proposal (default 5). */
  nLeapfrogSteps?: number;
  /** HMC proposals at each intermediate beta (default 1). */
  stepsPerTemperature?: number;
  /** Same seed, same estimate. Without one, a fresh key per call (the samplers' unseeded stream). */
  seed?: number;
  /** Keep the per-chain log weights [nChains] in the result (a tensor the caller disposes). */
  returnLogWeights?: boolean;
  /** Keep the chains' final states [nChains, ...dim] (approximate draws of the target). */
  returnSamples?: boolean;
}

export interface AnnealedImportanceSamplingResult {
  /** The estimate of log Z (nats). */
  logZ: number;
  /** Its standard error (delta method over the chains' weights). */
  standardError: number;
  /** The weights' effective sample size, (sum w)^2 / sum w^2, between 1 and nChains. */
  effectiveSampleSize: number;
  /** The fraction of HMC proposals accepted along the path (a step size check). */
  acceptanceRate: number;
  nChains: number;
  nTemperatures: number;
  logWeights?: Tensor;
  samples?: Tensor;
}

const NAME = 'annealedImportanceSampling';
const KEYS = ['dim', 'nChains', 'nTemperatures', 'schedule', 'base', 'stepSize', 'nLeapfrogSteps', 'stepsPerTemperature', 'seed', 'returnLogWeights', 'returnSamples'];
/** The sigmoid schedule's steepness (Grosse, Maddison & Salakhutdinov 2013 use 4). */
const SIGMOID_RADIUS = 4;

/** The betas 0 = beta_0 < ... < beta_K = 1 of a schedule. */
export function annealingSchedule(kind: 'sigmoid' | 'linear', k: number): number[] {
  if (kind === 'linear') return Array.from({ length: k + 1 }, (_, i) => i / k);
  const s = (i: number) => 1 / (1 + Math.exp(-SIGMOID_RADIUS * ((2 * i) / k - 1)));
  const lo = s(0);
  const hi = s(k);
  return Array.from({ length: k + 1 }, (_, i) => (i === 0 ? 0 : i === k ? 1 : (s(i) - lo) / (hi - lo)));
}

function checkSchedule(v: unknown, k: number): number[] {
  if (v === undefined || v === 'sigmoid' || v === 'linear') return annealingSchedule(v ?? 'sigmoid', k);
  if (!Array.isArray(v) || v.length < 2 || v[0] !== 0 || v[v.length - 1] !== 1 || v.some((b, i) => typeof b !== 'number' || !Number.isFinite(b) || (i > 0 && b <= v[i - 1])))
    throw new Error(`${NAME}: schedule must be 'sigmoid', 'linear' or an increasing array of betas from 0 to 1, got ${describe(v)}`);
  return [...(v as number[])];
}

/** E(x) as [n], checked. */
function energyOf(energy: BaseEnergyFunction, x: Tensor): Tensor {
  const e: unknown = energy.forward(x);
  const n = x.shape[0]!;
  if (!(e instanceof Tensor) || e.dtype !== 'f32' || !(sameShape(e.shape, [n]) || sameShape(e.shape, [n, 1])))
    throw new Error(`${NAME}: energy.forward(x) must return f32 [${n}] (one energy per chain) for x of shape ${fmt(x.shape)}, got ${e instanceof Tensor ? `${e.dtype} ${fmt(e.shape)}` : describe(e)}`);
  return e.rank === 1 ? e : e.reshape([n]);
}

/** dE/dx, checked against x. */
function gradientOf(energy: BaseEnergyFunction, x: Tensor): Tensor {
  const g: unknown = energy.gradient(x);
  if (!(g instanceof Tensor) || g.dtype !== 'f32' || !sameShape(g.shape, x.shape))
    throw new Error(`${NAME}: energy.gradient(x) must return f32 of x's shape ${fmt(x.shape)}, got ${g instanceof Tensor ? `${g.dtype} ${fmt(g.shape)}` : describe(g)}`);
  return g;
}

interface Checked {
  dim: number[];
  nChains: number;
  betas: number[];
  base: GaussianNoise;
  stepSize: number;
  nLeapfrogSteps: number;
  stepsPerTemperature: number;
  seed: number | undefined;
}

function checkOptions(energy: unknown, opts: AnnealedImportanceSamplingOptions): Checked {
  if (!isEnergyFunction(energy)) throw new Error(`${NAME}: energy must be an energy function (forward(x) and gradient(x)), got ${describe(energy)}`);
  checkOptionKeys(NAME, opts, KEYS);
  const dim = typeof opts.dim === 'number' ? [opts.dim] : opts.dim;
  if (!Array.isArray(dim) || dim.length === 0 || dim.some((d) => !Number.isInteger(d) || d < 1))
    throw new Error(`${NAME}: dim must be a positive integer or a non-empty array of them (one sample's shape), got ${describe(opts.dim)}`);
  const nChains = intOption(NAME, 'nChains', opts.nChains ?? 1024, 2);
  const k = intOption(NAME, 'nTemperatures', opts.nTemperatures ?? 200, 1);
  const betas = checkSchedule(opts.schedule, k);
  if (opts.base !== undefined && !(opts.base instanceof GaussianNoise)) throw new Error(`${NAME}: base must be a GaussianNoise, got ${describe(opts.base)}`);
  const base = opts.base ?? new GaussianNoise();
  const d = dim.reduce((a, b) => a * b, 1);
  if (base.size !== null && base.size !== d) throw new Error(`${NAME}: the base has ${base.size} elements per sample, dim ${fmt(dim)} has ${d}`);
  for (const k2 of ['returnLogWeights', 'returnSamples'] as const)
    if (opts[k2] !== undefined && typeof opts[k2] !== 'boolean') throw new Error(`${NAME}: ${k2} must be a boolean, got ${describe(opts[k2])}`);
  const seed = opts.seed;
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0)) throw new Error(`${NAME}: seed must be a non-negative safe integer, got ${describe(seed)}`);
  const stepsPerTemperature = intOption(NAME, 'stepsPerTemperature', opts.stepsPerTemperature ?? 1, 1);
  if ((betas.length - 2) * stepsPerTemperature >= 2 ** 32) throw new Error(`${NAME}: ${betas.length - 2} temperatures x ${stepsPerTemperature} steps exceed the 2^32 HMC steps a key counts`);
  return {
    dim: [...dim],
    nChains,
    betas,
    base,
    stepSize: numberOption(NAME, 'stepSize', opts.stepSize ?? 0.1, 0, false),
    nLeapfrogSteps: intOption(NAME, 'nLeapfrogSteps', opts.nLeapfrogSteps ?? 5, 1),
    stepsPerTemperature,
    seed,
  };
}

/**
 * The AIS run as GPU work: returns [logZ, se, ess, acceptanceRate] (a [4] tensor, unread), the
 * log weights and the final chains. For logLikelihood, which adds to the same readback.
 */
export function aisTensors(energy: unknown, opts: AnnealedImportanceSamplingOptions): { summary: Tensor; logWeights: Tensor; samples: Tensor; nTemperatures: number; nChains: number } {
  const c = checkOptions(energy, opts);
  const model = energy as BaseEnergyFunction;
  const { betas, base, nChains } = c;
  const key = callKey(c.seed);
  const device = (model as { parameters?: () => Tensor[] }).parameters?.()?.[0]?.device ?? base.loc?.device ?? base.scale?.device;
  return noGrad(() =>
    tidy(() => {
      const x = keep(base.sample(nChains, c.dim, { seed: streamSeed(key, STREAM_INIT), device }));
      const rt = x.device;
      const logW = keep(zeros([nChains], { device: rt }));
      const state: HmcState = {
        x,
        grad: keep(Tensor.empty(rt, x.shape, 'ais-grad')),
        chain: keep(zeros([3, nChains], { device: rt })),
        xp: keep(Tensor.empty(rt, x.shape, 'ais-proposal')),
        p: keep(Tensor.empty(rt, x.shape, 'ais-momentum')),
      };
      // The path's energy and gradient at beta, from the target's and the base's.
      const pathEnergy = (beta: number, e: Tensor, logQ: Tensor) => e.mul(beta).add(logQ.mul(beta - 1));
      const pathGradient = (beta: number, y: Tensor) => gradientOf(model, y).mul(beta).add(base.energyGradient(y).mul(1 - beta));
      let counter = 0;
      const k = betas.length - 1;
      const scratch = [state.grad, state.chain, state.xp, state.p];
      try {
        for (let i = 1; i <= k; i++) {
          tidy(() => {
            const beta = betas[i]!;
            const e = energyOf(model, x);
            const logQ = base.logProb(x);
            // log w += (beta_i - beta_{i-1}) (-log q(x) - E(x)) at the chain's x.
            copyInto_(logW, logW.add(logQ.neg().sub(e).mul(beta - betas[i - 1]!)));
            if (i === k) return; // the last transition would not change a weight
            copyInto_(state.grad, pathGradient(beta, x));
            copyInto_(state.chain, pathEnergy(beta, e, logQ), { count: nChains });
            for (let j = 0; j < c.stepsPerTemperature; j++) {
              tidy(() => {
                const a = { step: counter++, key, h: c.stepSize, mass: 1 };
                hmcBegin_(state, a);
                let gp = pathGradient(beta, state.xp);
                for (let l = 1; l < c.nLeapfrogSteps; l++) {
                  hmcLeap_(state, gp, a);
                  gp.dispose();
                  gp = pathGradient(beta, state.xp);
                }
                hmcAccept_(state, gp, pathEnergy(beta, energyOf(model, state.xp), base.logProb(state.xp)), a);
              });
            }
          });
        }
      } catch (e) {
        // A failing energy (a wrong shape, say): free the kept chain state before the error goes up.
        for (const t of [...scratch, x, logW]) t.dispose();
        throw e;
      }
      const m = logW.max();
      const w = logW.sub(m).exp();
      const meanW = w.mean();
      const logZ = meanW.log().add(m);
      const se = w.var(0, false, 1).sqrt().div(meanW).mul(1 / Math.sqrt(nChains));
      const ess = w.sum().square().div(w.square().sum());
      const proposals = Math.max(1, counter);
      const accept = state.chain.slice(0, 2, 3).mean().mul(1 / proposals);
      const summary = concat([logZ, se, ess, accept].map((t) => t.reshape([1])));
      for (const t of scratch) t.dispose();
      return { summary, logWeights: logW, samples: x, nTemperatures: k, nChains };
    }),
  );
}

/**
 * Estimates log Z = log integral exp(-E(x)) dx of `energy` by annealed importance sampling from
 * a Gaussian base, with its standard error. All of it runs on the GPU; one readback at the end.
 */
export async function annealedImportanceSampling(energy: unknown, opts: AnnealedImportanceSamplingOptions): Promise<AnnealedImportanceSamplingResult> {
  const r = aisTensors(energy, opts);
  try {
      const [logZ, standardError, effectiveSampleSize, acceptanceRate] = await r.summary.data();
      return {
        logZ: logZ!,
        standardError: standardError!,
        effectiveSampleSize: effectiveSampleSize!,
        acceptanceRate: acceptanceRate!,
        nChains: r.nChains,
        nTemperatures: r.nTemperatures,
        ...(opts.returnLogWeights ? { logWeights: r.logWeights } : {}),
        ...(opts.returnSamples ? { samples: r.samples } : {}),
      };
    } finally {
      r.summary.dispose();
      if (!opts.returnLogWeights) r.logWeights.dispose();
      if (!opts.returnSamples) r.samples.dispose();
    }
  }
