// Issue 10, items 1-2: device limits are checked at the call. An allocation over the binding or
// buffer limit throws at once, naming the op, the shape, the bytes and the limit, with nothing
// recorded and memory() unchanged, so earlier finished work still reads back. Dispatch grids
// above maxComputeWorkgroupsPerDimension are split.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return e as Error;
  }
  return expect.fail('expected the call to throw');
}

/** Runs `fn`, which must throw matching `message`, and checks that it left no trace. */
async function failsCleanly(fn: () => unknown, message: RegExp): Promise<Error> {
  const a = ebm.ones([4]).add(1);
  const before = ebm.memory(rt);
  const dispatches = rt.stats.dispatches;
  const err = caught(fn);
  expect(err.message).toMatch(message);
  expect(ebm.memory(rt).liveTensors).toBe(before.liveTensors);
  expect(ebm.memory(rt).liveBytes).toBe(before.liveBytes);
  expect(rt.stats.dispatches).toBe(dispatches);
  // The next, unrelated op works and the earlier result is intact.
  const b = a.mul(3);
  expect([...(await a.data())]).toEqual([2, 2, 2, 2]);
  expect([...(await b.data())]).toEqual([6, 6, 6, 6]);
  a.dispose();
  b.dispose();
  return err;
}

describe('allocation limits', () => {
  it('zeros([1, 4e7]) (160 MB, over the binding limit) throws at the call, naming the op, shape, bytes and limit', async () => {
    if (rt.maxBindingSize >= 160e6) return;
    const err = await failsCleanly(() => ebm.zeros([1, 4e7]), /zeros/);
    expect(err.message).toContain('[1, 40000000]');
    expect(err.message).toContain('160000000 bytes');
    expect(err.message).toContain(`maxStorageBufferBindingSize of ${rt.maxBindingSize} bytes`);
  });

  it('matmul [70000, 2] x [2, 70000] (19.6 GB) throws naming matmul and maxBufferSize; liveBytes does not count it', async () => {
    const x = ebm.randn([70000, 2]);
    const y = ebm.randn([2, 70000]);
    const err = await failsCleanly(() => x.matmul(y), /^matmul: /);
    expect(err.message).toContain('[70000, 70000]');
    expect(err.message).toContain(`${70000 * 70000 * 4} bytes`);
    expect(err.message).toMatch(/maxBufferSize|maxStorageBufferBindingSize/);
    x.dispose();
    y.dispose();
  });

  it('arange(0, 1e12) throws naming arange and the bytes', async () => {
    const err = await failsCleanly(() => ebm.arange(0, 1e12), /^arange: /);
    expect(err.message).toContain('4000000000000 bytes');
  });

  it('a tensor just under the binding limit is not rounded up past it by the pool', async () => {
    // The largest f32 size that fits: its size class would round it above the limit.
    const n = rt.maxBindingSize / 4 - 1024;
    const t = ebm.zeros([n]);
    expect(t.buffer.size).toBeLessThanOrEqual(rt.maxBindingSize);
    const s = t.sum();
    expect(await s.item()).toBe(0);
    t.dispose();
    s.dispose();
  });

  it('a negative or fractional byte count is refused by name', () => {
    expect(caught(() => rt.allocate(-4, 'scratch')).message).toMatch(/^scratch: cannot allocate -4 bytes/);
    expect(caught(() => rt.allocate(Number.NaN, 'scratch')).message).toMatch(/^scratch: cannot allocate NaN bytes/);
  });
});
