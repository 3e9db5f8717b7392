// Issue 10, items 1-2 (failure paths): an op whose forward throws midway, after allocating its
// output or internal scratch, leaves memory() as it was (runOp disposes the tensors it made and
// the runtime frees the buffers it allocated), and the next op works.
import { beforeAll, describe, expect, it } from 'vitest';
import { caught, device, ebm } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

/** Runs `fn`, which must throw matching `message` after allocating, and checks it left nothing behind. */
async function leavesNothing(fn: () => unknown, message: RegExp): Promise<void> {
  const a = ebm.ones([4]).add(1);
  const before = ebm.memory(rt);
  // Count what it allocates (its output, its scratch) before throwing: the case this guards.
  const allocate = rt.allocate;
  let allocated = 0;
  rt.allocate = (...args) => {
    allocated++;
    return allocate.apply(rt, args);
  };
  let err: Error;
  try {
    err = caught(fn);
  } finally {
    rt.allocate = allocate;
  }
  expect(err.message).toMatch(message);
  expect(allocated, 'buffers allocated before it threw').toBeGreaterThan(0);
  const after = ebm.memory(rt);
  expect(after.liveTensors).toBe(before.liveTensors);
  expect(after.liveBytes).toBe(before.liveBytes);
  const b = a.mul(3);
  expect([...(await a.data())]).toEqual([2, 2, 2, 2]);
  expect([...(await b.data())]).toEqual([6, 6, 6, 6]);
  a.dispose();
  b.dispose();
}

describe('an op that throws after allocating leaves memory() unchanged', () => {
  it('matmul with 5 batch dims (refused by the kernel wrapper after its output was allocated)', async () => {
    const x = ebm.randn([1, 1, 1, 1, 1, 2, 2]);
    await leavesNothing(() => x.matmul(x), /^matmul: at most 4 batch dims are supported/);
    x.dispose();
  });

  it('conv2d with 1.1M output channels (a grid too tall, found after its output and packed scratch were allocated)', async () => {
    const x = ebm.randn([1, 4, 2, 2]);
    const w = ebm.randn([1_100_000, 4, 1, 1]);
    // The message is the conv schedule's (which grid dimension, which shader); it names conv2d.
    // The register schedule puts output channels on the grid's y (4 per workgroup); the
    // subgroup one's pixel-rows forward puts 256 there and would run this shape.
    await leavesNothing(() => ebm.conv2d(x, w, null, { tiling: 'registers' }), /conv2d.*(workgroup grid|workgroups in one dimension)/);
    x.dispose();
    w.dispose();
  });

  it('the frame of a failed op is closed: a later op on the same device allocates and frees as usual', async () => {
    const x = ebm.randn([1, 1, 1, 1, 1, 1, 4]);
    const w = ebm.randn([4]);
    caught(() => x.matmul(x));
    expect(rt.currentOp).toBe(null);
    const before = ebm.memory(rt);
    const y = ebm.tidy(() => x.add(1).mul(2).sum());
    expect(ebm.memory(rt).liveTensors).toBe(before.liveTensors + 1);
    expect(await y.item()).toBeCloseTo(((await x.data()).reduce((p, v) => p + (v + 1) * 2, 0)), 4);
    for (const t of [x, w, y]) t.dispose();
  });
});
