// Issue 10, item 1: a matmul whose operands or output are over maxStorageBufferBindingSize
// splits into parts (src/kernels/matmul-split.ts): by batch, by rows of a and c, and over k
// where a is transposed (the weight gradient aᵀ dy). Here the window is shrunk through
// rt.tuning.windowBytes so the split paths run on small tensors. A part computes each element
// of c with the same code over the same k order as the unsplit kernel, so row and batch splits
// must agree bit for bit; a split over k adds partial sums in another order (tolerance below).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { caught, device, ebm, expectClose, expectSameBits } from './helpers.js';
import { matmulT } from '../src/tensor/ops/matmul.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

afterEach(() => {
  delete rt.tuning.windowBytes;
  delete rt.tuning.matmul;
});

/** The values of `make()` unsplit, then with windows of `bytes`, and the dispatches of each run. */
async function splitAndWhole(make: () => ebm.Tensor[], bytes = 4096): Promise<{ whole: Float32Array[]; split: Float32Array[]; dispatches: [number, number] }> {
  const run = async () => {
    const before = rt.stats.dispatches;
    const ts = make();
    const values = await Promise.all(ts.map((t) => t.data()));
    const dispatches = rt.stats.dispatches - before;
    for (const t of ts) t.dispose();
    return { values, dispatches };
  };
  const w = await run();
  rt.tuning.windowBytes = String(bytes);
  const s = await run();
  delete rt.tuning.windowBytes;
  return { whole: w.values, split: s.values, dispatches: [w.dispatches, s.dispatches] };
}

describe('matmul split by rows of a and c', () => {
  // [300, 12] x [12, 8]: a is 14 KB and c 9.6 KB against 4 KB windows. Shapes the vec4 bodies
  // cannot take ([300, 13] x [13, 7]) run on the scalar kernel.
  for (const schedule of ['auto', 'register', 'tiled', 'scalar'] as const) {
    it(`schedule ${schedule}: the product, and a plain chain matmul + bias + silu whose intermediates stay alive (z_out, raw_out split with the rows)`, async () => {
      if (schedule !== 'auto') rt.tuning.matmul = schedule;
      const [k, n] = schedule === 'scalar' ? [13, 7] : [12, 8];
      const a = ebm.randn([300, k], { seed: 1 });
      const b = ebm.randn([k, n], { seed: 2 });
      const bias = ebm.randn([n], { seed: 3 });
      const r = await splitAndWhole(() => {
        const raw = a.matmul(b);
        const z = raw.add(bias);
        return [raw, z, z.silu()];
      });
      expect(r.dispatches[1], 'the split run takes more dispatches').toBeGreaterThan(r.dispatches[0]);
      ['raw', 'z', 'silu'].forEach((what, i) => expectSameBits(r.whole[i]!, r.split[i]!, `${schedule}: ${what}`));
      for (const t of [a, b, bias]) t.dispose();
    });
  }

  it('linear with a bias, an activation and the saved pre-activation; its backward (gz wᵀ by rows, gzᵀ x over k)', async () => {
    const x = ebm.randn([400, 16], { seed: 4, requiresGrad: true });
    const w = ebm.randn([8, 16], { seed: 5, requiresGrad: true });
    const bias = ebm.randn([8], { seed: 6, requiresGrad: true });
    const g = ebm.randn([400, 8], { seed: 7 });
    const r = await splitAndWhole(() => {
      for (const p of [x, w, bias]) p.grad = null;
      const y = ebm.linear(x, w, bias, { activation: 'elu' });
      y.mul(g).sum().backward();
      return [y, x.grad!, w.grad!, bias.grad!].map((t) => t.detach());
    });
    expect(r.dispatches[1]).toBeGreaterThan(r.dispatches[0]);
    expectSameBits(r.whole[0]!, r.split[0]!, 'y');
    expectSameBits(r.whole[1]!, r.split[1]!, 'x.grad');
    // w.grad = gzᵀ x sums 400 products in 400 / 56 partial sums then adds those: f32 reordering
    // of 400 O(1) terms moves the result by a few ulps of the sum's scale.
    expectClose(r.split[2]!, r.whole[2]!, 1e-5, 'w.grad');
    expectClose(r.split[3]!, r.whole[3]!, 1e-5, 'bias.grad');
    for (const t of [x, w, bias, g]) t.dispose();
  });
});

describe('matmul split by batch', () => {
  it('[6, 50, 8] x [6, 8, 64] (b split by batch, each batch of c by rows) and a broadcast a [50, 8] x [6, 8, 64]', async () => {
    const a = ebm.randn([6, 50, 8], { seed: 8 });
    const a2 = ebm.randn([50, 8], { seed: 9 });
    const b = ebm.randn([6, 8, 64], { seed: 10 });
    const r = await splitAndWhole(() => [a.matmul(b), a2.matmul(b)]);
    expect(r.dispatches[1]).toBeGreaterThan(r.dispatches[0] + 6);
    expectSameBits(r.whole[0]!, r.split[0]!, 'batched');
    expectSameBits(r.whole[1]!, r.split[1]!, 'broadcast a');
    for (const t of [a, a2, b]) t.dispose();
  });

  it('many small batches: [200, 4, 4] x [200, 4, 4] in runs of whole batches', async () => {
    const a = ebm.randn([200, 4, 4], { seed: 11 });
    const b = ebm.randn([200, 4, 4], { seed: 12 });
    const r = await splitAndWhole(() => [a.matmul(b)]);
    expect(r.dispatches[1]).toBeGreaterThan(3);
    expectSameBits(r.whole[0]!, r.split[0]!, 'batched');
    for (const t of [a, b]) t.dispose();
  });
});

describe('matmul split over k (a transposed)', () => {
  for (const schedule of ['auto', 'register', 'tiled', 'scalar'] as const) {
    it(`schedule ${schedule}: aᵀ b for a [700, 8], b [700, 12], against a float64 host product`, async () => {
      if (schedule !== 'auto') rt.tuning.matmul = schedule;
      const a = ebm.randn([700, 8], { seed: 13 });
      const b = ebm.randn([700, 12], { seed: 14 });
      const [av, bv] = await Promise.all([a.data(), b.data()]);
      const want = new Float64Array(8 * 12);
      for (let kk = 0; kk < 700; kk++) for (let i = 0; i < 8; i++) for (let j = 0; j < 12; j++) want[i * 12 + j]! += av[kk * 8 + i]! * bv[kk * 12 + j]!;
      rt.tuning.windowBytes = '4096';
      const before = rt.stats.dispatches;
      const c = matmulT(a, b, true, false);
      // 700 rows of k at most ~80 per part (b's 48-byte rows in 4 KB less the alignment slack), plus the reduction.
      expect(rt.stats.dispatches - before).toBeGreaterThan(8);
      // Sums of 700 products of N(0, 1) values: f32 error far below 1e-5 of the scale (~3 sqrt(700)).
      expectClose(await c.data(), want, 1e-5, `${schedule}: aᵀ b`);
      for (const t of [a, b, c]) t.dispose();
    });
  }
});

describe('f16 operands', () => {
  it('vec4 ([300, 8] x [8, 8]) and strided ([300, 7] x [7, 5]) f16 products split by rows, and an f16 aᵀ b over k', async () => {
    const a = ebm.randn([300, 8], { seed: 15 }).to('f16');
    const b = ebm.randn([8, 8], { seed: 16 }).to('f16');
    const a7 = ebm.randn([300, 7], { seed: 17 }).to('f16');
    const b7 = ebm.randn([7, 5], { seed: 18 }).to('f16');
    const r = await splitAndWhole(() => [a.matmul(b), a7.matmul(b7)], 2048);
    expect(r.dispatches[1]).toBeGreaterThan(r.dispatches[0]);
    expectSameBits(r.whole[0]!, r.split[0]!, 'f16 vec4');
    expectSameBits(r.whole[1]!, r.split[1]!, 'f16 strided');
    const t = await splitAndWhole(() => [matmulT(a7, a, true, false)], 1024);
    // 300 products of f16-rounded N(0, 1) values, summed in f32 in another order.
    expectClose(t.split[0]!, t.whole[0]!, 1e-5, 'f16 aᵀ b');
    for (const x of [a, b, a7, b7]) x.dispose();
  });
});

describe('what cannot split refuses by name', () => {
  it('a column operand b over the window (its every column is read for each row of c): names b, the bytes and the limit; memory() unchanged', async () => {
    const a = ebm.randn([4, 8], { seed: 19 });
    const b = ebm.randn([8, 2000], { seed: 20 });
    rt.tuning.windowBytes = '4096';
    const before = ebm.memory(rt);
    const dispatches = rt.stats.dispatches;
    const err = caught(() => a.matmul(b));
    expect(err.message).toMatch(/^matmul on \[4, 8\] and \[8, 2000\]: the column operand 'b' \(its whole matrix is read for every row of the output, so it must fit one binding\) spans \d+ bytes/);
    expect(err.message).toContain(`maxStorageBufferBindingSize of ${rt.maxBindingSize} bytes`);
    expect(ebm.memory(rt).liveBytes).toBe(before.liveBytes);
    expect(ebm.memory(rt).liveTensors).toBe(before.liveTensors);
    expect(rt.stats.dispatches).toBe(dispatches);
    for (const t of [a, b]) t.dispose();
  });
});
