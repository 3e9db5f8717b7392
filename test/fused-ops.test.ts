// The fused steps as tensor ops (src/tensor/ops/fused): each against a CPU reference or the
// class that uses it (bit for bit where the same kernel runs), its dispatch count, and its
// argument checks (errors name the argument, its shape and the limit).
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, expectClose } from './helpers.js';
import type { Tensor } from '../src/index.js';

const dispatches = () => ebm.getDevice().stats.dispatches;

async function bits(t: Tensor): Promise<number[]> {
  return Array.from(await ebm.fused.readWords(t));
}

beforeAll(async () => {
  await device();
});

describe('copyInto_, writeData_, readWords: word moves without a dispatch', () => {
  it('copies a range to an offset, uploads at an offset, reads bits back', async () => {
    const dst = ebm.zeros([2, 4]);
    const src = ebm.tensor([1, 2, 3, 4, 5]);
    const before = dispatches();
    ebm.fused.copyInto_(dst, src, { srcOffset: 1, dstOffset: 3, count: 3 });
    ebm.fused.writeData_(dst, new Float32Array([9, 8]), 6);
    ebm.fused.writeData_(dst, new Uint32Array([0x7fc00001]), 0);
    expect(dispatches()).toBe(before);
    const words = await bits(dst);
    expect(words[0]).toBe(0x7fc00001);
    expect(Array.from(ebm.fused.wordsAsFloats(Uint32Array.from(words)).slice(1))).toEqual([0, 0, 2, 3, 4, 9, 8]);
    expect(Array.from(await ebm.fused.readWords(dst, 3, 2))).toEqual(Array.from(new Uint32Array(new Float32Array([2, 3]).buffer)));
    for (const t of [dst, src]) t.dispose();
  });

  it('names the bad argument', () => {
    const a = ebm.zeros([4]);
    const b = ebm.zeros([3]);
    const view = a.reshape([2, 2]);
    const h = ebm.zeros([4]).half();
    const onTape = ebm.ones([4], { requiresGrad: true }).mul(2);
    expect(() => ebm.fused.copyInto_(a, b, { dstOffset: 2 })).toThrow(/copyInto_: 3 elements at dstOffset 2 run past the end of dst \(tensor #\d+ of shape \[4\], 4 elements\)/);
    expect(() => ebm.fused.copyInto_(a, b, { srcOffset: 1, count: 3 })).toThrow(/copyInto_: count must be an integer in \[0, 2\], got 3/);
    expect(() => ebm.fused.copyInto_(a, view)).toThrow(/copyInto_: dst and src share storage/);
    expect(() => ebm.fused.copyInto_(a, h)).toThrow(/copyInto_: src \(tensor #\d+ of shape \[4\]\) has dtype f16; expected f32/);
    expect(() => ebm.fused.copyInto_(onTape, a)).toThrow(/copyInto_: dst .* is the result of a recorded op; updating it in place would corrupt the tape/);
    expect(() => ebm.fused.copyInto_(a, [1, 2] as unknown as Tensor)).toThrow(/copyInto_: src must be a Tensor, got Array/);
    expect(() => ebm.fused.writeData_(b, new Float32Array(2), 2)).toThrow(/writeData_: 2 values at offset 2 run past the end of dst/);
    expect(() => ebm.fused.writeData_(b, [1] as unknown as Float32Array)).toThrow(/writeData_: data must be a Float32Array, Uint32Array or Int32Array, got Array/);
    for (const t of [a, b, view, h, onTape]) t.dispose();
  });
});

describe('optimizer steps', () => {
  it('adamStep_ and sgdStep_ give what Adam and SGD give, bit for bit, one dispatch each', async () => {
    const init = ebm.randn([3, 5], { seed: 1 });
    const grads = [ebm.randn([3, 5], { seed: 2 }), ebm.randn([3, 5], { seed: 3 })];
    const h = { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, decoupled: true, amsgrad: true, maximize: false };
    // The class: AdamW with amsgrad.
    const p = init.clone().requiresGrad_();
    const adam = new ebm.AdamW([p], { lr: h.lr, betas: [h.beta1, h.beta2], eps: h.eps, weightDecay: h.weightDecay, amsgrad: true });
    // The op on a copy.
    const q = init.clone();
    const state = ebm.fused.optimState(q, 3);
    for (const [k, g] of grads.entries()) {
      p.grad = g;
      adam.step();
      const before = dispatches();
      ebm.fused.adamStep_(q, g, state, h, { parity: k % 2 });
      expect(dispatches() - before).toBe(1);
    }
    p.grad = null;
    expect(await bits(q)).toEqual(await bits(p));
    // The state as the class reports it.
    const sd = adam.stateDict();
    const step = ebm.fused.optimStateStep(state, q, 0);
    expect(await step.item()).toBe(2);
    expect(await bits(sd.state[0]!.step as Tensor)).toEqual(await bits(step));
    for (const [k, key] of ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'].entries()) {
      const region = ebm.fused.optimStateRegion(state, q, k);
      expect(region.shape).toEqual([3, 5]);
      expect(await bits(region), key).toEqual(await bits(sd.state[0]![key] as Tensor));
      region.dispose();
    }
    // Loading the state back gives the same next step.
    const r = ebm.fused.optimState(q, 3);
    ebm.fused.loadOptimState_(r, q, ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'].map((key) => sd.state[0]![key] as Tensor), sd.state[0]!.step as Tensor);
    const q2 = q.clone();
    ebm.fused.adamStep_(q, grads[0]!, state, h, { parity: 0 });
    ebm.fused.adamStep_(q2, grads[0]!, r, h, { parity: 1 });
    expect(await bits(q2)).toEqual(await bits(q));

    // SGD with momentum and nesterov.
    const s = init.clone().requiresGrad_();
    const sgd = new ebm.SGD([s], { lr: 0.1, momentum: 0.9, nesterov: true });
    const u = init.clone();
    const mom = ebm.fused.optimState(u, 1);
    for (const [k, g] of grads.entries()) {
      s.grad = g;
      sgd.step();
      ebm.fused.sgdStep_(u, g, mom, { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0, maximize: false }, { parity: k % 2 });
    }
    s.grad = null;
    expect(await bits(u)).toEqual(await bits(s));
    for (const t of [init, ...grads, p, q, q2, state, step, r, s, u, mom, ...Object.values(sd.state[0]!)]) if (typeof t !== 'number') t.dispose();
    adam.dispose();
    sgd.dispose();
  });

  it('a gate skips the update while its flag is set, and unscales the gradient', async () => {
    const p = ebm.tensor([1, 2, 3, 4]);
    const g = ebm.tensor([2, 2, 2, 2]);
    const flags = ebm.zeros([4]);
    const scale = ebm.tensor(4);
    const h = { lr: 1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };
    ebm.fused.sgdStep_(p, g, null, h, { parity: 0, gate: { flags, flagIndex: 2, scale, unscale: true } });
    expect(Array.from(await p.data())).toEqual([0.5, 1.5, 2.5, 3.5]);
    ebm.fused.writeData_(flags, new Uint32Array([1]), 2);
    ebm.fused.sgdStep_(p, g, null, h, { parity: 0, gate: { flags, flagIndex: 2, scale: null, unscale: false } });
    expect(Array.from(await p.data())).toEqual([0.5, 1.5, 2.5, 3.5]);
    for (const t of [p, g, flags, scale]) t.dispose();
  });

  it('names the bad argument', () => {
    const p = ebm.zeros([5]);
    const g = ebm.zeros([4]);
    const g5 = ebm.zeros([5]);
    const state = ebm.fused.optimState(p, 2);
    const flags = ebm.zeros([4]);
    const h = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, amsgrad: false, maximize: false };
    const sgdH = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false };
    expect(state.shape).toEqual([ebm.fused.optimStateSize(5, 2)]);
    expect(() => ebm.fused.adamStep_(p, g, state, h, { parity: 0 })).toThrow(/adamStep_: grad has 4 elements \(shape \[4\]\); expected 5/);
    expect(() => ebm.fused.adamStep_(p, g5, state, { ...h, amsgrad: true }, { parity: 0 })).toThrow(/adamStep_: state has shape \[20\]; .*this op needs 3 regions/);
    expect(() => ebm.fused.adamStep_(p, g5, state, h, { parity: 2 })).toThrow(/adamStep_: parity must be an integer in \[0, 1\], got 2/);
    expect(() => ebm.fused.adamStep_(p, p, state, h, { parity: 0 })).toThrow(/adamStep_: param and grad share storage/);
    expect(() => ebm.fused.adamStep_(p, g5, state, h, { parity: 0, gate: { flags, flagIndex: 4, scale: null, unscale: false } })).toThrow(/adamStep_: gate.flags has 4 elements \(shape \[4\]\); needs at least 5/);
    expect(() => ebm.fused.adamStep_(p, g5, state, h, { parity: 0, gate: { flags, flagIndex: 0, scale: null, unscale: true } })).toThrow(/adamStep_: gate.unscale needs gate.scale/);
    expect(() => ebm.fused.sgdStep_(p, g5, null, sgdH, { parity: 0 })).toThrow(/sgdStep_: momentum 0.9 needs a packed state with one region/);
    expect(() => ebm.fused.optimStateRegion(state, p, 2)).toThrow(/optimStateRegion: k must be an integer in \[0, 1\], got 2/);
    expect(() => ebm.fused.optimState(p, 4)).toThrow(/optimState: regions must be an integer in \[0, 3\], got 4/);
    for (const t of [p, g, g5, state, flags]) t.dispose();
  });
});

describe('checkFinite_ and updateScale_', () => {
  it('flags inf and NaN in one dispatch per six tensors, and a scale update reads the flags', async () => {
    const rt = ebm.getDevice();
    const first = ebm.fused.scalerFlagWord(rt, 'first_optimizer');
    const flags = ebm.zeros([16]);
    const scale = ebm.tensor(1024);
    const finite = Array.from({ length: 7 }, (_, i) => ebm.randn([3 + i], { seed: i }));
    let before = dispatches();
    ebm.fused.checkFinite_(flags, [...finite, ebm.zeros([0])], first, scale);
    expect(dispatches() - before).toBe(2);
    expect((await bits(flags))[first]).toBe(0);
    const bad = ebm.tensor([1, Infinity, 3]);
    ebm.fused.checkFinite_(flags, [finite[0]!, bad], first);
    expect((await bits(flags))[first]).not.toBe(0);
    before = dispatches();
    ebm.fused.updateScale_(flags, scale, { optimizers: 1, growthFactor: 2, backoffFactor: 0.5, growthInterval: 3 });
    expect(dispatches() - before).toBe(1);
    expect(await scale.item()).toBe(512);
    const words = await bits(flags);
    expect(words[first]).toBe(0);
    expect(words[ebm.fused.scalerFlagWord(rt, 'skipped')]).toBe(1);
    expect(() => ebm.fused.checkFinite_(flags, [bad], 16)).toThrow(/checkFinite_: flags has 16 elements \(shape \[16\]\); needs at least 17/);
    expect(() => ebm.fused.updateScale_(flags, scale, { optimizers: 13, growthFactor: 2, backoffFactor: 0.5, growthInterval: 3 })).toThrow(/updateScale_: optimizers must be an integer in \[0, 12\], got 13/);
    for (const t of [flags, scale, bad, ...finite]) t.dispose();
  });
});

describe('samplers steps', () => {
  it('langevinStep_ with no noise is x - h grad, clamped; one dispatch', async () => {
    const x = ebm.tensor([[1, -2], [3, 0.5]]);
    const g = ebm.tensor([[10, -10], [0, 1]]);
    const before = dispatches();
    ebm.fused.langevinStep_(x, g, { step: 0, key: { lo: 1, hi: 0 }, h: 0.1, sigma: 0, clampMin: -0.5, clampMax: 2 });
    expect(dispatches() - before).toBe(1);
    expectClose(await x.data(), [0, -0.5, 2, 0.4], 1e-6, 'x');
    expect(() => ebm.fused.langevinStep_(x, g.reshape([4]), { step: 0, key: { lo: 1, hi: 0 }, h: 0.1, sigma: 0 })).toThrow(/langevinStep_: grad has shape \[4\]; expected \[2, 2\]/);
    expect(() => ebm.fused.langevinStep_(x, x, { step: 0, key: { lo: 1, hi: 0 }, h: 0.1, sigma: 0 })).toThrow(/langevinStep_: x and grad share storage/);
    expect(() => ebm.fused.langevinStep_(x, g, { step: 0, key: { lo: -1, hi: 0 }, h: 0.1, sigma: 0 })).toThrow(/langevinStep_: key.lo must be an integer in \[0, 4294967295\], got -1/);
    expect(() => ebm.fused.langevinStep_(x, g, { step: 0, key: { lo: 1, hi: 0 }, h: NaN, sigma: 0 })).toThrow(/langevinStep_: h must be a finite number, got NaN/);
    for (const t of [x, g]) t.dispose();
  });

  it('hmc ops check the state they update', () => {
    const x = ebm.zeros([4, 3]);
    const state = { x, grad: ebm.zeros([4, 3]), chain: ebm.zeros([3, 5]), xp: ebm.zeros([4, 3]), p: ebm.zeros([4, 3]) };
    const a = { step: 0, key: { lo: 0, hi: 0 }, h: 0.1, mass: 1 };
    expect(() => ebm.fused.hmcBegin_(state, a)).toThrow(/hmcBegin_: state.chain has shape \[3, 5\]; expected \[3, 4\]/);
    state.chain.dispose();
    state.chain = ebm.zeros([3, 4]);
    expect(() => ebm.fused.hmcBegin_(state, { ...a, mass: 0 })).toThrow(/hmcBegin_: mass must be > 0, got 0/);
    expect(() => ebm.fused.hmcAccept_(state, ebm.zeros([4, 3]), ebm.zeros([4, 1]), a)).toThrow(/hmcAccept_: energyP has shape \[4, 1\]; expected \[4\]/);
    expect(() => ebm.fused.hmcLeap_(state, state.xp, a)).toThrow(/hmcLeap_: state.xp and gradP share storage/);
    for (const t of Object.values(state)) t.dispose();
  });

  it('chainStats_ writes one row of means and variances over the chains: one dispatch', async () => {
    const x = ebm.tensor([[1, 2], [3, 6], [5, 4]]);
    const scalars = ebm.tensor([[1, 2, 6], [0, 1, 1]]);
    const tables = { mean: ebm.zeros([2, 2]), variance: ebm.zeros([2, 2]), scalarMean: ebm.zeros([2, 2]) };
    const before = dispatches();
    ebm.fused.chainStats_(x, scalars, tables, 1);
    expect(dispatches() - before).toBe(1);
    expectClose(await tables.mean.data(), [0, 0, 3, 4], 1e-6, 'mean');
    expectClose(await tables.variance.data(), [0, 0, 8 / 3, 8 / 3], 1e-6, 'variance');
    expectClose(await tables.scalarMean.data(), [0, 3, 0, 2 / 3], 1e-6, 'scalarMean');
    expect(() => ebm.fused.chainStats_(x, scalars, tables, 2)).toThrow(/chainStats_: row must be an integer in \[0, 1\], got 2/);
    expect(() => ebm.fused.chainStats_(x, ebm.zeros([3]), tables, 0)).toThrow(/chainStats_: scalars must have shape \[>= 2, 3\]/);
    for (const t of [x, scalars, ...Object.values(tables)]) t.dispose();
  });
});

describe('replaceRows and toyDataset', () => {
  it('replaceRows: the buffer with some rows replaced, the buffer itself unchanged; one dispatch', async () => {
    const buffer = ebm.tensor([[0, 0], [1, 1], [2, 2], [3, 3]]);
    const rows = ebm.tensor([[30, 31], [10, 11]]);
    const before = dispatches();
    const out = ebm.fused.replaceRows(buffer, [3, 1], rows);
    expect(dispatches() - before).toBe(1);
    expect(await out.array()).toEqual([[0, 0], [10, 11], [2, 2], [30, 31]]);
    expect(await buffer.array()).toEqual([[0, 0], [1, 1], [2, 2], [3, 3]]);
    expect(() => ebm.fused.replaceRows(buffer, [1, 1], rows)).toThrow(/replaceRows: row 1 appears twice in indices/);
    expect(() => ebm.fused.replaceRows(buffer, [4, 0], rows)).toThrow(/replaceRows: indices\[0\] = 4 is not a row of buffer \[4, 2\]/);
    expect(() => ebm.fused.replaceRows(buffer, [0], rows)).toThrow(/replaceRows: rows has shape \[2, 2\]; 1 indices into buffer \[4, 2\] need \[1, 2\]/);
    for (const t of [buffer, rows, out]) t.dispose();
  });

  it('toyDataset makes what makeDataset makes (no post-processing), in one dispatch', async () => {
    const rt = ebm.getDevice();
    const before = dispatches();
    const raw = ebm.fused.toyDataset(rt, { kind: 'eight_gaussians', n: 100, key: { lo: 5, hi: 0 }, k: 8, shuffle: true, floats: [2], noise: 0.02 });
    expect(dispatches() - before).toBe(1);
    const made = ebm.makeDataset('eight-gaussians', { nSamples: 100, seed: 5 });
    expect(await bits(raw)).toEqual(await bits(made));
    expect(() => ebm.fused.toyDataset(rt, { kind: 'circle', n: 0, key: { lo: 0, hi: 0 }, k: 1, shuffle: false, floats: [], noise: 0 })).toThrow(/toyDataset: n must be an integer in \[1, \d+\], got 0/);
    expect(() => ebm.fused.toyDataset(rt, { kind: 'circle', n: 4, key: { lo: 0, hi: 0 }, k: 1, shuffle: false, floats: [1, 2, 3, 4, 5], noise: 0 })).toThrow(/toyDataset: floats must be an array of at most 4 numbers, got 5/);
    for (const t of [raw, made]) t.dispose();
  });
});
