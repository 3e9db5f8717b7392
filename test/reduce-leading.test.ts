// Reductions over leading axes with many outputs (a bias gradient: [batch, features] summed
// over the batch) run one invocation per output column (reduce.wgsl's LEADING); each op is
// checked against a float64 host reduction, with NaN and infinities, and the path is pinned.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, expectClose } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
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
