// Issue 10, item 1: between maxStorageBufferBindingSize and maxBufferSize, elementwise ops,
// fills, casts, copies and reductions bind sub-ranges of their buffers and split the dispatch
// (src/kernels/binding-window.ts). Here the window is shrunk through rt.tuning.windowBytes so
// the split paths run on small tensors, every result compared with the same op unsplit (which
// must agree bit for bit: each element is computed by the same code) or with a float64 host
// reduction; test/limits.test.ts runs real tensors over the 128 MiB binding limit.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { caught, device, ebm, expectClose, expectSameBits } from './helpers.js';
import { separableSpan, stridedSpan } from '../src/kernels/binding-window.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

afterEach(() => {
  delete rt.tuning.windowBytes;
});

/** The values of `make()` run unsplit, then with windows of `bytes`, and how many dispatches the split run took. */
async function splitAndWhole(make: () => ebm.Tensor, bytes = 4096): Promise<{ whole: Float32Array; split: Float32Array; dispatches: number }> {
  const w = make();
  const whole = await w.data();
  w.dispose();
  rt.tuning.windowBytes = String(bytes);
  const before = rt.stats.dispatches;
  const s = make();
  const dispatches = rt.stats.dispatches - before;
  delete rt.tuning.windowBytes;
  const split = await s.data();
  s.dispose();
  return { whole, split, dispatches };
}

describe('the span a chunk of a strided view touches', () => {
  it('matches a brute-force scan over random shapes, strides and ranges', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let t = 0; t < 300; t++) {
      const rank = 1 + rand(4);
      const shape = Array.from({ length: rank }, () => 1 + rand(5));
      const strides = shape.map(() => rand(3) === 0 ? 0 : 1 + rand(20));
      const n = shape.reduce((p, d) => p * d, 1);
      const s = rand(n);
      const e = s + 1 + rand(n - s);
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = s; i < e; i++) {
        let rem = i;
        let off = 0;
        for (let d = rank - 1; d >= 0; d--) {
          off += (rem % shape[d]!) * strides[d]!;
          rem = Math.floor(rem / shape[d]!);
        }
        lo = Math.min(lo, off);
        hi = Math.max(hi, off);
      }
      expect(stridedSpan(shape, strides, s, e), `shape [${shape}] strides [${strides}] range [${s}, ${e})`).toEqual([lo, hi]);
    }
    // A non-linear but monotone map (pad_slice's clamped slice index).
    expect(separableSpan([3, 4], (d, c) => (d === 0 ? Math.min(c, 1) * 10 : c), 3, 6)).toEqual([3, 11]);
  });
});

describe('elementwise ops split over windows agree with the unsplit run', () => {
  it('unary (exp, clamp with NaN), over 10 windows', async () => {
    const x = ebm.randn([10000], { seed: 1 }).mul(3);
    const r = await splitAndWhole(() => x.exp());
    expect(r.dispatches).toBe(10);
    expectSameBits(r.whole, r.split, 'exp');
    const c = await splitAndWhole(() => x.clamp(-1, 1));
    expectSameBits(c.whole, c.split, 'clamp');
    x.dispose();
  });

  it('binary: same shapes, a scalar, broadcasting a row and a column, and a broadcast operand that spans more than a window (refused by name)', async () => {
    const a = ebm.randn([100, 97], { seed: 2 });
    const b = ebm.randn([100, 97], { seed: 3 });
    const row = ebm.randn([97], { seed: 4 });
    const col = ebm.randn([100, 1], { seed: 5 });
    for (const [what, make] of [
      ['a + b', () => a.add(b)],
      ['a * 3', () => a.mul(3)],
      ['2 - a', () => ebm.sub(2, a)],
      ['a / row', () => a.div(row)],
      ['col - a', () => col.sub(a)],
      ['maximum(a, col)', () => ebm.maximum(a, col)],
      ['row < a', () => row.lt(a)],
    ] as const) {
      const r = await splitAndWhole(make);
      expect(r.dispatches, what).toBeGreaterThan(5);
      expectSameBits(r.whole, r.split, what);
    }
    // [1, 3000] broadcast over [4, 3000]: a chunk of 1,024 outputs that crosses a row reads
    // both ends of the operand's only row, 12 KB, over a 4 KB window.
    const wide = ebm.randn([1, 3000], { seed: 6 });
    const big = ebm.randn([4, 3000], { seed: 7 });
    rt.tuning.windowBytes = '4096';
    const before = ebm.memory(rt);
    const err = caught(() => big.add(wide));
    expect(err.message).toMatch(/^add on \[4, 3000\] and \[1, 3000\]: a broadcast operand \(strides \[0, 1\] into the output \[4, 3000\]\) spans \d+ bytes for one chunk of the output, over this device's maxStorageBufferBindingSize of \d+ bytes/);
    expect(ebm.memory(rt).liveBytes).toBe(before.liveBytes);
    expect(ebm.memory(rt).liveTensors).toBe(before.liveTensors);
    delete rt.tuning.windowBytes;
    for (const t of [a, b, row, col, wide, big]) t.dispose();
  });

  it('fills: full, arange, linspace, eye and randn (the same counters as unsplit)', async () => {
    for (const [what, make] of [
      ['full', () => ebm.full([5000], 2.5)],
      ['arange', () => ebm.arange(0, 5000)],
      ['linspace', () => ebm.linspace(-3, 7, 4999)],
      ['eye', () => ebm.eye(70, 80)],
      ['randn', () => ebm.randn([4999], { seed: 11 })],
      ['rand', () => ebm.rand([4003], { seed: 12 })],
    ] as const) {
      const r = await splitAndWhole(make);
      expect(r.dispatches, what).toBeGreaterThan(3);
      expectSameBits(r.whole, r.split, what);
    }
  });

  it('casts f32 -> f16 -> f32 of an odd length', async () => {
    const x = ebm.randn([4097], { seed: 8 });
    const r = await splitAndWhole(() => ebm.tidy(() => x.to('f16').to('f32')));
    expect(r.dispatches).toBeGreaterThanOrEqual(6);
    expectSameBits(r.whole, r.split, 'f16 round trip');
    x.dispose();
  });

  it('copies: permute, slice with a step, concat, expand, and a slice gradient (pad_slice); a transpose whose chunks span too much is refused by name', async () => {
    const x = ebm.randn([30, 40, 3], { seed: 9 });
    const y = ebm.randn([30, 10, 3], { seed: 10 });
    for (const [what, make] of [
      ['permute [0, 2, 1]', () => x.permute([0, 2, 1])],
      ['slice(1, 3, 37, 2)', () => x.slice(1, 3, 37, 2)],
      ['concat on dim 1', () => ebm.concat([x, y], 1)],
      ['expand', () => ebm.tidy(() => y.slice(1, 0, 1).expand([30, 50, 3]))],
    ] as const) {
      const r = await splitAndWhole(make);
      expect(r.dispatches, what).toBeGreaterThan(2);
      expectSameBits(r.whole, r.split, what);
    }
    const xg = ebm.randn([60, 50], { seed: 13 }).requiresGrad_();
    const g = await splitAndWhole(() => {
      xg.grad?.dispose();
      xg.grad = null;
      ebm.tidy(() => xg.slice(0, 5, 55, 3).sum().backward());
      return xg.grad!.detach();
    });
    expectSameBits(g.whole, g.split, 'slice gradient');
    // Swapping the outer dims: 90 outputs in a row read 30 rows of 120 inputs apart (13.9 KB),
    // over a 4 KB window however small the chunk.
    rt.tuning.windowBytes = '4096';
    expect(caught(() => x.permute([1, 0, 2])).message).toMatch(
      /^permute on \[30, 40, 3\]: a copy over a buffer larger than one binding reads a \d+-byte span for one chunk of its output \(a transpose-like layout\), over this device's maxStorageBufferBindingSize/,
    );
    for (const t of [x, y, xg]) t.dispose();
  });
});

/** A float64 host reduction of `x` of `shape` over `axes`. */
function hostReduce(op: 'sum' | 'mean' | 'max' | 'min' | 'logsumexp', x: Float32Array, shape: number[], axes: number[]): number[] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const nOut = kept.reduce((p, i) => p * shape[i]!, 1);
  const groups: number[][] = Array.from({ length: nOut }, () => []);
  for (let i = 0; i < x.length; i++) {
    let o = 0;
    for (const d of kept) o = o * shape[d]! + (Math.floor(i / strides[d]!) % shape[d]!);
    groups[o]!.push(x[i]!);
  }
  return groups.map((g) => {
    if (op === 'sum') return g.reduce((p, v) => p + v, 0);
    if (op === 'mean') return g.reduce((p, v) => p + v, 0) / g.length;
    if (g.some(Number.isNaN)) return NaN;
    if (op === 'max') return Math.max(...g);
    if (op === 'min') return Math.min(...g);
    const m = Math.max(...g);
    return m + Math.log(g.reduce((p, v) => p + Math.exp(v - m), 0));
  });
}

describe('reductions split over windows: chunks reduced, then merged on the GPU', () => {
  const shape = [6, 50, 41];
  for (const axes of [[0, 1, 2], [2], [1], [0], [0, 2], [1, 2]]) {
    it(`sum, mean, max, min, logsumexp over axes [${axes}] of [${shape}] (window 4 KB: boxes of one or a few rows), against float64`, async () => {
      const x = ebm.randn(shape, { seed: 20 + axes.length });
      const xv = await x.data();
      rt.tuning.windowBytes = '4096';
      for (const op of ['sum', 'mean', 'max', 'min', 'logsumexp'] as const) {
        const before = rt.stats.dispatches;
        const y = x[op](axes);
        expect(rt.stats.dispatches - before, op).toBeGreaterThan(1);
        // f32 accumulation of at most 12,300 terms of size ~1: relative error well under 1e-5 of the scale.
        expectClose(await y.data(), hostReduce(op, xv, shape, axes), 1e-5, `${op} over [${axes}]`);
        y.dispose();
      }
      x.dispose();
    });
  }

  it('a NaN in one box makes max, min and logsumexp NaN after the merge; sum of all but that one stays finite', async () => {
    const v = new Float32Array(5000).map((_, i) => Math.sin(i));
    v[4321] = NaN;
    const x = ebm.tensor(v);
    rt.tuning.windowBytes = '4096';
    for (const op of ['max', 'min', 'logsumexp', 'sum'] as const) expect(Number.isNaN(await x[op]().item()), op).toBe(true);
    const head = x.slice(0, 0, 4000);
    expect(await head.max().item()).toBeCloseTo(Math.max(...v.subarray(0, 4000)), 6);
    for (const t of [x, head]) t.dispose();
  });
});

describe('the pool with buffers up to maxBufferSize', () => {
  it('a buffer released in order past the pool cap is destroyed only after the submission that uses it (big tensors reach the cap)', async () => {
    const { BufferPool } = await import('../src/kernels/buffer-pool.js');
    const { BufferUsage } = await import('../src/kernels/gpu-flags.js');
    const pool = new BufferPool(rt.device, 1024);
    const b = pool.acquire(4096, BufferUsage.STORAGE, 'cap test');
    const destroyed: number[] = [];
    const destroy = b.buffer.destroy.bind(b.buffer);
    Object.defineProperty(b.buffer, 'destroy', { value: () => (destroyed.push(1), destroy()) });
    // Pending work (submission 1, not yet submitted) uses it.
    b.lastUse = 1;
    pool.releaseInOrder(b);
    expect(destroyed).toEqual([]);
    pool.markSubmitted(1);
    expect(destroyed).toEqual([1]);
    expect(pool.pooledBytes).toBe(0);
  });
});
