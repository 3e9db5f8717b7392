// Issue 10, item 2 (the rest): a GPU error TypeScript could not foresee names the op that caused
// it and takes nothing else with it. Ops near the limits (or every op, rt.errorScopes =
// 'every-op') run inside error scopes after the pending work is submitted on its own; reading a
// result of a refused op, or one computed from it, throws that op's error, and finished work
// reads back. The failure is forced with a tensor over a destroyed GPU buffer (Dawn refuses
// the submission that uses it), which no TypeScript check looks for.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, rejection } from './helpers.js';
import { Storage, Tensor } from '../src/tensor/tensor.js';
import { BufferUsage } from '../src/kernels/gpu-flags.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

afterEach(() => {
  rt.errorScopes = 'near-limits';
});

/** A [5] tensor whose GPU buffer has been destroyed (sized 20 bytes, a size the pool never hands out). */
function destroyedTensor(): Tensor {
  const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
  const buffer = rt.device.createBuffer({ size: 20, usage });
  buffer.destroy();
  // free() subtracts its size from liveBytes when it is disposed: count it in.
  rt.liveBytes += 20;
  return new Tensor(new Storage(rt, { buffer, size: 20, usage, lastUse: 0 }), [5]);
}

describe('a refused op is named and spares finished work', () => {
  it("errorScopes 'every-op': neg over a destroyed buffer; earlier and unrelated results read back, neg's result and what depends on it throw naming neg", async () => {
    const a = ebm.ones([4]).add(1);
    rt.errorScopes = 'every-op';
    const bad = destroyedTensor();
    const y = bad.neg();
    const z = y.add(1);
    const b = a.mul(3);
    rt.errorScopes = 'near-limits';
    expect([...(await a.data())]).toEqual([2, 2, 2, 2]);
    expect([...(await b.data())]).toEqual([6, 6, 6, 6]);
    const err = await rejection(y.data());
    expect(err.message).toMatch(/^neg on \[5\]: the GPU refused this op's work \(validation error: .+\); its results and what was computed from them are invalid\. Work recorded before it was submitted separately and is kept/);
    expect((await rejection(z.data())).message).toBe(err.message);
    // The device is fine: later work runs and reads back.
    const c = b.sub(a);
    expect([...(await c.data())]).toEqual([4, 4, 4, 4]);
    for (const t of [a, b, c, y, z, bad]) t.dispose();
  });

  it("without scopes the same failure surfaces as Dawn's uncaptured error at the next, unrelated readback (what the scopes prevent)", async () => {
    const a = ebm.ones([4]).add(1);
    const bad = destroyedTensor();
    const y = bad.neg();
    const err = await rejection(a.data());
    expect(err.message).toMatch(/^webgpu-ebm: GPU error: /);
    const back = ebm.ones([4]).add(1);
    expect([...(await back.data())]).toEqual([2, 2, 2, 2]);
    for (const t of [a, y, bad, back]) t.dispose();
  });

  it("'near-limits' (the default) scopes an op only when it allocates over half the binding limit: small ops submit nothing extra", async () => {
    const x = ebm.ones([1000]);
    await x.data();
    const scopes = rt.stats.errorScopes;
    const submits = rt.stats.submits;
    const y = ebm.tidy(() => x.add(1).mul(2).exp().sum());
    expect(rt.stats.errorScopes).toBe(scopes);
    expect(rt.stats.submits).toBe(submits);
    const big = Math.ceil(rt.maxBindingSize / 2 / 4) + 1024;
    const z = ebm.zeros([big]);
    const w = z.add(1);
    expect(rt.stats.errorScopes).toBe(scopes + 2);
    // The pending y was submitted on its own before the first scoped op.
    expect(rt.stats.submits).toBeGreaterThan(submits);
    expect(await y.item()).toBeCloseTo(1000 * Math.exp(4), 0);
    expect((await w.slice(0, big - 2).data())[1]).toBe(1);
    for (const t of [x, y, z, w]) t.dispose();
  });
});
