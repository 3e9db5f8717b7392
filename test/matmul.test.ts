// Every matmul schedule (register-blocked vec4, workgroup-tiled, scalar) on every operand
// layout, against a float64 reference computed here, on shapes that are and are not multiples
// of the tiles. The PyTorch fixture cases of test/ops.fixtures.test.ts run on the schedule the
// adapter picks; here each schedule is forced in turn.
import { afterEach, describe, expect, test } from 'vitest';
import { matmulSchedule, type MatmulOperand } from '../src/kernels/matmul.js';
import { device, ebm, expectClose } from './helpers.js';

// Top-level, so the adapter's features are known when the cases are collected (to skip a
// schedule the adapter cannot run, with the reason printed).
const rt: ebm.Runtime = await device();
afterEach(() => {
  delete rt.tuning.matmul;
});

/** C = op(A) op(B) in float64 for row-major A [.., ar, ac], B [.., br, bc] with batch broadcasting. */
function reference(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], transA: boolean, transB: boolean): { data: Float64Array; shape: number[] } {
  const [ar, ac] = aShape.slice(-2) as [number, number];
  const [br, bc] = bShape.slice(-2) as [number, number];
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const n = transB ? br : bc;
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const batch = Array.from({ length: rank }, (_, i) => Math.max(aBatch[i - rank + aBatch.length] ?? 1, bBatch[i - rank + bBatch.length] ?? 1));
  const total = batch.reduce((x, y) => x * y, 1);
  const out = new Float64Array(total * m * n);
  const offset = (shape: number[], idx: number[], mat: number) => {
    let off = 0;
    let stride = mat;
    for (let i = shape.length - 1; i >= 0; i--) {
      off += (shape[i] === 1 ? 0 : idx[i - shape.length + rank]!) * stride;
      stride *= shape[i]!;
    }
    return off;
  };
  for (let t = 0; t < total; t++) {
    const idx: number[] = [];
    let rem = t;
    for (let i = rank - 1; i >= 0; i--) {
      idx[i] = rem % batch[i]!;
      rem = Math.floor(rem / batch[i]!);
    }
    const ao = offset(aBatch, idx, ar * ac);
    const bo = offset(bBatch, idx, br * bc);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[ao + (transA ? p * ac + i : i * ac + p)]! * b[bo + (transB ? j * bc + p : p * bc + j)]!;
        out[t * m * n + i * n + j] = s;
      }
  }
  return { data: out, shape: [...batch, m, n] };
}

const rand = (shape: number[], seed: number) => ebm.randn(shape, { seed });

// [A shape, B shape, transA, transB]: aligned shapes exercise the vec4 kernel of each layout,
// ragged ones its edges (M not a multiple of the row tile, N of the column tile) and the fallback.
const CASES: [number[], number[], boolean, boolean][] = [
  [[64, 32], [32, 48], false, false],
  [[7, 8], [8, 12], false, false],
  [[33, 12], [12, 4], false, false],
  [[5, 7], [7, 3], false, false],
  [[1, 4], [4, 4], false, false],
  [[64, 32], [48, 32], false, true],
  [[9, 16], [20, 16], false, true],
  [[6, 5], [7, 5], false, true],
  [[32, 64], [32, 48], true, false],
  [[12, 20], [12, 8], true, false],
  [[5, 6], [5, 7], true, false],
  [[3, 4], [5, 3], true, true],
  [[2, 3, 16, 8], [8, 12], false, false],
  [[4, 1, 9, 8], [3, 8, 4], false, false],
  [[2, 8, 12], [2, 16, 12], false, true],
  [[3, 12, 8], [1, 12, 16], true, false],
];

/** The shader each schedule runs. */
const SHADER_OF = { subgroup: 'matmul-subgroup.wgsl', register: 'matmul-vec4.wgsl', tiled: 'matmul-tiled.wgsl', scalar: 'matmul.wgsl' } as const;

/**
 * The shader a forced schedule must run for op(A) [m, k] x op(B) [k, n]: the vec4 schedules
 * take the scalar body where the vec4 loads would run past a row (n, and k for a row-major A or
 * m for a transposed one, not multiples of 4; both operands transposed has no vec4 body).
 */
function expectedShader(schedule: keyof typeof SHADER_OF, m: number, n: number, k: number, transA: boolean, transB: boolean): string {
  if (schedule !== 'subgroup' && schedule !== 'register') return SHADER_OF[schedule];
  const aligned = n % 4 === 0 && !(transA && transB) && (transA ? m % 4 === 0 : k % 4 === 0);
  return aligned ? SHADER_OF[schedule] : SHADER_OF.scalar;
}

/** The subgroup body shares A rows among 8 lanes; an adapter without that cannot run it. */
function subgroupSkipReason(): string | null {
  const r = rt.info.features.has('subgroups') && rt.info.subgroupMinSize >= 8 ? null : `no subgroups of >= 8 lanes on this adapter (subgroups: ${rt.info.features.has('subgroups')}, min size ${rt.info.subgroupMinSize})`;
  if (r) console.log(`matmul subgroup schedule skipped: ${r}`);
  return r;
}

describe.each(['subgroup', 'register', 'tiled', 'scalar'] as const)('matmul, %s schedule', (schedule) => {
  test.skipIf(schedule === 'subgroup' && subgroupSkipReason() !== null).each(CASES.map((c) => [`${c[2] ? 'Aᵀ' : 'A'}${JSON.stringify(c[0])} ${c[3] ? 'Bᵀ' : 'B'}${JSON.stringify(c[1])}`, ...c] as const))(
    '%s',
    async (_name, aShape, bShape, transA, transB) => {
      rt.tuning.matmul = schedule;
      const a = rand(aShape, 1);
      const b = rand(bShape, 2);
      const m = transA ? aShape.at(-1)! : aShape.at(-2)!;
      const k = transA ? aShape.at(-2)! : aShape.at(-1)!;
      const n = transB ? bShape.at(-2)! : bShape.at(-1)!;
      const shader = expectedShader(schedule, m, n, k, transA, transB);
      const ranBefore = rt.stats.byShader.get(shader) ?? 0;
      const c = ebm.matmulT(a, b, transA, transB);
      expect(rt.stats.byShader.get(shader) ?? 0, `the ${schedule} schedule ran ${shader}`).toBe(ranBefore + 1);
      const ref = reference(await a.data(), aShape, await b.data(), bShape, transA, transB);
      expect(c.shape).toEqual(ref.shape);
      expectClose(await c.data(), ref.data, 1e-5, `${schedule} ${JSON.stringify([aShape, bShape, transA, transB])}`);
      ebm.tidy(() => [a, b, c].forEach((t) => t.dispose()));
    },
  );
});

test('the vec4 schedules really are used for aligned shapes, and fall back for ragged ones', () => {
  const op = (rows: number, cols: number, trans: boolean): MatmulOperand => ({ buffer: rt.placeholder, rows, cols, trans, batchStrides: [] });
  rt.tuning.matmul = 'register';
  expect(matmulSchedule(rt, op(64, 32, false), op(32, 48, false), 64, 48, 32)).toBe('register');
  expect(matmulSchedule(rt, op(64, 32, false), op(48, 32, true), 64, 48, 32)).toBe('register');
  expect(matmulSchedule(rt, op(32, 64, true), op(32, 48, false), 64, 48, 32)).toBe('register');
  expect(matmulSchedule(rt, op(5, 7, false), op(7, 3, false), 5, 3, 7)).toBe('scalar');
  expect(matmulSchedule(rt, op(3, 4, true), op(5, 3, true), 4, 5, 3)).toBe('scalar');
  rt.tuning.matmul = 'subgroup';
  const sharing = rt.info.features.has('subgroups') && rt.info.subgroupMinSize >= 8;
  expect(matmulSchedule(rt, op(64, 32, false), op(48, 32, true), 64, 48, 32)).toBe(sharing ? 'subgroup' : 'register');
  expect(matmulSchedule(rt, op(5, 7, false), op(7, 3, false), 5, 3, 7)).toBe('scalar');
  delete rt.tuning.matmul;
  // Without a forced schedule, the adapter decides: lavapipe is a software adapter with
  // 8-lane subgroups.
  expect(matmulSchedule(rt, op(64, 32, false), op(32, 48, false), 64, 48, 32)).toBe(rt.info.isSoftware ? (sharing ? 'subgroup' : 'register') : 'tiled');
});

test('large aligned products agree across schedules', async () => {
  const a = rand([130, 256], 3);
  const b = rand([256, 132], 4);
  const results: Float32Array[] = [];
  for (const s of ['subgroup', 'register', 'tiled', 'scalar']) {
    rt.tuning.matmul = s;
    results.push(await ebm.matmul(a, b).data());
  }
  const ref = reference(await a.data(), [130, 256], await b.data(), [256, 132], false, false).data;
  results.forEach((r, i) => expectClose(r, ref, 1e-5, `schedule ${i}`));
});
