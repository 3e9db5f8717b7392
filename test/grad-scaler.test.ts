// GradScaler against torch.amp.GradScaler (scripts/make_optim_fixtures.py), and its contract:
// an inf or NaN gradient skips the step (parameters and optimizer state bit-identical), halves
// the scale and resets the growth counter; growthInterval good steps double it; a scaled
// step equals the unscaled one; and scale / step / update never read back.
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { device, ebm, expectClose, loadFixture, settleGarbage } from './helpers.js';

const fx = loadFixture('optim.safetensors');
const D = 22;

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});

/** The fixtures' quadratic 0.5 x^T A x - b^T x over x = concat(w1.flatten(), w2). */
function problem() {
  const A = fx.get('A');
  const b = fx.get('b');
  const w1 = fx.get('w1_0').requiresGrad_();
  const w2 = fx.get('w2_0').requiresGrad_();
  const loss = () => {
    const x = ebm.concat([w1.reshape([15]), w2]);
    return x.reshape([1, D]).matmul(A).reshape([D]).mul(x).sum().mul(0.5).sub(b.mul(x).sum());
  };
  const x = async () => Float32Array.from([...(await w1.data()), ...(await w2.data())]);
  return { w1, w2, loss, x, dispose: () => [A, b, w1, w2].forEach((t) => (t.grad?.dispose(), t.dispose())) };
}

/** One scaled iteration: backward of the scaled loss, an optional hook on the grads, step, update. */
function scaledStep(pb: ReturnType<typeof problem>, opt: ebm.Optimizer, scaler: ebm.GradScaler, hook?: () => void): void {
  opt.zeroGrad();
  ebm.tidy(() => scaler.scale(pb.loss()).backward());
  hook?.();
  scaler.step(opt);
  scaler.update();
}

/** Sets element `index` of p's grad to `value` (inf, NaN), on the GPU. */
function inject(p: ebm.Tensor, index: number, value: number): void {
  const mask = new Float32Array(p.size);
  mask[index] = value;
  const m = ebm.tensor(mask, p.shape);
  const g = p.grad!.add(m);
  p.grad!.dispose();
  m.dispose();
  p.grad = g;
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer.slice(0));

test('Adam under GradScaler with injected infs matches torch.amp.GradScaler: trajectory, scales, step count', async () => {
  const meta = JSON.parse(fx.metadata.scaler!);
  const pb = problem();
  const opt = new ebm.Adam([pb.w1, pb.w2], meta.adam);
  const o = meta.options;
  const scaler = new ebm.GradScaler({ initScale: o.init_scale, growthFactor: o.growth_factor, backoffFactor: o.backoff_factor, growthInterval: o.growth_interval });
  const traj = fx.values('scaler/traj');
  const scales = fx.values('scaler/scale');
  for (let k = 0; k < meta.steps; k++) {
    scaledStep(pb, opt, scaler, meta.infSteps.includes(k) ? () => inject(pb.w2, 3, Infinity) : undefined);
    expectClose(await pb.x(), traj.subarray((k + 1) * D, (k + 2) * D), 1e-5, `step ${k}`);
    expect(await scaler.getScale(), `scale after step ${k}`).toBe(scales[k]);
  }
  // Skipped steps do not advance Adam's step count (it lives on the GPU for that reason).
  const sd = opt.stateDict();
  expect(await (sd.state[0]!.step as ebm.Tensor).item()).toBe(fx.values('scaler/step')[0]);
  expect(await scaler.skippedSteps()).toBe(meta.infSteps.length);
  for (const e of Object.values(sd.state)) for (const t of Object.values(e)) (t as ebm.Tensor).dispose();
  opt.dispose();
  scaler.dispose();
  pb.dispose();
});

test('an inf in one gradient skips the step: parameters and state bit-identical, scale halved, growth counter reset', async () => {
  const pb = problem();
  const opt = new ebm.Adam([pb.w1, pb.w2], { lr: 0.05, amsgrad: true });
  const scaler = new ebm.GradScaler({ growthInterval: 5 });
  scaledStep(pb, opt, scaler);
  scaledStep(pb, opt, scaler);
  expect(await scaler.getGrowthTracker()).toBe(2);
  expect(await scaler.foundInf()).toBe(false);
  const x0 = await pb.x();
  const s0 = opt.stateDict();
  scaledStep(pb, opt, scaler, () => inject(pb.w1, 14, Infinity));
  expect(bits(await pb.x())).toEqual(bits(x0));
  const s1 = opt.stateDict();
  for (const i of [0, 1])
    for (const key of ['step', 'exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'])
      expect(bits(await (s1.state[i]![key] as ebm.Tensor).data()), `state[${i}].${key}`).toEqual(bits(await (s0.state[i]![key] as ebm.Tensor).data()));
  expect(await scaler.getScale()).toBe(2 ** 15);
  expect(await scaler.getGrowthTracker()).toBe(0);
  expect(await scaler.foundInf()).toBe(true);
  // NaN counts too, in the last element of an odd-sized gradient (the vec4 tail).
  scaledStep(pb, opt, scaler, () => inject(pb.w2, 6, NaN));
  expect(bits(await pb.x())).toEqual(bits(x0));
  expect(await scaler.getScale()).toBe(2 ** 14);
  expect(await scaler.skippedSteps()).toBe(2);
  // And the next good step goes ahead.
  scaledStep(pb, opt, scaler);
  expect(await scaler.foundInf()).toBe(false);
  expect(bits(await pb.x())).not.toEqual(bits(x0));
  for (const sd of [s0, s1]) for (const e of Object.values(sd.state)) for (const t of Object.values(e)) (t as ebm.Tensor).dispose();
  opt.dispose();
  scaler.dispose();
  pb.dispose();
});

test('after growthInterval consecutive good steps the scale doubles; it never grows to inf', async () => {
  const pb = problem();
  const opt = new ebm.SGD([pb.w1, pb.w2], { lr: 0.01 });
  const scaler = new ebm.GradScaler({ initScale: 8, growthInterval: 3 });
  const seen: [number, number][] = [];
  for (let k = 0; k < 7; k++) {
    scaledStep(pb, opt, scaler, k === 4 ? () => inject(pb.w1, 0, -Infinity) : undefined);
    seen.push([await scaler.getScale(), await scaler.getGrowthTracker()]);
  }
  expect(seen).toEqual([[8, 1], [8, 2], [16, 0], [16, 1], [8, 0], [8, 1], [8, 2]]);
  scaler.dispose();
  const top = new ebm.GradScaler({ initScale: 2 ** 127, growthInterval: 1 });
  const w = ebm.ones([3], { requiresGrad: true });
  const sgd = new ebm.SGD([w], { lr: 0 });
  w.grad = ebm.ones([3]);
  top.step(sgd);
  top.update();
  expect(await top.getScale()).toBe(2 ** 127);
  top.dispose();
  w.grad.dispose();
  w.dispose();
  opt.dispose();
  pb.dispose();
});

describe('the unscaled update equals the update without scaling', () => {
  const runs = {
    Adam: (p: ebm.Tensor[]) => new ebm.Adam(p, { lr: 0.05, weightDecay: 0.01 }),
    AdamW: (p: ebm.Tensor[]) => new ebm.AdamW(p, { lr: 0.05, amsgrad: true }),
    'SGD nesterov': (p: ebm.Tensor[]) => new ebm.SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true }),
  };
  test.each(Object.entries(runs))('%s', async (_name, make) => {
    const plain = problem();
    const scaled = problem();
    const o1 = make([plain.w1, plain.w2]);
    const o2 = make([scaled.w1, scaled.w2]);
    const scaler = new ebm.GradScaler();
    for (let k = 0; k < 5; k++) {
      o1.zeroGrad();
      ebm.tidy(() => plain.loss().backward());
      o1.step();
      scaledStep(scaled, o2, scaler);
      // A power-of-two scale makes scaling and unscaling exact.
      expect(bits(await scaled.x()), `step ${k}`).toEqual(bits(await plain.x()));
    }
    [o1, o2].forEach((o) => o.dispose());
    scaler.dispose();
    [plain, scaled].forEach((p) => p.dispose());
  });

  test('through unscale() (as before clipping): grads become the plain grads, and the step matches', async () => {
    const plain = problem();
    const scaled = problem();
    const o1 = new ebm.Adam([plain.w1, plain.w2], { lr: 0.05 });
    const o2 = new ebm.Adam([scaled.w1, scaled.w2], { lr: 0.05 });
    const scaler = new ebm.GradScaler({ initScale: 2 ** 20 });
    ebm.tidy(() => plain.loss().backward());
    ebm.tidy(() => scaler.scale(scaled.loss()).backward());
    expect(await scaled.w2.grad!.data()).not.toEqual(await plain.w2.grad!.data());
    scaler.unscale(o2);
    expect(bits(await scaled.w1.grad!.data())).toEqual(bits(await plain.w1.grad!.data()));
    expect(bits(await scaled.w2.grad!.data())).toEqual(bits(await plain.w2.grad!.data()));
    expect(() => scaler.unscale(o2)).toThrow(/GradScaler\.unscale: already called on this optimizer since the last update\(\)/);
    o1.step();
    scaler.step(o2);
    scaler.update();
    expect(bits(await scaled.x())).toEqual(bits(await plain.x()));
    [o1, o2].forEach((o) => o.dispose());
    scaler.dispose();
    [plain, scaled].forEach((p) => p.dispose());
  });
});

test('SGD momentum after a skipped first step starts its buffer at the first good step, as in PyTorch', async () => {
  const ref = problem();
  const run = problem();
  const o1 = new ebm.SGD([ref.w1, ref.w2], { lr: 0.05, momentum: 0.9, dampening: 0.5 });
  const o2 = new ebm.SGD([run.w1, run.w2], { lr: 0.05, momentum: 0.9, dampening: 0.5 });
  const scaler = new ebm.GradScaler();
  scaledStep(run, o2, scaler, () => inject(run.w2, 0, Infinity));
  for (let k = 0; k < 3; k++) {
    o1.zeroGrad();
    ebm.tidy(() => ref.loss().backward());
    o1.step();
    scaledStep(run, o2, scaler);
  }
  expect(bits(await run.x())).toEqual(bits(await ref.x()));
  [o1, o2].forEach((o) => o.dispose());
  scaler.dispose();
  [ref, run].forEach((p) => p.dispose());
});

test('with two optimizers, an inf skips only the optimizer whose gradient has it; the scale backs off once', async () => {
  const pb = problem();
  const a = new ebm.Adam([pb.w1], { lr: 0.05 });
  const b = new ebm.SGD([pb.w2], { lr: 0.05 });
  const scaler = new ebm.GradScaler();
  const w1 = await pb.w1.data();
  const w2 = await pb.w2.data();
  a.zeroGrad();
  b.zeroGrad();
  ebm.tidy(() => scaler.scale(pb.loss()).backward());
  inject(pb.w2, 2, Infinity);
  scaler.step(a);
  scaler.step(b);
  scaler.update();
  expect(bits(await pb.w2.data())).toEqual(bits(w2));
  expect(await pb.w1.data()).not.toEqual(w1);
  expect(await scaler.getScale()).toBe(2 ** 15);
  [a, b].forEach((o) => o.dispose());
  scaler.dispose();
  pb.dispose();
});

test('the check ignores the padding past a gradient: an inf there is not an overflow', async () => {
  const w = ebm.zeros([7], { requiresGrad: true });
  const opt = new ebm.SGD([w], { lr: 1 });
  const scaler = new ebm.GradScaler({ initScale: 1 });
  const backing = ebm.tensor([1, 1, 1, 1, 1, 1, 1, Infinity]);
  w.grad = backing.share([7]); // a 7-element view whose buffer holds an inf at element 7
  scaler.step(opt);
  scaler.update();
  expect(await scaler.foundInf()).toBe(false);
  expect(Array.from(await w.data())).toEqual([-1, -1, -1, -1, -1, -1, -1]);
  opt.zeroGrad();
  backing.dispose();
  w.dispose();
  scaler.dispose();
});

test('scale, step and update read nothing back, and record ceil(P/6) checks + P updates + 1 scale update', async () => {
  // The runtime submits only for a readback or when `batchSize` dispatches are pending; with
  // the batch raised out of reach, a submit would mean a readback. rt.read is watched as well.
  const params = [5, 1, 7, 16, 3, 9, 130, 2].map((n, i) => ebm.randn([n], { seed: i, requiresGrad: true }));
  const opt = new ebm.Adam(params, { lr: 1e-3 });
  const scaler = new ebm.GradScaler({ growthInterval: 2 });
  const batch = rt.batchSize;
  rt.batchSize = 1e9;
  const read = vi.spyOn(rt, 'read');
  try {
    const submits = rt.stats.submits;
    for (let k = 0; k < 4; k++) {
      opt.zeroGrad();
      ebm.tidy(() => {
        let loss = params[0]!.square().sum();
        for (const p of params.slice(1)) loss = loss.add(p.square().sum());
        scaler.scale(loss).backward();
      });
      if (k === 1) inject(params[6]!, 129, Infinity);
      const d0 = rt.stats.dispatches;
      scaler.step(opt);
      expect(rt.stats.dispatches - d0, 'step').toBe(Math.ceil(params.length / 6) + params.length);
      const d1 = rt.stats.dispatches;
      scaler.update();
      expect(rt.stats.dispatches - d1, 'update').toBe(1);
    }
    expect(rt.stats.submits, 'submits during scale/step/update').toBe(submits);
    expect(read).not.toHaveBeenCalled();
    // Asking for the scale is the readback.
    expect(await scaler.getScale()).toBe(2 ** 16);
    expect(rt.stats.submits).toBeGreaterThan(submits);
  } finally {
    read.mockRestore();
    rt.batchSize = batch;
  }
  opt.zeroGrad();
  opt.dispose();
  scaler.dispose();
  params.forEach((p) => p.dispose());
});

test('memory stays flat over many scaled steps', async () => {
  const pb = problem();
  const opt = new ebm.AdamW([pb.w1, pb.w2], { lr: 0.01 });
  const scaler = new ebm.GradScaler({ growthInterval: 3 });
  scaledStep(pb, opt, scaler);
  // Garbage other tests dropped is finalized first, so the counts are exact.
  await settleGarbage();
  const m0 = ebm.memory(rt);
  for (let k = 0; k < 40; k++) scaledStep(pb, opt, scaler, k % 7 === 0 ? () => inject(pb.w1, 1, Infinity) : undefined);
  await rt.sync();
  await settleGarbage();
  const m1 = ebm.memory(rt);
  expect(m1.liveTensors).toBe(m0.liveTensors);
  expect(m1.liveBytes).toBe(m0.liveBytes);
  opt.dispose();
  scaler.dispose();
  pb.dispose();
});

test('stateDict / loadStateDict carry the scale and the growth counter', async () => {
  const pb = problem();
  const opt = new ebm.SGD([pb.w1, pb.w2], { lr: 0.01 });
  const scaler = new ebm.GradScaler({ initScale: 64, growthInterval: 4 });
  for (let k = 0; k < 3; k++) scaledStep(pb, opt, scaler, k === 0 ? () => inject(pb.w1, 3, NaN) : undefined);
  const sd = await scaler.stateDict();
  expect(sd).toEqual({ scale: 32, growthFactor: 2, backoffFactor: 0.5, growthInterval: 4, growthTracker: 2 });
  const fresh = new ebm.GradScaler();
  fresh.loadStateDict(sd);
  expect(await fresh.getScale()).toBe(32);
  expect(await fresh.getGrowthTracker()).toBe(2);
  // Two more good steps: the loaded counter reaches the interval and the scale grows.
  for (let k = 0; k < 2; k++) scaledStep(pb, opt, fresh);
  expect(await fresh.getScale()).toBe(64);
  [scaler, fresh].forEach((s) => s.dispose());
  opt.dispose();
  pb.dispose();
});

test('a disabled scaler passes through', async () => {
  const w = ebm.ones([3], { requiresGrad: true });
  const opt = new ebm.SGD([w], { lr: 0.5 });
  const scaler = new ebm.GradScaler({ enabled: false });
  const loss = w.sum();
  expect(scaler.scale(loss)).toBe(loss);
  loss.backward();
  scaler.step(opt);
  scaler.update();
  expect(Array.from(await w.data())).toEqual([0.5, 0.5, 0.5]);
  expect(await scaler.getScale()).toBe(1);
  opt.zeroGrad();
  loss.dispose();
  w.dispose();
});

describe('misuse and bad options are named', () => {
  test('call order', () => {
    const w = ebm.ones([3], { requiresGrad: true });
    const opt = new ebm.SGD([w], { lr: 0.5 });
    const scaler = new ebm.GradScaler();
    expect(() => scaler.update()).toThrow(/GradScaler\.update: no inf checks were recorded since the last update\(\); call step\(optimizer\) first/);
    w.grad = ebm.ones([3]);
    scaler.step(opt);
    expect(() => scaler.step(opt)).toThrow(/GradScaler\.step: already called on this optimizer since the last update\(\)/);
    expect(() => scaler.unscale(opt)).toThrow(/GradScaler\.unscale: called after step\(\)/);
    scaler.update();
    expect(() => scaler.update(-1)).toThrow(/GradScaler\.update: newScale must be a finite number > 0, got -1/);
    expect(() => scaler.step({} as never)).toThrow(/GradScaler\.step: expected an optimizer/);
    const half = ebm.ones([2]).half();
    expect(() => scaler.scale(half)).toThrow(/GradScaler\.scale: the loss has dtype f16/);
    half.dispose();
    opt.zeroGrad();
    scaler.dispose();
    w.dispose();
  });

  test.each([
    [{ initScale: 0 }, /GradScaler: option 'initScale' must be a finite number > 0, got 0/],
    [{ growthFactor: 1 }, /GradScaler: option 'growthFactor' must be a finite number > 1, got 1/],
    [{ backoffFactor: 1 }, /GradScaler: option 'backoffFactor' must be in \(0, 1\), got 1/],
    [{ growthInterval: 2.5 }, /GradScaler: option 'growthInterval' must be an integer >= 1, got 2\.5/],
    [{ enabled: 1 }, /GradScaler: option 'enabled' must be a boolean, got 1/],
    [{ initialScale: 4 }, /GradScaler: unknown option 'initialScale'/],
  ] as const)('%j', (o, message) => {
    expect(() => new ebm.GradScaler(o as never)).toThrow(message);
  });
});
