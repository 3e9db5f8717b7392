// Issue 10, item 1: conv2d, its input gradient and its weight gradient on tensors over
// maxStorageBufferBindingSize split by batch (src/kernels/conv2d.ts splitBatch): each chunk of
// whole images binds windows of x / y / dy / dx that start on aligned bytes (or, where no
// chunk of whole images that fits starts aligned, scratch copies of the chunk); the weight
// gradient adds the chunks' partial sums with a reduction. Here the window is shrunk through
// rt.tuning.windowBytes so the split runs on small tensors. Each output pixel of the forward
// pass and of the input gradient is computed by the same code over the same terms as unsplit,
// so those must agree bit for bit; the weight gradient sums its terms in another order.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { caught, device, ebm, expectClose, expectSameBits } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

afterEach(() => {
  delete rt.tuning.windowBytes;
});

/** y = conv2d(x, w, b) with an activation, and the gradients of <y, g>, unsplit and with windows of `bytes`. */
async function both(xShape: number[], wShape: number[], opts: ebm.Conv2dOptions, bytes: number) {
  const x = ebm.randn(xShape, { seed: 1, requiresGrad: true });
  const w = ebm.randn(wShape, { seed: 2, requiresGrad: true });
  const b = ebm.randn([wShape[0]!], { seed: 3, requiresGrad: true });
  const run = async () => {
    for (const p of [x, w, b]) p.grad = null;
    const before = rt.stats.dispatches;
    const y = ebm.conv2d(x, w, b, opts);
    const g = ebm.randn(y.shape, { seed: 4 });
    y.mul(g).sum().backward();
    const dispatches = rt.stats.dispatches - before;
    const values = await Promise.all([y, x.grad!, w.grad!, b.grad!].map((t) => t.data()));
    for (const t of [y, g]) t.dispose();
    return { values, dispatches };
  };
  const whole = await run();
  rt.tuning.windowBytes = String(bytes);
  const split = await run();
  delete rt.tuning.windowBytes;
  for (const t of [x, w, b]) t.dispose();
  return { whole, split };
}

function expectSame(r: Awaited<ReturnType<typeof both>>, what: string): void {
  expect(r.split.dispatches, `${what}: the split run takes more dispatches`).toBeGreaterThan(r.whole.dispatches);
  expectSameBits(r.whole.values[0]!, r.split.values[0]!, `${what}: y`);
  expectSameBits(r.whole.values[1]!, r.split.values[1]!, `${what}: x.grad`);
  // dw and db sum (batch x pixels) products of O(1) values in chunks, then the chunks: f32
  // reordering of a few hundred terms stays far under 1e-5 of the sum's scale.
  expectClose(r.split.values[2]!, r.whole.values[2]!, 1e-5, `${what}: w.grad`);
  expectClose(r.split.values[3]!, r.whole.values[3]!, 1e-5, `${what}: b.grad`);
}

describe('conv2d split by batch', () => {
  for (const tiling of ['subgroup', 'registers', 'workgroup'] as const) {
    it(`${tiling}: [6, 4, 8, 8] * [8, 4, 3, 3], padding 1, silu (images of 1 KB and 2 KB in 4 KB windows: 3 chunks)`, async () => {
      expectSame(await both([6, 4, 8, 8], [8, 4, 3, 3], { padding: 1, activation: 'silu', tiling }, 4096), tiling);
    });
  }

  it('a first layer (the direct kernel) with images of 64 and 128 bytes: chunks of 8 images so every window starts on 256 bytes; stride 2', async () => {
    expectSame(await both([130, 1, 4, 4], [2, 1, 3, 3], { padding: 1, activation: 'silu' }, 1024), 'direct');
    expectSame(await both([40, 2, 6, 6], [4, 2, 3, 3], { padding: 1, stride: 2 }, 8192), 'stride 2');
  });

  it('images whose chunks cannot start aligned (100 and 200 bytes: 64 images would be needed) run through scratch copies of each chunk', async () => {
    expectSame(await both([10, 1, 5, 5], [2, 1, 3, 3], { padding: 1, activation: 'silu' }, 1024), 'copies');
  });

  it.each(['subgroup', 'registers'] as const)('%s: dx alone through silu (act\' folded into the packing of each chunk, z windowed as dy) equals the unsplit run bit for bit', async (tiling) => {
    const x = ebm.randn([6, 4, 8, 8], { seed: 1 });
    const w = ebm.randn([8, 4, 3, 3], { seed: 2 });
    const b = ebm.randn([8], { seed: 3 });
    const g = ebm.randn([6, 8, 8, 8], { seed: 4 });
    const dx = () => ebm.grad((xx: ebm.Tensor) => ebm.conv2d(xx, w, b, { padding: 1, activation: 'silu', tiling }).mul(g).sum())(x);
    const packs = () => rt.stats.byEntry.get('conv2d.wgsl:pack_image') ?? 0;
    const p0 = packs();
    const whole = await dx().data();
    const p1 = packs();
    rt.tuning.windowBytes = '4096';
    const before = rt.stats.byEntry.get('activation-grad.wgsl:main') ?? 0;
    const split = await dx().data();
    expect(packs() - p1, 'one packing of dy per chunk').toBeGreaterThan(p1 - p0);
    expect(rt.stats.byEntry.get('activation-grad.wgsl:main') ?? 0).toBe(before);
    expectSameBits(whole, split, 'dx');
    for (const t of [x, w, b, g]) t.dispose();
  });

  it('one image over a window refuses, naming conv2d, the buffer and the limit; memory() unchanged', async () => {
    const x = ebm.randn([2, 4, 32, 32], { seed: 5 });
    const w = ebm.randn([4, 4, 3, 3], { seed: 6 });
    rt.tuning.windowBytes = '4096';
    const before = ebm.memory(rt);
    const err = caught(() => ebm.conv2d(x, w, null, { padding: 1 }));
    expect(err.message).toMatch(/^conv2d on \[2, 4, 32, 32\] and \[4, 4, 3, 3\]: one image of 'x' \(4096 elements\) takes 16384 bytes, over this device's maxStorageBufferBindingSize of \d+ bytes; conv2d splits by batch only/);
    expect(ebm.memory(rt).liveBytes).toBe(before.liveBytes);
    expect(ebm.memory(rt).liveTensors).toBe(before.liveTensors);
    for (const t of [x, w]) t.dispose();
  });
});
