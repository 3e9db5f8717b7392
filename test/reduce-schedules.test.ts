// The reduction schedules beyond one workgroup per output, each op against a float64 host
// reduction, with NaN and infinities, and the path pinned:
//  - over leading axes with many outputs (a bias gradient: [batch, features] summed over the
//    batch), one invocation per output column (reduce.wgsl's LEADING);
//  - few outputs over long runs, on GPUs (forced here), chunks reduced by a workgroup each and
//    then merged by the same op (CHUNKED).
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, expectClose } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

afterEach(() => {
  delete rt.tuning.reduce;
  delete rt.tuning.windowBytes;
});

type Op = 'sum' | 'mean' | 'max' | 'min' | 'logsumexp';

/** Op over the first `lead` axes of a row-major [rows, cols] view, in float64. */
function host(op: Op, v: Float32Array, rows: number, cols: number): number[] {
  return Array.from({ length: cols }, (_, c) => {
    const col = Array.from({ length: rows }, (_, r) => v[r * cols + c]!);
    if (op === 'sum') return col.reduce((s, x) => s + x, 0);
    if (op === 'mean') return col.reduce((s, x) => s + x, 0) / rows;
    if (col.some(Number.isNaN)) return NaN;
    if (op === 'max') return Math.max(...col);
    if (op === 'min') return Math.min(...col);
    const m = Math.max(...col);
    if (!Number.isFinite(m)) return m;
    return m + Math.log(col.reduce((s, x) => s + Math.exp(x - m), 0));
  });
}

const OPS: Op[] = ['sum', 'mean', 'max', 'min', 'logsumexp'];
const PER_THREAD = 'reduce.wgsl:per_thread';
const PER_WORKGROUP = 'reduce.wgsl:per_workgroup';

describe('reductions over leading axes', () => {
  // [rows, cols] and the leading axes reduced: one axis of a matrix, two of a rank-3 tensor.
  const shapes: [number[], number[]][] = [
    [[300, 130], [0]],
    [[6, 50, 160], [0, 1]],
  ];
  it.each(OPS.flatMap((op) => shapes.map(([shape, axes]) => [op, shape, axes] as const)))('%s of %j over %j: one invocation per column, float64 to 1e-5', async (op, shape, axes) => {
    const x = ebm.randn(shape, { seed: 7 });
    const cols = shape.at(-1)!;
    const rows = x.size / cols;
    const before = rt.stats.byEntry.get(PER_THREAD) ?? 0;
    const y = x[op](axes);
    const got = await y.data();
    expect(rt.stats.byEntry.get(PER_THREAD) ?? 0).toBe(before + 1);
    expect(y.shape).toEqual([cols]);
    expectClose(got, host(op, await x.data(), rows, cols), 1e-5, `${op} over leading axes`);
    x.dispose();
    y.dispose();
  });

  it('NaN and infinities in a column come through as the host gives them', async () => {
    const rows = 200;
    const cols = 128;
    const v = new Float32Array(rows * cols).map((_, i) => Math.sin(i));
    v[5 * cols + 3] = NaN;
    v[7 * cols + 4] = Infinity;
    v[9 * cols + 5] = -Infinity;
    const x = ebm.tensor(v, [rows, cols]);
    for (const op of OPS) {
      const y = x[op](0);
      expectClose(await y.data(), host(op, v, rows, cols), 1e-5, op);
      y.dispose();
    }
    x.dispose();
  });

  it('few outputs, or reductions too long for one invocation, keep a workgroup per output', async () => {
    for (const shape of [
      [300, 64],
      [5000, 128],
    ]) {
      const x = ebm.randn(shape, { seed: 3 });
      const before = rt.stats.byEntry.get(PER_WORKGROUP) ?? 0;
      const y = x.sum(0);
      expectClose(await y.data(), host('sum', await x.data(), shape[0]!, shape[1]!), 1e-5, `sum of ${shape}`);
      expect(rt.stats.byEntry.get(PER_WORKGROUP) ?? 0).toBe(before + 1);
      x.dispose();
      y.dispose();
    }
  });
});

/** Op over the trailing `inner` elements of each of `outer` rows, in float64. */
function hostRows(op: Op, v: Float32Array, outer: number, inner: number): number[] {
  const t = new Float32Array(v.length);
  for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) t[j * outer + o] = v[o * inner + j]!;
  return host(op, t, inner, outer);
}

describe('few outputs over long runs, chunked (the GPU schedule, forced)', () => {
  // 3 rows of 70,001 (chunks of 8,192 and a short last one), and one run over a whole tensor.
  it.each(OPS.flatMap((op) => [[op, [3, 70001], [1]] as const, [op, [5, 40, 300], [0, 1, 2]] as const]))('%s of %j over %j: partials by chunk, then the same op over them; float64 to 1e-5', async (op, shape, axes) => {
    const x = ebm.randn([...shape], { seed: 8 });
    rt.tuning.reduce = 'chunked';
    const [wg, th] = [PER_WORKGROUP, PER_THREAD].map((e) => rt.stats.byEntry.get(e) ?? 0);
    const y = x[op]([...axes]);
    const got = await y.data();
    // The chunk pass (a workgroup per chunk), then the merge of a few partials per output (an invocation each).
    expect((rt.stats.byEntry.get(PER_WORKGROUP) ?? 0) - wg!, 'the chunk pass').toBe(1);
    expect((rt.stats.byEntry.get(PER_THREAD) ?? 0) - th!, 'the merge').toBe(1);
    const inner = (axes as readonly number[]).reduce((p: number, a: number) => p * shape[a]!, 1);
    expectClose(got, hostRows(op, await x.data(), x.size / inner, inner), 1e-5, `${op} chunked`);
    // The single-workgroup schedule agrees (to round-off: the sums are ordered differently).
    rt.tuning.reduce = 'single';
    const single = x[op]([...axes]);
    expectClose(got, Array.from(await single.data()), 1e-5, `${op} chunked against single`);
    for (const t of [x, y, single]) t.dispose();
  });

  it('inside binding windows (each window a box of rows, its result merged into the output)', async () => {
    const x = ebm.randn([6, 40000], { seed: 10 });
    rt.tuning.reduce = 'chunked';
    rt.tuning.windowBytes = String(2 * 40000 * 4 + 256);
    for (const op of OPS) {
      const y = x[op](1);
      expectClose(await y.data(), hostRows(op, await x.data(), 6, 40000), 1e-5, `${op} in windows`);
      y.dispose();
    }
    x.dispose();
  });

  it('NaN in one chunk, infinities in others, come through', async () => {
    const v = new Float32Array(2 * 50000).map((_, i) => Math.cos(i));
    v[12345] = NaN;
    v[50000 + 9000] = Infinity;
    v[50000 + 40000] = -Infinity;
    const x = ebm.tensor(v, [2, 50000]);
    rt.tuning.reduce = 'chunked';
    for (const op of OPS) {
      const y = x[op](1);
      expectClose(await y.data(), hostRows(op, v, 2, 50000), 1e-5, op);
      y.dispose();
    }
    x.dispose();
  });
});
