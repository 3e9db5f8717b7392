// The fused Langevin sampler (src/train/samplers/fused-mlp.ts) where it does not simply agree to
// round-off:
// - Fallbacks: an energy or a size the fused kernel cannot run takes the general path, so its
//   chains (every kept step, the diagnostics) are bit-equal to fused: false, with the same
//   dispatches.
// - Kinks: with ReLU or LeakyReLU a pre-activation within round-off of 0 can take the other
//   branch in one path, so one chain may differ by more than round-off. How much is bounded:
//   for a piecewise-linear MLP both paths follow x <- clamp(x - h grad E(x) + sigma eps) with the
//   same eps, clamp is non-expansive, and grad E is constant on each activation pattern, so the
//   distance D_t between the fused chain and the general one grows only through round-off (rho
//   per step) and through units whose sign can differ between the two points:
//       D_{t+1} <= D_t + rho + h_t * sum over units u that can flip of flip(u),
//   where a unit can flip only if |z_u(y_t)| <= Lip(z_u) D_t + eps (z_u its pre-activation at
//   the general chain's state y_t, Lip(z_u) a Lipschitz bound of z_u in x), and flip(u) bounds
//   the change of grad E when u alone changes branch, (1 - slope) Lip(z_u) |dE/da_u|max (a
//   telescoping sum over single flips bounds several at once). The test computes this bound per
//   chain from the general path's trajectory and the weights (Frobenius norms for the layers'
//   operator norms, an upper bound) and requires every chain's distance to lie within it: a
//   kinked chain is off by about one unit's flip times h, never arbitrarily.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';
import type { Tensor } from '../src/index.js';

const dispatches = () => ebm.getDevice().stats.dispatches;

beforeAll(async () => {
  await device();
});

async function bits(t: Tensor): Promise<Uint32Array> {
  const d = await t.data();
  return new Uint32Array(d.buffer, d.byteOffset, d.length).slice();
}

describe('a fallback is the general path, bit for bit', () => {
  class Quadratic extends ebm.BaseEnergyFunction {
    override forward(x: Tensor): Tensor {
      return x.square().sum(1).mul(0.5);
    }
  }
  class TweakedMLP extends ebm.MLPEnergyModel {
    override forward(x: Tensor): Tensor {
      return super.forward(x).mul(2);
    }
  }
  const cases: [string, () => ebm.BaseEnergyFunction, number, RegExp][] = [
    ['an energy that is not an MLP', () => new Quadratic(), 2, /not an MLPEnergyModel/],
    ['an analytic energy', () => new ebm.GaussianEnergy([0, 0], [[1, 0], [0, 1]]), 2, /not an MLPEnergyModel/],
    ['a subclass that changes forward()', () => new TweakedMLP({ inputDim: 2, hiddenDims: [16], seed: 1 }), 2, /not an MLPEnergyModel/],
    ['an activation the kernel lacks (GELU, tanh approximation)', () => new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [16], activation: new ebm.GELU('tanh'), seed: 1 }), 2, /GELU after a Linear is not an activation the fused kernel computes/],
    ['a hidden width over 256', () => new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [300], seed: 1 }), 2, /width 300/],
    ['an input over 16', () => new ebm.MLPEnergyModel({ inputDim: 20, hiddenDims: [16], seed: 1 }), 20, /input width 20/],
    ['more than 4 hidden layers', () => new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [8, 8, 8, 8, 8], seed: 1 }), 2, /5 hidden layers/],
    ['f16 weights', () => new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [16], seed: 1 }).toDtype('f16'), 2, /f16/],
    [
      'a network ending in an activation',
      () => new ebm.NeuralEnergyFunction(new ebm.Sequential(new ebm.Linear(2, 16, { seed: 1 }), new ebm.ReLU(), new ebm.Linear(16, 1, { seed: 2 }), new ebm.Tanh())),
      2,
      /ends in an activation/,
    ],
  ];
  for (const [what, make, dim, reason] of cases)
    it(what, async () => {
      const energy = make();
      const opts = { stepSize: 0.01, clamp: { min: -3, max: 3 } };
      const fallback = new ebm.LangevinDynamics(energy, opts);
      const support = fallback.fusedSupport([dim]);
      expect(support.fused).toBe(false);
      expect(support.reason).toMatch(reason);
      const x0 = ebm.randn([9, dim], { seed: 1 });
      const call = { x: x0, nSteps: 4, returnTrajectory: true, returnDiagnostics: true, seed: 1 } as const;
      let d = dispatches();
      const a = fallback.sample(call);
      const fallbackDispatches = dispatches() - d;
      d = dispatches();
      const b = new ebm.LangevinDynamics(energy, { ...opts, fused: false }).sample(call);
      expect(fallbackDispatches, 'dispatches').toBe(dispatches() - d);
      const pairs: [string, Tensor, Tensor][] = [
        ['samples', a.samples, b.samples],
        ['trajectory', a.trajectory!, b.trajectory!],
        ...(['mean', 'var', 'energy'] as const).map((k): [string, Tensor, Tensor] => [k, a.diagnostics![k], b.diagnostics![k]]),
      ];
      for (const [name, p, q] of pairs) expect(await bits(p), name).toEqual(await bits(q));
      // The chains moved (a fallback that returned x0 would match a general path that did too).
      expect(await bits(a.samples)).not.toEqual(await bits(x0));
      for (const t of [x0, a.samples, a.trajectory!, b.samples, b.trajectory!, ...Object.values(a.diagnostics!), ...Object.values(b.diagnostics!)]) t.dispose();
    });
});

// ---- kinks -----------------------------------------------------------------------------------

interface Layer {
  /** [out][in] */
  w: number[][];
  b: number[];
}

/** The Linear layers of an MLPEnergyModel, in order, read back as float64. */
async function layersOf(model: ebm.MLPEnergyModel): Promise<Layer[]> {
  const params = new Map(model.namedParameters());
  const names = [...params.keys()].filter((n) => n.endsWith('.weight'));
  const out: Layer[] = [];
  for (const name of names) {
    const wt = params.get(name)!;
    const [o, i] = wt.shape as [number, number];
    const wv = await wt.data();
    const bv = await params.get(name.replace(/weight$/, 'bias'))!.data();
    out.push({ w: Array.from({ length: o }, (_, r) => Array.from(wv.subarray(r * i, (r + 1) * i))), b: Array.from(bv) });
  }
  return out;
}

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const frob = (m: number[][]) => norm(m.flat());

/**
 * Per chain, the bound on |fused - general| after the steps (see the top of the file).
 * `states[t]` is the general chains' state before step t ([chains * d]); `hs[t]` step t's size.
 */
function kinkBounds(layers: Layer[], slope: number, states: Float32Array[], hs: number[], chains: number): number[] {
  const hidden = layers.slice(0, -1);
  const out = layers[layers.length - 1]!.w[0]!;
  const F = hidden.map((l) => frob(l.w));
  const prod = (from: number, to: number) => F.slice(from, to).reduce((p, q) => p * q, 1);
  // Lip(z_u) and flip(u) for unit k of hidden layer l.
  const lip = hidden.map((l, li) => l.w.map((row) => norm(row) * prod(0, li)));
  const flip = hidden.map((l, li) =>
    l.w.map((_, k) => {
      const down = li === hidden.length - 1 ? Math.abs(out[k]!) : norm(hidden[li + 1]!.w.map((r) => r[k]!)) * prod(li + 2, hidden.length) * norm(out);
      return (1 - slope) * lip[li]![k]! * down;
    }),
  );
  // Round-off allowances: rho per step on the state, eps on a pre-activation (both far above
  // what f32 gives: the paths agree to ~1e-7 over 20 steps where no unit is near its kink).
  const rho = 1e-6;
  const d = hidden[0]!.w[0]!.length;
  return Array.from({ length: chains }, (_, c) => {
    let D = 0;
    states.forEach((s, t) => {
      let a = Array.from(s.subarray(c * d, (c + 1) * d));
      let sum = 0;
      hidden.forEach((l, li) => {
        const z = l.w.map((row, k) => row.reduce((acc, w, j) => acc + w * a[j]!, l.b[k]!));
        z.forEach((zk, k) => {
          const eps = 1e-5 * (1 + Math.abs(l.b[k]!) + l.w[k]!.reduce((acc, w, j) => acc + Math.abs(w * a[j]!), 0));
          if (Math.abs(zk) <= lip[li]![k]! * D + eps) sum += flip[li]![k]!;
        });
        a = z.map((v) => (v > 0 ? v : slope * v));
      });
      D += rho + hs[t]! * sum;
    });
    return D;
  });
}

describe('kinked activations: every chain within its bound', () => {
  const configs = [
    {
      name: 'ReLU 2-64-1, clamp [-1, 1]',
      make: () => new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [64], activation: 'relu', seed: 2 }),
      slope: 0,
      dim: 2,
      chains: 50,
      opts: { stepSize: 0.01, clamp: { min: -1, max: 1 } } as ebm.LangevinOptions,
      hs: (_t: number) => 0.01,
    },
    {
      name: 'LeakyReLU(0.2) 4-100-60-1, clamp max 2, step size and noise scale schedules',
      make: () => new ebm.MLPEnergyModel({ inputDim: 4, hiddenDims: [100, 60], activation: new ebm.LeakyReLU(0.2), seed: 5 }),
      slope: 0.2,
      dim: 4,
      chains: 33,
      opts: { clamp: { max: 2 }, stepSize: (t: number) => 0.02 / (1 + t), noiseScale: (t: number) => (t % 2 ? 0.5 : 1) } as ebm.LangevinOptions,
      hs: (t: number) => 0.02 / (1 + t),
    },
  ];
  for (const c of configs)
    it(c.name, async (ctx) => {
      const energy = c.make();
      const fusedSampler = new ebm.LangevinDynamics(energy, c.opts);
      const support = fusedSampler.fusedSupport();
      if (!support.fused) ctx.skip(`the fused path does not run here: ${support.reason}`);
      const steps = 20;
      const x0 = ebm.randn([c.chains, c.dim], { seed: 100 });
      const before = dispatches();
      const fused = fusedSampler.sample({ x: x0, nSteps: steps, seed: 11 });
      expect(dispatches() - before, 'one fused dispatch for 20 steps').toBe(1);
      const general = new ebm.LangevinDynamics(energy, { ...c.opts, fused: false }).sample({ x: x0, nSteps: steps, seed: 11, returnTrajectory: true });
      const [f, g, tr, x0v] = await Promise.all([fused.data(), general.samples.data(), general.trajectory!.data(), x0.data()]);
      // States before each step: x0, then trajectory rows 0 .. steps - 2.
      const states = [x0v];
      for (let t = 0; t < steps - 1; t++) {
        const s = new Float32Array(c.chains * c.dim);
        for (let ch = 0; ch < c.chains; ch++) for (let j = 0; j < c.dim; j++) s[ch * c.dim + j] = tr[(ch * steps + t) * c.dim + j]!;
        states.push(s);
      }
      const bounds = kinkBounds(await layersOf(energy), c.slope, states, Array.from({ length: steps }, (_, t) => c.hs(t)), c.chains);
      const errors = Array.from({ length: c.chains }, (_, ch) => norm(Array.from({ length: c.dim }, (_, j) => f[ch * c.dim + j]! - g[ch * c.dim + j]!)));
      errors.forEach((e, ch) => expect(e, `chain ${ch}: |fused - general| ${e.toExponential(2)} exceeds its bound ${bounds[ch]!.toExponential(2)}`).toBeLessThanOrEqual(bounds[ch]!));
      // Round-off alone keeps a chain within 1e-4; at most one chain may have met a kink.
      expect(errors.filter((e) => e > 1e-4).length, 'chains beyond round-off').toBeLessThanOrEqual(1);
      const sorted = [...errors].sort((p, q) => p - q);
      expect(sorted[Math.floor(c.chains / 2)], 'median chain error').toBeLessThan(1e-5);
      const sb = [...bounds].sort((p, q) => p - q);
      console.log(`${c.name}: largest |fused - general| ${sorted[c.chains - 1]!.toExponential(2)}; bounds from ${sb[0]!.toExponential(2)} to ${sb[c.chains - 1]!.toExponential(2)}`);
      for (const t of [x0, fused, general.samples, general.trajectory!]) t.dispose();
    });
});
