// Public functions that no other suite exercises on their own, each against PyTorch's closed form
// (PyTorch's formula is written out next to each test).
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm, expectClose } from './helpers.js';

beforeAll(async () => {
  await device();
});

describe('broadcastShapes (torch.broadcast_shapes)', () => {
  test.each([
    [[[7, 1], [1, 33]], [7, 33]],
    [[[33], [4, 7, 33]], [4, 7, 33]],
    [[[], [3, 4]], [3, 4]],
    [[[2, 3, 1, 4], [3, 5, 1]], [2, 3, 5, 4]],
    [[[1], [1, 1], []], [1, 1]],
    [[[5, 1, 3], [1, 4, 1], [4, 3]], [5, 4, 3]],
    [[[0, 1], [1, 3]], [0, 3]],
  ] as [number[][], number[]][])('%j -> %j', (shapes, expected) => {
    expect(ebm.broadcastShapes('test', ...shapes)).toEqual(expected);
  });

  test('incompatible shapes name the op, the shapes and the dim', () => {
    expect(() => ebm.broadcastShapes('add', [2, 3], [4, 3])).toThrow(/add: shapes \[2, 3\] and \[4, 3\] cannot be broadcast together \(dim -2 is 2 vs 4\)/);
  });
});

describe('sumToShape (the reduction a broadcast gradient needs)', () => {
  test.each([
    [[4, 7, 33], [33]],
    [[4, 7, 33], [7, 1]],
    [[2, 3, 5, 4], [3, 1, 4]],
    [[6, 5], [6, 5]],
    [[6, 5], []],
  ] as [number[], number[]][])('[%j] onto %j equals the sum over the broadcast axes', async (from, to) => {
    const size = from.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37) * 3);
    const g = ebm.tensor(values, from);
    const r = ebm.sumToShape(g, to);
    expect(r.shape).toEqual(to);
    // The oracle: accumulate every element of g into the element of `to` it broadcast from.
    const lead = from.length - to.length;
    const expected = new Float64Array(to.reduce((a, b) => a * b, 1));
    for (let i = 0; i < size; i++) {
      let rest = i;
      let at = 0;
      let stride = 1;
      const idx: number[] = [];
      for (let d = from.length - 1; d >= 0; d--) {
        idx[d] = rest % from[d]!;
        rest = Math.floor(rest / from[d]!);
      }
      for (let d = to.length - 1; d >= 0; d--) {
        at += (to[d] === 1 ? 0 : idx[d + lead]!) * stride;
        stride *= to[d]!;
      }
      expected[at]! += values[i]!;
    }
    expectClose(await r.data(), expected, 1e-5, `sumToShape ${JSON.stringify(from)} -> ${JSON.stringify(to)}`);
  });

  test('a target with more dims, or one that is not a broadcast source, is an error naming both shapes', () => {
    expect(() => ebm.sumToShape(ebm.zeros([3]), [2, 3])).toThrow(/sumToShape: gradient of shape \[3\] has fewer dims than \[2, 3\]/);
    expect(() => ebm.sumToShape(ebm.zeros([4, 6]), [4, 3])).toThrow(/sumToShape: cannot fold \[4, 6\] onto \[4, 3\]/);
  });
});

describe('linspace (torch.linspace)', () => {
  // torch.linspace fills the first half as start + i * step and the second half as
  // end - (steps - 1 - i) * step, so the last element is exactly `end`; each value is rounded
  // to f32 once.
  function torchLinspace(start: number, end: number, steps: number): Float32Array {
    const step = steps > 1 ? (end - start) / (steps - 1) : 0;
    const half = Math.floor(steps / 2);
    return Float32Array.from({ length: steps }, (_, i) => (i < half ? start + i * step : end - (steps - 1 - i) * step));
  }

  test.each([
    [-1, 2, 7],
    [0, 1, 10],
    [3, 3, 1],
    [5, -5, 11],
    [-4, 4, 256],
    [0, 1, 0],
  ])('linspace(%d, %d, %d)', async (start, end, steps) => {
    const t = ebm.linspace(start, end, steps);
    expect(t.shape).toEqual([steps]);
    const got = await t.data();
    const want = torchLinspace(start, end, steps);
    // Within 2 f32 ulps of the value (the GPU's multiply-add may round once more than torch).
    for (let i = 0; i < steps; i++) {
      const ulp = Math.max(Math.abs(want[i]!), Math.abs(start), Math.abs(end)) * 2 ** -23;
      expect(Math.abs(got[i]! - want[i]!), `element ${i}: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(2 * ulp);
    }
    if (steps > 0) {
      expect(got[0]).toBe(Math.fround(start));
      expect(got[steps - 1]).toBe(Math.fround(end));
    }
  });

  test('a negative or fractional count is an error naming it', () => {
    expect(() => ebm.linspace(0, 1, -1)).toThrow(/linspace: steps must be a non-negative integer, got -1/);
    expect(() => ebm.linspace(0, 1, 2.5)).toThrow(/linspace: steps must be a non-negative integer, got 2.5/);
  });
});

describe('asSchedule and LambdaLR', () => {
  test('asSchedule turns a number, a function of the step and a Schedule into a Schedule', () => {
    expect(ebm.asSchedule(0.25).value(17)).toBe(0.25);
    expect(ebm.asSchedule((s: number) => 1 / (1 + s)).value(3)).toBe(0.25);
    const exp = new ebm.ExponentialSchedule({ start: 2, gamma: 0.5 });
    expect(ebm.asSchedule(exp)).toBe(exp);
    expect(ebm.asSchedule(exp).value(3)).toBe(0.25);
  });

  test('asSchedule rejects anything else, naming the owner', () => {
    expect(() => ebm.asSchedule('0.1' as unknown as number, 'LangevinDynamics.stepSize')).toThrow(/LangevinDynamics.stepSize: expected a number, a Schedule or a function of the step, got string/);
    expect(() => ebm.asSchedule(null as unknown as number)).toThrow(/got null/);
  });

  test('LambdaLR sets lr = initial lr * lrLambda(step) after each step, per group (torch.optim.lr_scheduler.LambdaLR)', () => {
    const a = ebm.zeros([2], { requiresGrad: true });
    const b = ebm.zeros([3], { requiresGrad: true });
    const opt = new ebm.SGD([{ params: [a], lr: 0.1 }, { params: [b], lr: 0.4 }], { lr: 0.1 });
    const sched = new ebm.LambdaLR(opt, { lrLambda: (e: number) => 0.95 ** e });
    expect(sched.getLastLr()).toEqual([0.1, 0.4]);
    for (let k = 1; k <= 5; k++) {
      sched.step();
      const lrs = sched.getLastLr();
      expect(lrs[0]).toBeCloseTo(0.1 * 0.95 ** k, 15);
      expect(lrs[1]).toBeCloseTo(0.4 * 0.95 ** k, 15);
    }
    expect(sched.lastEpoch).toBe(5);
  });

  test('LambdaLR without a function, or with one that gives a negative lr, is an error', () => {
    const opt = new ebm.SGD([ebm.zeros([2], { requiresGrad: true })], { lr: 0.1 });
    expect(() => new ebm.LambdaLR(opt, { lrLambda: 0.5 as unknown as (s: number) => number })).toThrow(/LambdaLR: option 'lrLambda' must be a function of the step, got number/);
    const sched = new ebm.LambdaLR(opt, { lrLambda: (e: number) => 1 - e });
    sched.step();
    expect(() => sched.step()).toThrow(/LambdaLR: the schedule gave lr -0.1.* at step 2 for group 0/);
  });
});
