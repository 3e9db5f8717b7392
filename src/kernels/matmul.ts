// Wrappers for the matmul kernels. Schedules, chosen per adapter, shape and dtype:
//   subgroup: matmul-subgroup.wgsl, register blocking whose A loads are shared across a
//             subgroup by shuffles (software adapters with subgroups of 8+ lanes: lavapipe);
//   register: matmul-vec4.wgsl, register blocking with vec4 loads and no workgroup memory
//             (software adapters, where storage and workgroup loads are the bottleneck);
//   tiled:    matmul-tiled.wgsl, workgroup-memory tiling (real GPUs);
//   scalar:   matmul.wgsl (f32) or matmul-f16.wgsl (f16), strided element loads, for the
//             shapes the vec4 bodies cannot take (dims that are not multiples of 4).
// The vec4 bodies read their operands through a preamble (f32-operands.wgsl, f16-native.wgsl,
// f16-packed.wgsl), so one body serves f32 and f16. Every schedule takes transposed operands
// through its layout, never a materialised transpose, and the f32 and vec4 ones apply the fused
// bias + activation epilogue.
import { ACTIVATION_TABLE, defaultActivationParam, type Activation } from './activation-table.js';
import { forcedChoice } from './tuning.js';
import { product } from './layout.js';
import type { KernelSpec, Overrides } from './pipeline-cache.js';
import { BufferUsage } from './gpu-flags.js';
import type { KernelArg, PooledBuffer, Runtime, UniformValues } from './runtime.js';
import { partBindings, planMatmulSplit, windowOf } from './matmul-split.js';
import { reduceKernel } from './reduce.js';

const bindings = [
  { name: 'a', kind: 'read-only-storage' },
  { name: 'b', kind: 'read-only-storage' },
  { name: 'c', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
] as const;
// The epilogue's bias, saved pre-activation and saved raw product (placeholders when unused).
const epilogueBindings = [...bindings, { name: 'bias', kind: 'read-only-storage' }, { name: 'z_out', kind: 'storage' }, { name: 'raw_out', kind: 'storage' }] as const;
const EPILOGUE = 'activations.wgsl+matmul-epilogue.wgsl';

export interface Epilogue {
  /** Added to each column: [n] elements. */
  bias?: PooledBuffer;
  /** Any row of the activation table (ACT_<name> in activations.wgsl). */
  activation?: Activation;
  /** The activation's first parameter (leakyRelu's negative slope, elu's alpha, softplus's beta). */
  param?: number;
  /** Receives A B + bias (the pre-activation), for a backward pass that needs it. */
  z?: PooledBuffer;
  /** Receives A B (before the bias): a folded plain-ops chain's first intermediate. */
  raw?: PooledBuffer;
}

export const MATMUL_SCHEDULES = ['subgroup', 'register', 'tiled', 'scalar'] as const;
export type MatmulSchedule = (typeof MATMUL_SCHEDULES)[number];

export type OperandType = 'f32' | 'f16';

/** The batch dims the kernels can address (one vec4<u32> each of shape and strides). */
export const MATMUL_MAX_BATCH_RANK = 4;

export interface MatmulOperand {
  buffer: PooledBuffer;
  /** The stored matrix is [rows, cols], row-major; `trans` means the product uses its transpose. */
  rows: number;
  cols: number;
  trans: boolean;
  /** Per batch dim of the output's batch shape, in elements; 0 where this operand is broadcast. */
  batchStrides: readonly number[];
}

/**
 * Register tile per layout (rows x vec4 column groups) and workgroup side, measured on lavapipe:
 * f16 loads are cheaper per element, so a wider tile pays there.
 */
const REGISTER_WG = 8;
const REGISTER_TILE = {
  f32: { nn: { tm: 4, tn4: 1 }, nt: { tm: 4, tn4: 1 }, tn: { tm: 4, tn4: 2 } },
  f16: { nn: { tm: 4, tn4: 2 }, nt: { tm: 4, tn4: 1 }, tn: { tm: 4, tn4: 2 } },
} as const;

function layoutOf(a: MatmulOperand, b: MatmulOperand): 'nn' | 'nt' | 'tn' | 'tt' {
  return a.trans ? (b.trans ? 'tt' : 'tn') : b.trans ? 'nt' : 'nn';
}

/** Whether the vec4 bodies can take this product: their vectorised dims must be multiples of 4. */
function vec4Aligned(layout: string, m: number, n: number, k: number): boolean {
  if (n % 4 !== 0) return false;
  if (layout === 'nn' || layout === 'nt') return k % 4 === 0;
  if (layout === 'tn') return m % 4 === 0;
  return false;
}

/** The subgroup body shares A rows among 8 lanes, so it needs subgroups of at least 8. */
function subgroupsUsable(rt: Runtime): boolean {
  return rt.info.features.has('subgroups') && rt.info.subgroupMinSize >= 8;
}

/**
 * How f16 operands are read: natively with shader-f16, or packed in u32 words and widened with
 * unpack2x16float where the adapter lacks it (SwiftShader). `rt.tuning.f16 = 'packed'` forces
 * the fallback so it can be tested on any adapter.
 */
export function f16Storage(rt: Runtime): 'native' | 'packed' {
  return rt.info.features.has('shader-f16') && forcedChoice(rt.tuning, 'f16', ['native', 'packed']) !== 'packed' ? 'native' : 'packed';
}

function operandPreamble(rt: Runtime, dtype: OperandType): string {
  if (dtype === 'f32') return 'f32-operands.wgsl';
  return f16Storage(rt) === 'native' ? 'f16-native.wgsl' : 'f16-packed.wgsl';
}

/**
 * The schedule for this adapter, shape and dtype. `rt.tuning.matmul` forces one (the vec4
 * schedules fall back to 'scalar' where the shape is not vec4-aligned, and f16 has no 'tiled'
 * body: it takes 'register'), so tests can run every schedule.
 */
export function matmulSchedule(rt: Runtime, a: MatmulOperand, b: MatmulOperand, m: number, n: number, k: number, dtype: OperandType = 'f32'): MatmulSchedule {
  const forced = forcedChoice(rt.tuning, 'matmul', MATMUL_SCHEDULES);
  let wanted = forced ? forced : rt.info.isSoftware ? (subgroupsUsable(rt) ? 'subgroup' : 'register') : 'tiled';
  if (dtype === 'f16' && wanted === 'tiled') wanted = 'register';
  if ((wanted === 'register' || wanted === 'subgroup') && !vec4Aligned(layoutOf(a, b), m, n, k)) return 'scalar';
  if (wanted === 'subgroup' && !subgroupsUsable(rt)) return 'register';
  return wanted;
}

/** C (f32) = epilogue(op(A) op(B)); A and B both f32 or both f16 (accumulating in f32). */
export function matmulKernel(
  rt: Runtime,
  a: MatmulOperand,
  b: MatmulOperand,
  c: PooledBuffer,
  m: number,
  n: number,
  k: number,
  batchShape: readonly number[],
  epilogue: Epilogue = {},
  dtype: OperandType = 'f32',
): MatmulSchedule {
  const launch = prepareMatmul(rt, a, b, c, m, n, k, batchShape, dtype);
  launch.run(epilogue);
  return launch.schedule;
}

/** A matmul checked against the device's limits and given its schedule, to be dispatched now or later. */
export interface MatmulLaunch {
  readonly schedule: MatmulSchedule;
  /** Whether this schedule applies the fused epilogue (the strided f16 body does not). */
  readonly takesEpilogue: boolean;
  /**
   * Records the dispatch(es) writing C (f32) = epilogue(op(A) op(B)), into `out` if given (a
   * buffer of C's size: a folded chain writes its last stage), else into C.
   */
  run(epilogue?: Epilogue, out?: PooledBuffer): void;
}

/**
 * Everything of a matmul but its dispatch: the checks that can fail (batch rank, grid width,
 * buffers over the binding limit that no split fits), which run at once, and the schedule.
 * src/tensor/fusion/ defers run() so that a bias add and an activation on the product can join
 * its epilogue. Operands or an output over one binding split into parts (matmul-split.ts).
 */
export function prepareMatmul(
  rt: Runtime,
  a: MatmulOperand,
  b: MatmulOperand,
  c: PooledBuffer,
  m: number,
  n: number,
  k: number,
  batchShape: readonly number[],
  dtype: OperandType = 'f32',
): MatmulLaunch {
  if (batchShape.length > MATMUL_MAX_BATCH_RANK) throw new Error(`matmul: at most ${MATMUL_MAX_BATCH_RANK} batch dims are supported, got [${batchShape.join(', ')}]`);
  const batch = product(batchShape);
  const schedule = matmulSchedule(rt, a, b, m, n, k, dtype);
  const body = matmulBody(rt, a, b, m, n, k, batchShape, dtype, schedule);
  const geometry = { a, b, m, n, k, batchShape, dtype };
  // Throws (before anything is recorded) where the columns alone need too many workgroups.
  const grid = splitGrid(rt, body.groupsX, body.rowsPerGroup, 0, m, 0, batch, n);
  const split = planMatmulSplit(rt, geometry, c, body.rowsPerGroup, body.kSplits);
  const args = (ep: Epilogue, out: KernelArg, aArg: KernelArg, bArg: KernelArg, params: UniformValues, z?: KernelArg, raw?: KernelArg): KernelArg[] => [
    aArg,
    bArg,
    out,
    params,
    ...(body.epilogue ? [ep.bias ?? rt.placeholder, z ?? rt.placeholderOut, raw ?? rawPlaceholder(rt)] : []),
  ];
  const zero = { a_offset: 0, b_offset: 0, c_offset: 0 };
  if (!split)
    return {
      schedule,
      takesEpilogue: body.takesEpilogue,
      run: (ep = {}, out = c) => {
        body.check(ep);
        dispatchGrid(rt, body.spec, (p) => args(ep, out, a.buffer, b.buffer, { ...body.params, ...zero, ...p }, ep.z, ep.raw), body.overrides(ep), grid);
      },
    };
  const total = batch * m * n;
  if (split.slices > 0) rt.checkAllocation(split.slices * total * 4, rt.currentOp ?? 'matmul', `the partial sums of a matmul split over k (${split.slices} x ${total} f32)`);
  return {
    schedule,
    // Partial sums over k are added after the parts: no epilogue can run in them.
    takesEpilogue: body.takesEpilogue && split.slices === 0,
    run: (ep = {}, out = c) => {
      body.check(ep);
      if (split.slices > 0 && (ep.bias || ep.z || ep.raw || (ep.activation ?? 'none') !== 'none')) throw new Error('matmul: a product split over k takes no fused epilogue');
      const scratch = split.slices > 0 ? rt.allocate(split.slices * total * 4, 'matmul partial sums') : null;
      const target = scratch ?? out;
      for (const part of split.parts) {
        const w = partBindings(rt, geometry, part, body.vec4);
        const win = (buf: PooledBuffer | undefined) => buf && windowOf(rt, buf, w.cStart, w.cEnd);
        const params = { ...body.params, k: part.k1 - part.k0, ...w.offsets };
        const partGrid = splitGrid(rt, body.groupsX, body.rowsPerGroup, part.r0, part.r1, part.b0, part.b1, n);
        dispatchGrid(rt, body.spec, (p) => args(ep, win(target)!, w.a, w.b, { ...params, ...p }, win(ep.z), win(ep.raw)), body.overrides(ep), partGrid);
      }
      if (scratch) {
        reduceKernel(rt, 'sum', scratch, out, [split.slices, total], [0]);
        rt.free(scratch);
      }
    },
  };
}

/** One schedule's kernel for a product: its spec, uniform (less row/batch starts and offsets), overrides and grid shape. */
interface MatmulBody {
  readonly spec: KernelSpec;
  readonly params: UniformValues;
  readonly overrides: (ep: Epilogue) => Overrides;
  /** Whether the kernel binds the epilogue's bias, z_out and raw_out. */
  readonly epilogue: boolean;
  readonly takesEpilogue: boolean;
  /** Throws where the epilogue asked for is one this body cannot apply. */
  readonly check: (ep: Epilogue) => void;
  readonly groupsX: number;
  readonly rowsPerGroup: number;
  /** Whether A, B and C are indexed in vec4s (else elements). */
  readonly vec4: boolean;
  /** Whether k is only the kernel's loop count and A is transposed, so the product may split over k. */
  readonly kSplits: boolean;
}

function matmulBody(rt: Runtime, a: MatmulOperand, b: MatmulOperand, m: number, n: number, k: number, batchShape: readonly number[], dtype: OperandType, schedule: MatmulSchedule): MatmulBody {
  const fusedOverrides = (epilogue: Epilogue) => ({
    ACT: rt.pipelines.constValue('matmul.wgsl', ACTIVATION_TABLE[epilogue.activation ?? 'none'].wgsl, EPILOGUE),
    HAS_BIAS: !!epilogue.bias,
    SAVE_Z: !!epilogue.z,
    SAVE_RAW: !!epilogue.raw,
    ACT_PARAM: epilogue.param ?? defaultActivationParam(epilogue.activation ?? 'none'),
  });
  const none = () => {};
  if (schedule === 'subgroup' || schedule === 'register') {
    const layout = layoutOf(a, b) as 'nn' | 'nt' | 'tn';
    const preamble = `${schedule === 'subgroup' ? 'subgroups.wgsl+' : ''}${operandPreamble(rt, dtype)}+matmul-vec4-common.wgsl+${EPILOGUE}`;
    const spec: KernelSpec = { shader: schedule === 'subgroup' ? 'matmul-subgroup.wgsl' : 'matmul-vec4.wgsl', entry: layout, bindings: epilogueBindings, preamble };
    // Batch strides in vec4 units (aligned shapes make them multiples of 4).
    const params = {
      m,
      n,
      k,
      batch_rank: batchShape.length,
      batch_shape: batchShape,
      a_batch_strides: a.batchStrides.map((s) => s / 4),
      b_batch_strides: b.batchStrides.map((s) => s / 4),
    };
    // tn reads k only as its loop count (nn and nt also as A's row length).
    const common = { spec, params, epilogue: true, takesEpilogue: true, check: none, vec4: true, kSplits: layout === 'tn' };
    if (schedule === 'subgroup') {
      // Narrow outputs get narrower workgroups, but never narrower than a subgroup.
      const wg = Math.max(8, rt.info.subgroupMaxSize, Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, n / 4)))));
      return { ...common, overrides: (ep) => ({ WG: wg, ...fusedOverrides(ep) }), groupsX: Math.ceil(n / 4 / wg), rowsPerGroup: 8 };
    }
    const { tm, tn4 } = REGISTER_TILE[dtype][layout];
    return { ...common, overrides: (ep) => ({ TM: tm, TN4: tn4, WG_X: REGISTER_WG, WG_Y: REGISTER_WG, ...fusedOverrides(ep) }), groupsX: Math.ceil(n / 4 / tn4 / REGISTER_WG), rowsPerGroup: tm * REGISTER_WG };
  }

  const params = {
    m,
    n,
    k,
    batch_rank: batchShape.length,
    a_row_stride: a.trans ? 1 : a.cols,
    a_col_stride: a.trans ? a.cols : 1,
    b_row_stride: b.trans ? 1 : b.cols,
    b_col_stride: b.trans ? b.cols : 1,
    batch_shape: batchShape,
    a_batch_strides: a.batchStrides,
    b_batch_strides: b.batchStrides,
  };
  if (dtype === 'f16') {
    const spec: KernelSpec = { shader: 'matmul-f16.wgsl', entry: 'strided', bindings, preamble: operandPreamble(rt, 'f16') };
    return {
      spec,
      params,
      overrides: () => ({}),
      epilogue: false,
      takesEpilogue: false,
      check: (ep) => {
        if (ep.bias || ep.z || ep.raw || (ep.activation ?? 'none') !== 'none')
          throw new Error('matmul: the fused epilogue takes f16 operands only in vec4-aligned shapes; cast to f32 or use separate ops');
      },
      groupsX: Math.ceil(n / REGISTER_WG),
      rowsPerGroup: REGISTER_WG,
      vec4: false,
      kSplits: a.trans,
    };
  }
  const tile = schedule === 'tiled' ? 64 : 32;
  const spec: KernelSpec = { shader: schedule === 'tiled' ? 'matmul-tiled.wgsl' : 'matmul.wgsl', entry: 'main', bindings: epilogueBindings, preamble: EPILOGUE };
  return { spec, params, overrides: fusedOverrides, epilogue: true, takesEpilogue: true, check: none, groupsX: Math.ceil(n / tile), rowsPerGroup: tile, vec4: false, kSplits: a.trans };
}

/** Per device: the buffer bound as raw_out when the raw product is not saved (z_out takes the runtime's placeholderOut; two outputs may not share one). */
const rawPlaceholders = new WeakMap<Runtime, PooledBuffer>();
function rawPlaceholder(rt: Runtime): PooledBuffer {
  let p = rawPlaceholders.get(rt);
  if (!p) rawPlaceholders.set(rt, (p = rt.pool.acquire(16, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, 'placeholder-raw')));
  return p;
}

/**
 * A matmul grid (x: column tiles, y: row tiles of `rowsPerGroup` rows, z: batches) as one or
 * more dispatches, where rows or batches need more workgroups than the device allows in one
 * dimension (65535 on most): each one's first row and batch go in its uniform (row_start,
 * batch_start), so [600000, 4] x [4, 4] or a batch of 70000 just work. Throws (before anything
 * is recorded) where the columns alone need too many.
 */
interface MatmulGrid {
  readonly parts: readonly { readonly offsets: { row_start: number; batch_start: number }; readonly workgroups: readonly [number, number, number] }[];
}

function splitGrid(rt: Runtime, groupsX: number, rowsPerGroup: number, r0: number, r1: number, b0: number, b1: number, n: number): MatmulGrid {
  const max = rt.maxWorkgroupsPerDimension;
  if (groupsX > max)
    throw new Error(`matmul: an output ${n} columns wide needs ${groupsX} workgroups across, over this device's maxComputeWorkgroupsPerDimension of ${max}; transpose the product (compute (B^T A^T)^T) so the long side is the rows`);
  const rowGroups = Math.ceil((r1 - r0) / rowsPerGroup);
  const parts: MatmulGrid['parts'][number][] = [];
  for (let z0 = b0; z0 < b1; z0 += max)
    for (let g0 = 0; g0 < rowGroups; g0 += max)
      parts.push({ offsets: { row_start: r0 + g0 * rowsPerGroup, batch_start: z0 }, workgroups: [groupsX, Math.min(max, rowGroups - g0), Math.min(max, b1 - z0)] });
  return { parts };
}

function dispatchGrid(rt: Runtime, spec: KernelSpec, argsFor: (offsets: { row_start: number; batch_start: number }) => KernelArg[], overrides: Overrides, grid: MatmulGrid): void {
  for (const { offsets, workgroups } of grid.parts) rt.dispatch(spec, argsFor(offsets), { overrides, workgroups });
}
