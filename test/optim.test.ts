// Optimizers and LR schedulers against torch.optim (scripts/make_optim_fixtures.py): parameter
// trajectories of SGD / Adam / AdamW on a fixed quadratic, the state they end with, one
// dispatch per parameter, state dict round trips, zeroGrad, value schedules, and bad input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { device, ebm, expectClose, loadFixture, settleGarbage } from './helpers.js';
import { parseSafetensors } from '../src/nn/safetensors-format.js';

const fx = loadFixture('optim.safetensors');
type Case = { id: string; optimizer: 'SGD' | 'Adam' | 'AdamW'; options: Record<string, unknown>; exponentialLrGamma: number | null };
const cases: Case[] = JSON.parse(fx.metadata.cases!);
const STEPS = Number(fx.metadata.steps);
const D = 22;
const TOL = 1e-5;

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});

/** The quadratic 0.5 x^T A x - b^T x, x = concat(w1.flatten(), w2), from fresh starting points. */
function problem(start?: [Float32Array, Float32Array]) {
  const A = fx.get('A');
  const b = fx.get('b');
  const w1 = (start ? ebm.tensor(start[0], [3, 5]) : fx.get('w1_0')).requiresGrad_();
  const w2 = (start ? ebm.tensor(start[1], [7]) : fx.get('w2_0')).requiresGrad_();
  const backward = () =>
    ebm.tidy(() => {
      const x = ebm.concat([w1.reshape([15]), w2]);
      x.reshape([1, D]).matmul(A).reshape([D]).mul(x).sum().mul(0.5).sub(b.mul(x).sum()).backward();
    });
  const x = async () => Float32Array.from([...(await w1.data()), ...(await w2.data())]);
  return { w1, w2, backward, x, dispose: () => [A, b, w1, w2].forEach((t) => (t.grad?.dispose(), t.dispose())) };
}

function make(c: Case, params: ebm.Tensor[]): ebm.SGD | ebm.Adam | ebm.AdamW {
  const o = c.options as never;
  return c.optimizer === 'SGD' ? new ebm.SGD(params, o) : c.optimizer === 'Adam' ? new ebm.Adam(params, o) : new ebm.AdamW(params, o);
}

const row = (k: number, id: string) => fx.values(`${id}/traj`).subarray(k * D, (k + 1) * D);

describe.each(cases.map((c) => [c.id, c] as const))('%s matches torch.optim', (_id, c) => {
  test(`trajectory over ${STEPS} steps and the final state`, async () => {
    const pb = problem();
    const opt = make(c, [pb.w1, pb.w2]);
    const sched = c.exponentialLrGamma ? new ebm.ExponentialLR(opt, { gamma: c.exponentialLrGamma }) : null;
    for (let k = 1; k <= STEPS; k++) {
      opt.zeroGrad();
      pb.backward();
      opt.step();
      sched?.step();
      expectClose(await pb.x(), row(k, c.id), TOL, `${c.id} step ${k}`);
    }
    const sd = opt.stateDict();
    for (const i of [0, 1]) {
      const keys = Object.keys(sd.state[i] ?? {}).sort();
      const want = ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'momentum_buffer', 'step'].filter((k) => fx.has(`${c.id}/state/${i}/${k}`));
      expect(keys, `${c.id} state keys of parameter ${i}`).toEqual(want);
      for (const key of keys) {
        const t = sd.state[i]![key] as ebm.Tensor;
        expect(t.shape).toEqual(fx.shape(`${c.id}/state/${i}/${key}`));
        expectClose(await t.data(), fx.values(`${c.id}/state/${i}/${key}`), TOL, `${c.id} state[${i}].${key}`);
        t.dispose();
      }
    }
    opt.dispose();
    pb.dispose();
  });
});

test('one dispatch per parameter per step; parameters without a grad are skipped and keep no state', async () => {
  for (const c of cases) {
    const pb = problem();
    const opt = make(c, [pb.w1, pb.w2]);
    pb.backward();
    opt.step(); // the first step only allocates (uploads zeroed state): still one dispatch each
    pb.backward();
    let d0 = rt.stats.dispatches;
    opt.step();
    expect(rt.stats.dispatches - d0, c.id).toBe(2);
    opt.zeroGrad();
    pb.backward();
    pb.w2.grad!.dispose();
    pb.w2.grad = null;
    const before = await pb.w2.data();
    d0 = rt.stats.dispatches;
    opt.step();
    expect(rt.stats.dispatches - d0, c.id).toBe(1);
    expect(await pb.w2.data()).toEqual(before);
    opt.dispose();
    pb.dispose();
  }
  const p = ebm.randn([5], { seed: 1, requiresGrad: true });
  const q = ebm.randn([5], { seed: 2, requiresGrad: true });
  const opt = new ebm.Adam([p, q]);
  p.grad = ebm.ones([5]);
  opt.step();
  const sd = opt.stateDict();
  expect(Object.keys(sd.state)).toEqual(['0']);
  Object.values(sd.state[0]!).forEach((t) => (t as ebm.Tensor).dispose());
  opt.dispose();
  opt.zeroGrad();
  [p, q].forEach((t) => t.dispose());
});

test('a step reads nothing back: no submit and no read while the work is recorded', async () => {
  // The runtime submits only for a readback or when `batchSize` dispatches are pending; with
  // the batch raised out of reach, any submit during the step would have been a readback.
  const pb = problem();
  const opt = new ebm.AdamW([pb.w1, pb.w2], { lr: 0.01, amsgrad: true });
  const sched = new ebm.CosineAnnealingLR(opt, { tMax: 10 });
  const batch = rt.batchSize;
  rt.batchSize = 1e9;
  const read = vi.spyOn(rt, 'read');
  try {
    const submits = rt.stats.submits;
    for (let k = 0; k < 5; k++) {
      opt.zeroGrad();
      pb.backward();
      opt.step();
      sched.step();
    }
    expect(rt.stats.submits).toBe(submits);
    expect(read).not.toHaveBeenCalled();
  } finally {
    read.mockRestore();
    rt.batchSize = batch;
  }
  await rt.sync(); // and the recorded work runs
  opt.dispose();
  pb.dispose();
});

describe('stateDict / loadStateDict', () => {
  test.each(['adam_amsgrad', 'sgd_damp_wd', 'adamw', 'adam_exponential_lr'])('%s: save at step 10, load into a fresh optimizer, continue: same trajectory', async (id) => {
    const c = cases.find((k) => k.id === id)!;
    const pb = problem();
    const opt = make(c, [pb.w1, pb.w2]);
    const sched = c.exponentialLrGamma ? new ebm.ExponentialLR(opt, { gamma: c.exponentialLrGamma }) : null;
    for (let k = 1; k <= 10; k++) {
      opt.zeroGrad();
      pb.backward();
      opt.step();
      sched?.step();
    }
    const sd = opt.stateDict();
    const schedState = sched?.stateDict();
    // The fresh problem starts where the first one is now; the first is thrown away.
    const pb2 = problem([await pb.w1.data(), await pb.w2.data()]);
    opt.dispose();
    pb.dispose();
    // A fresh optimizer with different hyperparameters: loading restores the saved ones.
    const opt2 = make({ ...c, options: { lr: 0.5 } }, [pb2.w1, pb2.w2]);
    const sched2 = schedState ? new ebm.ExponentialLR(opt2, { gamma: c.exponentialLrGamma! }) : null;
    opt2.loadStateDict(sd as never);
    if (schedState) sched2!.loadStateDict(schedState);
    for (const entry of Object.values(sd.state)) for (const t of Object.values(entry)) (t as ebm.Tensor).dispose(); // the load copied them
    expect(opt2.paramGroups[0]!.lr).toBeCloseTo(sched ? 0.1 * 0.9 ** 10 : (c.options.lr as number), 12);
    for (let k = 11; k <= STEPS; k++) {
      opt2.zeroGrad();
      pb2.backward();
      opt2.step();
      sched2?.step();
      expectClose(await pb2.x(), row(k, id), TOL, `${id} step ${k} after reload`);
    }
    opt2.dispose();
    pb2.dispose();
  });

  test("the dict has torch.optim's structure: state by index (step, exp_avg, ...), groups with parameter indices", async () => {
    const pb = problem();
    const opt = new ebm.Adam([{ params: [pb.w1] }, { params: [pb.w2], lr: 0.5, amsgrad: true }], { lr: 0.01 });
    for (let k = 0; k < 3; k++) {
      opt.zeroGrad();
      pb.backward();
      opt.step();
    }
    const sd = opt.stateDict();
    expect(sd.paramGroups).toEqual([
      { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: [0] },
      { lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: true, maximize: false, params: [1] },
    ]);
    expect(Object.keys(sd.state[0]!).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'step']);
    expect(Object.keys(sd.state[1]!).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
    const step = sd.state[0]!.step as ebm.Tensor;
    expect(step.shape).toEqual([]);
    expect(await step.item()).toBe(3);
    expect((sd.state[0]!.exp_avg as ebm.Tensor).shape).toEqual([3, 5]);
    // A snapshot: later steps do not change it.
    const before = await (sd.state[1]!.exp_avg as ebm.Tensor).data();
    pb.backward();
    opt.step();
    expect(await (sd.state[1]!.exp_avg as ebm.Tensor).data()).toEqual(before);
    expect(() => new ebm.Adam([pb.w1, pb.w2]).loadStateDict(sd)).toThrow(/Adam\.loadStateDict: the state dict has 2 parameter groups, this optimizer 1/);
    const other = new ebm.Adam([{ params: [pb.w1] }, { params: [pb.w2], amsgrad: true }]);
    const bad = { ...sd, state: { ...sd.state, 1: { ...sd.state[1]!, max_exp_avg_sq: undefined as never } } };
    expect(() => other.loadStateDict(bad)).toThrow(/Adam\.loadStateDict: state\[1\]: missing tensor 'max_exp_avg_sq'/);
    for (const entry of Object.values(sd.state)) for (const t of Object.values(entry)) (t as ebm.Tensor).dispose();
    opt.dispose();
    pb.dispose();
  });
});

test('zeroGrad disposes every grad and sets it to null; memory stays flat over many steps', async () => {
  const pb = problem();
  const opt = new ebm.SGD([pb.w1, pb.w2], { lr: 0.01, momentum: 0.9 });
  pb.backward();
  const grads = [pb.w1.grad!, pb.w2.grad!];
  opt.zeroGrad();
  expect([pb.w1.grad, pb.w2.grad]).toEqual([null, null]);
  expect(grads.every((g) => g.isDisposed)).toBe(true);
  opt.zeroGrad(); // idempotent
  const step = () => {
    opt.zeroGrad();
    pb.backward();
    opt.step();
  };
  step();
  // Garbage other tests dropped is finalized first, so the counts are exact.
  await settleGarbage();
  const m0 = ebm.memory(rt);
  for (let k = 0; k < 50; k++) step();
  await rt.sync();
  await settleGarbage();
  const m1 = ebm.memory(rt);
  expect(m1.liveTensors).toBe(m0.liveTensors);
  expect(m1.liveBytes).toBe(m0.liveBytes);
  opt.dispose();
  pb.dispose();
});

describe('bad input names the optimizer, the option and the value', () => {
  const p = () => ebm.randn([3], { seed: 0, requiresGrad: true });
  test.each([
    [() => new ebm.Adam([p()], { lr: -1 }), /Adam: option 'lr' must be a finite number >= 0, got -1/],
    [() => new ebm.SGD([p()], { lr: NaN }), /SGD: option 'lr' must be a finite number >= 0, got NaN/],
    [() => new ebm.AdamW([p()], { betas: [0.9, 1] }), /AdamW: option 'betas\[1\]' must be in \[0, 1\), got 1/],
    [() => new ebm.Adam([p()], { betas: [-0.1, 0.9] }), /Adam: option 'betas\[0\]' must be in \[0, 1\), got -0\.1/],
    [() => new ebm.Adam([p()], { betas: [0.9] as never }), /Adam: option 'betas' must be a pair \[beta1, beta2\], got \[0\.9\]/],
    [() => new ebm.Adam([p()], { eps: -1e-8 }), /Adam: option 'eps' must be a finite number >= 0, got -1e-8/],
    [() => new ebm.SGD([p()], { weightDecay: -0.1 }), /SGD: option 'weightDecay' must be a finite number >= 0, got -0\.1/],
    [() => new ebm.SGD([p()], { momentum: -0.5 }), /SGD: option 'momentum' must be a finite number >= 0, got -0\.5/],
    [() => new ebm.SGD([p()], { nesterov: true }), /SGD: option 'nesterov' needs momentum > 0 and dampening 0, got momentum 0, dampening 0/],
    [() => new ebm.Adam([p()], { amsgrad: 'yes' as never }), /Adam: option 'amsgrad' must be a boolean, got "yes"/],
    [() => new ebm.Adam([p()], { learningRate: 0.1 } as never), /Adam: unknown option 'learningRate' \(known: lr, betas/],
    [() => new ebm.Adam([{ params: [p()], lr: -2 }]), /Adam: option 'lr' must be a finite number >= 0, got -2/],
    [() => new ebm.SGD([ebm.randn([3], { seed: 0 })]), /SGD: params\[0\] \(tensor #\d+ of shape \[3\]\) does not require grad/],
    [() => new ebm.Adam([p(), ebm.tensor([1, 2])]), /Adam: params\[1\] .* does not require grad/],
    [() => new ebm.AdamW([ebm.tensor([1, 2]).half().requiresGrad_()]), /AdamW: params\[0\] .* has dtype f16; optimizers update f32 parameters/],
    [() => new ebm.Adam([p().mul(2)]), /Adam: params\[0\] .* is the result of an op, not a leaf/],
    [() => new ebm.Adam([]), /Adam: got an empty parameter list/],
    [() => new ebm.SGD(5 as never), /SGD: params must be an array of tensors or of parameter groups/],
    [() => { const t = p(); return new ebm.SGD([t, t]); }, /SGD: params\[1\] .* appears more than once/],
    [() => new ebm.Adam([{ params: [p()] }, { params: [p()], betas: [0.9, 2] }]), /Adam: option 'betas\[1\]' must be in \[0, 1\), got 2/],
  ] as const)('%#', (f, message) => {
    expect(f).toThrow(message);
  });

  test('a grad of the wrong shape or a disposed grad is named at step()', () => {
    const w = p();
    const opt = new ebm.SGD([w], { lr: 0.1 });
    w.grad = ebm.ones([4]);
    expect(() => opt.step()).toThrow(/SGD\.step: the grad of tensor #\d+ of shape \[3\] has shape \[4\]/);
    w.grad.dispose();
    expect(() => opt.step()).toThrow(/SGD\.step: the grad of .* has been disposed/);
    w.grad = null;
    w.dispose();
  });
});

describe('LR schedulers match torch.optim.lr_scheduler', () => {
  // The lr sequences are stored as f64: read them exactly.
  const raw = parseSafetensors(new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures', 'optim.safetensors'))));
  const lrs = (name: string) => {
    const t = raw.tensors.get(`sched/${name}`)!;
    return new Float64Array(t.bytes.slice().buffer);
  };
  const specs: Record<string, { kind: string; options: Record<string, unknown>; baseLr: number }> = JSON.parse(fx.metadata.schedulers!);
  const build = (opt: ebm.SGD, kind: string, o: Record<string, unknown>): ebm.LRScheduler => {
    switch (kind) {
      case 'StepLR': return new ebm.StepLR(opt, { stepSize: o.step_size as number, gamma: o.gamma as number });
      case 'MultiStepLR': return new ebm.MultiStepLR(opt, { milestones: o.milestones as number[], gamma: o.gamma as number });
      case 'ExponentialLR': return new ebm.ExponentialLR(opt, { gamma: o.gamma as number });
      case 'CosineAnnealingLR': return new ebm.CosineAnnealingLR(opt, { tMax: o.T_max as number, etaMin: o.eta_min as number });
      case 'LinearLR': return new ebm.LinearLR(opt, { startFactor: o.start_factor as number, endFactor: o.end_factor as number | undefined, totalIters: o.total_iters as number });
      case 'ConstantLR': return new ebm.ConstantLR(opt, { factor: o.factor as number, totalIters: o.total_iters as number });
      case 'SequentialLR': {
        const subs = (o.schedulers as [string, Record<string, unknown>][]).map(([k, a]) => build(opt, k, a));
        return new ebm.SequentialLR(opt, { schedulers: subs, milestones: o.milestones as number[] });
      }
      default: throw new Error(kind);
    }
  };

  test.each(Object.entries(specs))('%s', (name, spec) => {
    const w = ebm.zeros([1], { requiresGrad: true });
    const opt = new ebm.SGD([w], { lr: spec.baseLr });
    const s = build(opt, spec.kind, spec.options);
    const want = lrs(name);
    const got = [s.getLastLr()[0]!];
    for (let k = 0; k < want.length - 1; k++) {
      s.step();
      got.push(opt.paramGroups[0]!.lr);
    }
    expectClose(got, want, 1e-12, name);
    w.dispose();
  });

  test('WarmupSchedule then CosineSchedule is LinearLR then CosineAnnealingLR (SequentialLR)', () => {
    const s = new ebm.WarmupSchedule({ steps: 5, start: 0.1 * 0.1, then: new ebm.CosineSchedule({ start: 0.1, end: 0.001, steps: 15, cyclic: true }) });
    const want = lrs('warmup_cosine');
    expectClose(Array.from(want, (_, k) => s.value(k)), want, 1e-12, 'warmup then cosine');
  });

  test('ScheduledLR drives lr from any schedule, and a schedule giving a negative lr is refused', () => {
    const w = ebm.zeros([1], { requiresGrad: true });
    const opt = new ebm.SGD([w], { lr: 1 });
    const s = new ebm.ScheduledLR(opt, new ebm.LinearSchedule({ start: 0.5, end: 0.1, steps: 4 }));
    const got = [opt.paramGroups[0]!.lr];
    for (let k = 0; k < 5; k++) (s.step(), got.push(s.getLastLr()[0]!));
    expectClose(got, [0.5, 0.4, 0.3, 0.2, 0.1, 0.1], 1e-12, 'linear');
    const opt2 = new ebm.SGD([w], { lr: 1 });
    expect(() => new ebm.ScheduledLR(opt2, (k) => 0.1 - k)).not.toThrow();
    const s2 = new ebm.ScheduledLR(opt2, (k) => 0.1 - k);
    expect(() => s2.step()).toThrow(/ScheduledLR: the schedule gave lr -0\.9 at step 1 for group 0; lr must be a finite number >= 0/);
    w.dispose();
  });
});

describe('value schedules (for samplers and any hyperparameter)', () => {
  test('formulas', () => {
    const cos = new ebm.CosineSchedule({ start: 1, end: 0.1, steps: 10 });
    expect(cos.value(0)).toBe(1);
    expect(cos.value(5)).toBeCloseTo(0.55, 12);
    expect(cos.value(10)).toBeCloseTo(0.1, 12);
    expect(cos.value(25)).toBeCloseTo(0.1, 12); // holds at the end unless cyclic
    expect(new ebm.ExponentialSchedule({ start: 2, gamma: 0.5 }).value(3)).toBe(0.25);
    expect(new ebm.LinearSchedule({ start: 0, end: 1, steps: 4 }).value(1)).toBe(0.25);
    expect(new ebm.StepSchedule({ start: 1, stepSize: 3, gamma: 0.5 }).value(7)).toBe(0.25);
    expect([0, 2, 3, 9].map((k) => new ebm.MultiStepSchedule({ start: 1, milestones: [2, 9], gamma: 0.1 }).value(k))).toEqual([1, 0.1, 0.1, 0.1 * 0.1]);
    expect(new ebm.ConstantSchedule({ value: 0.3 }).value(100)).toBe(0.3);
    const warm = new ebm.WarmupSchedule({ steps: 4, then: new ebm.ConstantSchedule({ value: 2 }) });
    expect([0, 1, 4, 10].map((k) => warm.value(k))).toEqual([0, 0.5, 2, 2]);
    const seq = new ebm.SequentialSchedule({ schedules: [1, new ebm.ExponentialSchedule({ start: 4, gamma: 0.5 })], milestones: [3] });
    expect([0, 2, 3, 5].map((k) => seq.value(k))).toEqual([1, 1, 4, 1]);
    expect(ebm.scheduleValue(0.7, 12)).toBe(0.7);
    expect(ebm.scheduleValue((k) => k * 2, 3)).toBe(6);
    expect(ebm.scheduleValue(cos, 0)).toBe(1);
  });

  test.each([
    [() => new ebm.CosineSchedule({ start: 1, steps: 0 }), /CosineSchedule: option 'steps' must be an integer >= 1, got 0/],
    [() => new ebm.LinearSchedule({ start: 1, end: NaN, steps: 3 }), /LinearSchedule: option 'end' must be a finite number, got NaN/],
    [() => new ebm.MultiStepSchedule({ start: 1, milestones: [5, 2] }), /MultiStepSchedule: option 'milestones' must be increasing integers >= 0, got \[5,2\]/],
    [() => new ebm.SequentialSchedule({ schedules: [1, 2], milestones: [] }), /SequentialSchedule: option 'milestones' needs 1 entries for 2 schedules, got 0/],
    [() => new ebm.WarmupSchedule({ steps: 3, then: 'x' as never }), /WarmupSchedule: expected a number, a Schedule or a function of the step, got string/],
    [() => new ebm.CosineSchedule({ start: 1, steps: 3 }).value(-1), /CosineSchedule\.value: step must be an integer >= 0, got -1/],
    [() => new ebm.LinearLR(null as never, {}), /LinearLR: expected an optimizer, got null/],
    [() => new ebm.LinearLR({ paramGroups: [] } as never, { startFactor: 0 }), /LinearLR: option 'startFactor' must be in \(0, 1\], got 0/],
  ] as const)('bad input %#', (f, message) => {
    expect(f).toThrow(message);
  });
});
