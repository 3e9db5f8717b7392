// Misuse throws at the call, with a message naming the op, the argument and the shapes or
// values involved; and a failed call leaves nothing behind: no tensor, no bytes, nothing
// half-recorded on the tape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caught, device, ebm, expectClose } from './helpers.js';

let rt: ebm.Runtime;
let rt2: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
  rt2 = await ebm.createDevice();
});

afterAll(() => {
  rt2?.destroy();
});

/** Escapes a literal for use inside a RegExp. */
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Matches `tensor #<id> of shape [<dims>]`, the way messages describe a tensor. */
const desc = (t: ebm.Tensor): RegExp => new RegExp(esc(t.describe()));

/**
 * Asserts fn throws synchronously with a message matching every pattern, and that the failed
 * call left no live tensor and no live bytes behind on any device it was given.
 */
function expectThrows(fn: () => unknown, patterns: RegExp[], devices: ebm.Runtime[] = [rt]): Error {
  const before = devices.map((d) => ebm.memory(d));
  const err = caught(fn);
  for (const p of patterns) expect(err.message).toMatch(p);
  devices.forEach((d, i) => {
    const after = ebm.memory(d);
    expect(after.liveTensors, `live tensors on device ${d.id} after: ${err.message}`).toBe(before[i]!.liveTensors);
    expect(after.liveBytes, `live bytes on device ${d.id} after: ${err.message}`).toBe(before[i]!.liveBytes);
  });
  return err;
}

async function expectRejects(p: Promise<unknown>, patterns: RegExp[]): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, 'expected the promise to reject').toBeInstanceOf(Error);
  for (const pat of patterns) expect((err as Error).message).toMatch(pat);
}

describe('broadcasting', () => {
  it('add/sub/mul of incompatible shapes names the op, both shapes and the dim', () => {
    const a = ebm.tensor([[1, 2, 3], [4, 5, 6]]);
    const b = ebm.tensor([1, 2]);
    expectThrows(() => a.add(b), [/^add: /, /shapes \[2, 3\] and \[2\] cannot be broadcast together/, /dim -1 is 3 vs 2/]);
    expectThrows(() => ebm.sub(b, a), [/^sub: /, /shapes \[2\] and \[2, 3\] cannot be broadcast/]);
    const c = ebm.zeros([4, 1, 3]);
    const d = ebm.zeros([2, 5, 3]);
    expectThrows(() => ebm.mul(c, d), [/^mul: /, /\[4, 1, 3\] and \[2, 5, 3\]/, /dim -3 is 4 vs 2/]);
  });

  it('where of incompatible shapes names where and all three shapes', () => {
    const cond = ebm.tensor([1, 0]);
    const a = ebm.tensor([[1, 2, 3], [4, 5, 6]]);
    const b = ebm.tensor([1, 2, 3, 4]);
    expectThrows(() => ebm.where(cond, a, b), [/^where: /, /shapes \[2\] and \[2, 3\] and \[4\] cannot be broadcast together/]);
  });

  it('where with a number operand reports the shapes (the number as [])', () => {
    const cond = ebm.tensor([1, 0, 1, 1]);
    const a = ebm.tensor([[1, 2, 3], [4, 5, 6]]);
    const err = caught(() => ebm.where(cond, 1, a));
    expect(err.message).toMatch(/^where: shapes \[4\] and \[\] and \[2, 3\] cannot be broadcast together \(dim -1 is 4 vs 3\)/);
  });

  it('matmul batch dims that do not broadcast name matmul and the batch shapes', () => {
    const a = ebm.zeros([2, 2, 3]);
    const b = ebm.zeros([3, 3, 4]);
    expectThrows(() => a.matmul(b), [/^matmul of \[2, 2, 3\] and \[3, 3, 4\] \(batch dims\): /, /shapes \[2\] and \[3\] cannot be broadcast/]);
  });

  it('binary ops reject operands that are neither tensors nor numbers', () => {
    const a = ebm.tensor([1, 2]);
    expectThrows(() => a.add('1' as unknown as number), [/^add: the second operand must be a Tensor or a number, got string/]);
    expectThrows(() => ebm.mul(null as unknown as number, a), [/^mul: the first operand must be a Tensor or a number, got null/]);
    expectThrows(() => ebm.add(1, 2), [/^add: at least one operand must be a Tensor, got two numbers/]);
  });
});

describe('matmul', () => {
  it('inner dimensions that differ name both shapes and both sizes', () => {
    const a = ebm.zeros([2, 3]);
    expectThrows(() => a.matmul(a), [/^matmul: inner dimensions differ: \[2, 3\] @ \[2, 3\] \(3 vs 2\)/]);
    const b = ebm.zeros([5, 4, 3]);
    const c = ebm.zeros([2, 3]);
    expectThrows(() => ebm.matmul(b, c), [/^matmul: inner dimensions differ: \[5, 4, 3\] @ \[2, 3\] \(3 vs 2\)/]);
  });

  it('a 0-d operand on either side is rejected with both shapes', () => {
    const m = ebm.zeros([2, 3]);
    const s = ebm.tensor(2);
    expectThrows(() => m.matmul(s), [/^matmul: both operands need at least 1 dim, got \[2, 3\] and \[\]/]);
    expectThrows(() => s.matmul(m), [/^matmul: both operands need at least 1 dim, got \[\] and \[2, 3\]/]);
  });

  it('a 1-d operand of the wrong length reports the inner sizes', () => {
    const v = ebm.tensor([1, 2, 3, 4]);
    const m = ebm.zeros([2, 3]);
    const err = caught(() => v.matmul(m));
    expect(err.message).toMatch(/^matmul: inner dimensions differ: /);
    expect(err.message).toMatch(/\(4 vs 2\)/);
  });
});

describe('axes out of range', () => {
  const shape = /\[2, 3\]/;
  it('sum, mean and max name the op, the axis, the rank and the valid range', () => {
    const x = ebm.zeros([2, 3]);
    expectThrows(() => x.sum(2), [/^sum: axis 2 is out of range for a tensor of rank 2 \[2, 3\] \(valid: -2 to 1\)/]);
    expectThrows(() => ebm.sum(x, -3), [/^sum: axis -3 is out of range/, shape]);
    expectThrows(() => x.max([0, 5]), [/^max: axis 5 is out of range/, shape]);
    expectThrows(() => x.mean([0, 0]), [/^mean: axis \[0,0\] repeats an axis of shape \[2, 3\]/]);
    expectThrows(() => x.sum(0.5), [/^sum: axis 0.5 is out of range/]);
  });

  it('squeeze and unsqueeze', () => {
    const x = ebm.zeros([2, 3]);
    expectThrows(() => x.squeeze(2), [/^squeeze: axis 2 is out of range for a tensor of rank 2 \[2, 3\] \(valid: -2 to 1\)/]);
    // unsqueeze inserts a dim, so it accepts -3..2 for a rank-2 tensor.
    expectThrows(() => x.unsqueeze(3), [/^unsqueeze: axis 3 is out of range for a tensor of rank 3/, shape, /valid: -3 to 2/]);
    expectThrows(() => x.unsqueeze(-4), [/^unsqueeze: axis -4 is out of range/]);
  });

  it('transpose and permute', () => {
    const x = ebm.zeros([2, 3]);
    expectThrows(() => x.transpose(0, 2), [/^transpose: axis 2 is out of range for a tensor of rank 2 \[2, 3\]/]);
    expectThrows(() => x.permute([0, 2]), [/^permute: axis 2 is out of range for a tensor of rank 2 \[2, 3\]/]);
    expectThrows(() => x.permute([0]), [/^permute: dims \[0\] must list each of the 2 dims of shape \[2, 3\] once/]);
    expectThrows(() => x.permute([1, 1]), [/^permute: dims \[1, 1\] repeat a dim of shape \[2, 3\]/]);
  });

  it('concat, stack, slice and flatten', () => {
    const x = ebm.zeros([2, 3]);
    const y = ebm.zeros([2, 4]);
    expectThrows(() => ebm.concat([x, x], 2), [/^concat: axis 2 is out of range for a tensor of rank 2 \[2, 3\]/]);
    expectThrows(() => ebm.concat([x, y], 0), [/^concat: shapes \[2, 3\], \[2, 4\] differ outside dim 0/]);
    expectThrows(() => ebm.concat([], 0), [/^concat: expected a non-empty array of tensors/]);
    expectThrows(() => ebm.stack([x, x], 3), [/^stack: axis 3 is out of range for a tensor of rank 3/]);
    expectThrows(() => ebm.stack([x, y]), [/^stack: all tensors must have one shape, got \[2, 3\], \[2, 4\]/]);
    expectThrows(() => x.slice(2, 0, 1), [/^slice: axis 2 is out of range for a tensor of rank 2 \[2, 3\]/]);
    expectThrows(() => x.slice(0, 0, 1, 0), [/^slice: step must be a positive integer, got 0/]);
    const s = ebm.tensor(3);
    expectThrows(() => s.slice(0), [/^slice: cannot slice a 0-d tensor/]);
    expectThrows(() => x.flatten(1, 0), [/^flatten: startDim 1 comes after endDim 0 for shape \[2, 3\]/]);
  });
});

describe('reshape and expand', () => {
  it('reshape to the wrong number of elements names both shapes and both counts', () => {
    const x = ebm.zeros([2, 3]);
    expectThrows(() => x.reshape([4]), [/^reshape: cannot reshape \[2, 3\] \(6 elements\) into \[4\] \(4 elements\)/]);
    expectThrows(() => x.reshape([-1, 4]), [/^reshape: cannot reshape \[2, 3\] \(6 elements\) into \[-1, 4\]/]);
    expectThrows(() => x.view([7]), [/^reshape: cannot reshape \[2, 3\]/, /\[7\]/]);
  });

  it('reshape with two -1s or a bad dim', () => {
    const x = ebm.zeros([2, 3]);
    expectThrows(() => x.reshape([-1, -1]), [/^reshape: only one dim may be -1, got \[-1, -1\]/]);
    expectThrows(() => x.reshape([-2, -3]), [/^reshape: invalid dim -2 in \[-2, -3\]/]);
    expectThrows(() => x.reshape([2.5, 2]), [/^reshape: invalid dim 2.5 in \[2.5, 2\]/]);
  });

  it('expand to an incompatible shape names both shapes and the dim', () => {
    const x = ebm.zeros([2, 3]);
    expectThrows(() => x.expand([4, 3]), [/^expand: cannot expand \[2, 3\] to \[4, 3\] \(dim 0 is 2, not 1 or 4\)/]);
    expectThrows(() => x.expand([3]), [/^expand: cannot expand \[2, 3\] to \[3\], which has fewer dims/]);
    expectThrows(() => x.expand([-1, 2, 3]), [/^expand: -1 is not allowed for the new leading dim 0 in \[-1, 2, 3\]/]);
  });
});

describe('autodiff misuse', () => {
  it('backward() on a non-scalar without a seed asks for a gradient of its shape', () => {
    const x = ebm.tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    const y = x.mul(2);
    expectThrows(() => y.backward(), [/^backward: /, desc(y), /is not a scalar; pass a gradient of shape \[2, 3\]/]);
    expect(x.grad).toBeNull();
  });

  it('a seed gradient of the wrong shape names both shapes', () => {
    const x = ebm.tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    const y = x.mul(2);
    const seed = ebm.ones([3]);
    expectThrows(() => y.backward(seed), [/^backward: the gradient has shape \[3\] but the output has shape \[2, 3\]/]);
    expect(x.grad).toBeNull();
  });

  it('backward on a tensor that does not require grad says so', () => {
    const y = ebm.tensor([1, 2]).sum();
    expectThrows(() => y.backward(), [/^backward: /, desc(y), /does not require grad/]);
    const z = ebm.tensor([1, 2], { requiresGrad: true }).detach().sum();
    expectThrows(() => z.backward(), [/^backward: /, /shape \[\] does not require grad/]);
  });

  it('grad() of a non-scalar function names the shape', () => {
    const x = ebm.tensor([1, 2]);
    const err = caught(() => ebm.tidy(() => ebm.grad((v: ebm.Tensor) => v.mul(2))(x)));
    expect(err.message).toMatch(/^grad: the function must return a scalar, got shape \[2\]/);
  });

  it('requiresGrad_ on an op result is refused', () => {
    const x = ebm.tensor([1, 2], { requiresGrad: true });
    const y = x.exp();
    expectThrows(() => y.requiresGrad_(false), [/^requiresGrad_: /, desc(y), /is the result of an op/]);
    expect(y.requiresGrad).toBe(true);
  });
});

describe('disposed tensors', () => {
  it('in an op: names the op and the tensor', () => {
    const live = ebm.tensor([1, 2]);
    const dead = ebm.tensor([3, 4]);
    const d = desc(dead);
    dead.dispose();
    expectThrows(() => dead.exp(), [/^exp: /, d, /has been disposed and cannot be used/]);
    expectThrows(() => live.add(dead), [/^add: /, d, /disposed/]);
    expectThrows(() => ebm.matmul(live, dead), [/^matmul: /, d, /disposed/]);
    expectThrows(() => dead.sum(), [/^sum: /, d, /disposed/]);
    expectThrows(() => dead.reshape([2, 1]), [/^reshape: /, d, /disposed/]);
    expectThrows(() => ebm.concat([live, dead]), [/^concat: /, d, /disposed/]);
    expectThrows(() => ebm.where(dead, 1, 2), [/^where: /, d, /disposed/]);
    expectThrows(() => dead.clone(), [/^clone: /, d, /disposed/]);
  });

  it('in data(), array() and item(): the promise rejects naming the tensor', async () => {
    const t = ebm.tensor([1, 2]);
    const d = desc(t);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    await expectRejects(t.data(), [d, /has been disposed/]);
    await expectRejects(t.array(), [d, /has been disposed/]);
    const s = ebm.tensor(5);
    const ds = desc(s);
    s.dispose();
    await expectRejects(s.item(), [ds, /has been disposed/]);
  });

  it('in backward: a disposed output or seed names backward', () => {
    const x = ebm.tensor([1, 2], { requiresGrad: true });
    const s = x.square().sum();
    const ds = desc(s);
    s.dispose();
    expectThrows(() => s.backward(), [/^backward: /, ds, /has been disposed/]);
    const y = x.mul(3);
    const seed = ebm.ones([2]);
    const dseed = desc(seed);
    seed.dispose();
    expectThrows(() => y.backward(seed), [/^backward: /, dseed, /has been disposed/]);
    expect(x.grad).toBeNull();
  });
});

describe('tensors of two devices', () => {
  it('binary ops, matmul and concat name the op, both tensors and both devices', () => {
    const a = ebm.tensor([1, 2]);
    const b = ebm.tensor([3, 4], { device: rt2 });
    expect(b.device).toBe(rt2);
    expect(rt2.id).not.toBe(rt.id);
    const devs = new RegExp(`${esc(a.describe())} on device ${rt.id}, ${esc(b.describe())} on device ${rt2.id}`);
    expectThrows(() => a.add(b), [/^add: tensors are on different devices/, devs], [rt, rt2]);
    expectThrows(() => ebm.concat([a, b]), [/^concat: tensors are on different devices/, devs], [rt, rt2]);
    const m = ebm.zeros([2, 2]);
    const n = ebm.zeros([2, 2], { device: rt2 });
    expectThrows(() => m.matmul(n), [/^matmul: tensors are on different devices/, new RegExp(`on device ${rt.id}.*on device ${rt2.id}`)], [rt, rt2]);
  });

  it('where with cond on another device', () => {
    const cond = ebm.tensor([1, 0], { device: rt2 });
    const a = ebm.tensor([1, 2]);
    const b = ebm.tensor([3, 4]);
    expectThrows(() => ebm.where(cond, a, b), [new RegExp(`^where: tensors are on different devices \\(tensor #\\d+ of shape \\[2\\] on device ${rt2.id}, tensor #\\d+ of shape \\[2\\] on device ${rt.id}\\)`)], [rt, rt2]);
  });

  it('a seed gradient or an assign source from another device', () => {
    const x = ebm.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    const seed = ebm.ones([2], { device: rt2 });
    expectThrows(() => y.backward(seed), [/^backward: the gradient is on a different device than the output/], [rt, rt2]);
    expect(x.grad).toBeNull();
    const t = ebm.zeros([2]);
    expectThrows(() => t.assign(seed), [/^assign: source and target are on different devices/], [rt, rt2]);
  });
});

describe('indexing and creation', () => {
  it('indexSelect with an out-of-range index names the index, its position and the shape', () => {
    const x = ebm.zeros([3, 2]);
    expectThrows(() => x.indexSelect([0, 5]), [/^indexSelect: index 5 \(position 1\) is out of range for dim 0 of shape \[3, 2\]/]);
    expectThrows(() => x.indexSelect([-4]), [/^indexSelect: index -4 \(position 0\) is out of range/]);
    expectThrows(() => x.indexSelect([1.5]), [/^indexSelect: index 1.5 \(position 0\)/]);
    const s = ebm.tensor(1);
    expectThrows(() => s.indexSelect([0]), [/^indexSelect: cannot index a 0-d tensor/]);
  });

  it('a ragged nested array names the dim, the path and the lengths', () => {
    expectThrows(() => ebm.tensor([[1, 2], [3]]), [/^tensor: ragged nested array: dim 1 has length 2 but \[1\] has length 1/]);
    expectThrows(() => ebm.tensor([[1, 2], 3] as unknown as number[][]), [/^tensor: ragged nested array: expected an array of length 2 at \[1\], got a number/]);
    expectThrows(() => ebm.tensor([[[1], [2]], [[3], [4, 5]]]), [/^tensor: ragged nested array: dim 2 has length 1 but \[1\]\[1\] has length 2/]);
    expectThrows(() => ebm.tensor([1, 'x'] as unknown as number[]), [/^tensor: expected a number at \[1\], got string/]);
  });

  it('data and shape of different sizes name the shape and both counts', () => {
    expectThrows(() => ebm.tensor([1, 2, 3], [2, 2]), [/^tensor: shape \[2, 2\] needs 4 values, got 3/]);
    expectThrows(() => ebm.tensor(new Float32Array(5), [2, 2]), [/^tensor: shape \[2, 2\] needs 4 values, got 5/]);
  });

  it('negative or fractional shape dims name the op and the shape', () => {
    expectThrows(() => ebm.tensor(new Float32Array(0), [-1, 0]), [/^tensor: shape must hold non-negative integers, got \[-1, 0\]/]);
    expectThrows(() => ebm.full([2, -1], 0), [/^full: shape must hold non-negative integers, got \[2, -1\]/]);
    expectThrows(() => ebm.zeros([2, -1]), [/shape must hold non-negative integers, got \[2, -1\]/]);
    expectThrows(() => ebm.randn([-2]), [/^randn: shape must hold non-negative integers, got \[-2\]/]);
    expectThrows(() => ebm.rand([1.5]), [/^rand: shape must hold non-negative integers, got \[1.5\]/]);
    expectThrows(() => ebm.eye(-1), [/^eye: size must hold non-negative integers, got \[-1, -1\]/]);
    expectThrows(() => ebm.manualSeed(1.5), [/^manualSeed: seed must be a non-negative safe integer, got 1.5/]);
    // The message is right; the leak on this path is a known defect (below).
    expect(caught(() => ebm.randn([2], { seed: -1 })).message).toMatch(/^randn: seed must be a non-negative safe integer, got -1/);
  });

  it('arange with step 0 or the wrong sign, linspace with non-integer steps', () => {
    expectThrows(() => ebm.arange(0, 5, 0), [/^arange: step must be a non-zero finite number, got 0/]);
    expectThrows(() => ebm.arange(0, 5, NaN), [/^arange: step must be a non-zero finite number, got NaN/]);
    expectThrows(() => ebm.arange(0, 5, -1), [/^arange: start 0 and end 5 disagree with the sign of step -1/]);
    expectThrows(() => ebm.linspace(0, 1, 2.5), [/^linspace: steps must be a non-negative integer, got 2.5/]);
    expectThrows(() => ebm.linspace(0, 1, -3), [/^linspace: steps must be a non-negative integer, got -3/]);
  });

  it('item() on a multi-element tensor names the tensor and its element count', async () => {
    const t = ebm.zeros([2, 3]);
    await expectRejects(t.item(), [/^item: /, desc(t), /has 6 elements; item\(\) needs exactly one/]);
    expect(await ebm.tensor([7]).item()).toBe(7);
  });

  it('clamp with no bounds, or a NaN bound', () => {
    const x = ebm.tensor([1, 2]);
    expectThrows(() => x.clamp(), [/^clamp: at least one of min and max must be given/]);
    expectThrows(() => ebm.clamp(x, null, null), [/^clamp: at least one of min and max must be given/]);
    expectThrows(() => x.clamp(NaN), [/^clamp: min must be a number, got NaN/]);
    expectThrows(() => x.clamp(0, NaN), [/^clamp: max must be a number, got NaN/]);
    expectThrows(() => x.softplus(0), [/^softplus: beta must be non-zero/]);
  });

  it('tidy returning a Promise throws and disposes what the function made', () => {
    let inner: ebm.Tensor | undefined;
    const before = ebm.memory().liveTensors;
    const err = caught(() =>
      ebm.tidy((async () => {
        inner = ebm.ones([2]);
        return inner;
      }) as unknown as () => ebm.Tensor),
    );
    expect(err.message).toMatch(/^tidy: the function returned a Promise; tidy scopes are synchronous/);
    expect(inner?.isDisposed).toBe(true);
    expect(ebm.memory().liveTensors).toBe(before);
  });
});

describe('nothing is left half-recorded after an error', () => {
  it('failed ops on tensors requiring grad leave no node, no grad and no tensor; a later backward is right', async () => {
    const a = ebm.tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
    const b = ebm.tensor([1, 2], { requiresGrad: true });
    const c = ebm.tensor([[0.5, -1, 2], [3, 0, -2]]);
    const idx = ebm.tensor([[1, 0]]);
    const nonScalar = a.mul(2);
    const before = ebm.memory();
    const failures: (() => unknown)[] = [
      () => a.add(b),
      () => a.mul(b),
      () => ebm.where(idx, a, b),
      () => a.matmul(a),
      () => a.reshape([4]),
      () => a.sum(5),
      () => a.expand([4, 3]),
      () => a.indexSelect([2]),
      () => a.permute([0, 0]),
      () => a.slice(3),
      () => ebm.concat([a, b]),
      () => a.transpose(0, 4),
      () => nonScalar.backward(),
      () => nonScalar.backward(b),
    ];
    for (const f of failures) caught(f);
    // tidy cleans up what an op made before a later op in the same scope threw.
    caught(() => ebm.tidy(() => a.exp().add(b)));
    const after = ebm.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(a.node).toBeNull();
    expect(b.node).toBeNull();
    expect(a.grad).toBeNull();
    expect(b.grad).toBeNull();

    // d/da sum(a * c) = c; d/db sum(b^2) = 2b.
    const loss = a.mul(c).sum().add(b.square().sum());
    loss.backward();
    expectClose(await a.grad!.data(), [0.5, -1, 2, 3, 0, -2], 1e-6, 'a.grad');
    expectClose(await b.grad!.data(), [2, 4], 1e-6, 'b.grad');
    expect(await loss.item()).toBeCloseTo(0.5 - 2 + 6 + 12 + 0 - 12 + 1 + 4, 5);
  });

  it('a failed backward (bad seed) leaves .grad untouched, and a correct one then works', async () => {
    const x = ebm.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.square();
    const bad = ebm.ones([2]);
    caught(() => y.backward(bad));
    caught(() => y.backward());
    expect(x.grad).toBeNull();
    y.backward(ebm.tensor([1, 10, 100]));
    expectClose(await x.grad!.data(), [2, 40, 600], 1e-6, 'x.grad');
  });

  it('a failed op mixing devices records nothing; the same tensors still differentiate', async () => {
    const x = ebm.tensor([1, 2], { requiresGrad: true });
    const other = ebm.tensor([1, 1], { device: rt2 });
    const before = ebm.memory().liveTensors;
    caught(() => x.mul(other));
    expect(ebm.memory().liveTensors).toBe(before);
    x.mul(x).sum().backward();
    expectClose(await x.grad!.data(), [2, 4], 1e-6, 'x.grad');
  });
});

// Failures that once leaked or misled: each asserts the behaviour fixed in src/.
describe('failures leave nothing behind', () => {
  it('where with a number operand does not leak its scalar constant when it throws', () => {
    const cond = ebm.tensor([1, 0, 1, 1]);
    const a = ebm.tensor([[1, 2, 3], [4, 5, 6]]);
    expectThrows(() => ebm.where(cond, 1, a), [/^where: /]);
  });

  it('matmul with a 1-d operand does not leak its promoted view when it throws', () => {
    const v = ebm.tensor([1, 2, 3, 4]);
    const m = ebm.zeros([2, 3]);
    expectThrows(() => v.matmul(m), [/^matmul: inner dimensions differ/]);
  });

  it('randn/rand with a bad seed do not allocate their output before checking it', () => {
    expectThrows(() => ebm.randn([2], { seed: -1 }), [/^randn: seed must be a non-negative safe integer, got -1/]);
    expectThrows(() => ebm.rand([2], { seed: 0.5 }), [/^rand: seed must be a non-negative safe integer, got 0.5/]);
  });

  it('backward through a disposed intermediate throws instead of silently dropping gradients', () => {
    const x = ebm.tensor([1, 2], { requiresGrad: true });
    const y = x.exp();
    const z = y.sum();
    const dy = desc(y);
    y.dispose();
    let err: Error | undefined;
    try {
      z.backward();
    } catch (e) {
      err = e as Error;
    }
    expect(err, 'backward did not throw').toBeInstanceOf(Error);
    expect(err!.message).toMatch(/^backward: /);
    expect(err!.message).toMatch(dy);
  });
});
