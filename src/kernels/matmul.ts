// Wrappers for the matmul kernels. Four schedules, chosen per adapter and shape:
//   subgroup: matmul-subgroup.wgsl, register blocking whose A loads are shared across a
//             subgroup by shuffles (software adapters with subgroups of 8+ lanes: lavapipe);
//   register: matmul-vec4.wgsl, register blocking with vec4 loads and no workgroup memory
//             (software adapters, where storage and workgroup loads are the bottleneck);
//   tiled:    matmul-tiled.wgsl, workgroup-memory tiling (real GPUs);
//   scalar:   matmul.wgsl, strided scalar loads, for shapes the vec4 kernel cannot take
//             (dims that are not multiples of 4) on software adapters.
// All three take transposed operands through their layout, never a materialised transpose.
import { product } from './layout.js';
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import { UniformWriter } from './uniform.js';

const bindings = [
  { name: 'a', kind: 'read-only-storage' },
  { name: 'b', kind: 'read-only-storage' },
  { name: 'c', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
] as const;
// The f32 kernels carry the fused epilogue: C = act(A B + bias), optionally saving A B + bias.
const epilogueBindings = [...bindings, { name: 'bias', kind: 'read-only-storage' }, { name: 'z_out', kind: 'storage' }] as const;
const EPILOGUE = 'activations.wgsl+matmul-epilogue.wgsl';

const SCALAR: KernelSpec = { shader: 'matmul.wgsl', entry: 'main', bindings: epilogueBindings, preamble: EPILOGUE };
const TILED: KernelSpec = { shader: 'matmul-tiled.wgsl', entry: 'main', bindings: epilogueBindings, preamble: EPILOGUE };
const REGISTER: Record<'nn' | 'nt' | 'tn', KernelSpec> = {
  nn: { shader: 'matmul-vec4.wgsl', entry: 'nn', bindings: epilogueBindings, preamble: EPILOGUE },
  nt: { shader: 'matmul-vec4.wgsl', entry: 'nt', bindings: epilogueBindings, preamble: EPILOGUE },
  tn: { shader: 'matmul-vec4.wgsl', entry: 'tn', bindings: epilogueBindings, preamble: EPILOGUE },
};

const SUBGROUP: Record<'nn' | 'nt' | 'tn', KernelSpec> = {
  nn: { shader: 'matmul-subgroup.wgsl', entry: 'nn', bindings: epilogueBindings, preamble: `subgroups.wgsl+${EPILOGUE}` },
  nt: { shader: 'matmul-subgroup.wgsl', entry: 'nt', bindings: epilogueBindings, preamble: `subgroups.wgsl+${EPILOGUE}` },
  tn: { shader: 'matmul-subgroup.wgsl', entry: 'tn', bindings: epilogueBindings, preamble: `subgroups.wgsl+${EPILOGUE}` },
};

/** Activations the matmul epilogue can apply (ACT_* in activations.wgsl). */
export type EpilogueActivation = 'none' | 'relu' | 'leakyRelu' | 'silu' | 'tanh' | 'gelu' | 'sigmoid';

export interface Epilogue {
  /** Added to each column: [n] elements. */
  bias?: PooledBuffer;
  activation?: EpilogueActivation;
  /** leakyRelu's negative slope. */
  slope?: number;
  /** Receives A B + bias (the pre-activation), for a backward pass that needs it. */
  z?: PooledBuffer;
}

export type MatmulSchedule = 'subgroup' | 'register' | 'tiled' | 'scalar';

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

/** Register tile per layout (rows x vec4 column groups) and workgroup side, measured on lavapipe. */
const REGISTER_WG = 8;
const REGISTER_TILE = { nn: { tm: 4, tn4: 1 }, nt: { tm: 4, tn4: 1 }, tn: { tm: 4, tn4: 2 } } as const;
/** f16 loads are cheaper per element, so a wider tile pays (the notes measured 4 x 2 vec4). */
const F16_TILE = { nn: { tm: 4, tn4: 2 }, nt: { tm: 4, tn4: 1 }, tn: { tm: 4, tn4: 2 } } as const;

function layoutOf(a: MatmulOperand, b: MatmulOperand): 'nn' | 'nt' | 'tn' | 'tt' {
  return a.trans ? (b.trans ? 'tt' : 'tn') : b.trans ? 'nt' : 'nn';
}

/** Whether the vec4 kernel can take this product: its vectorised dims must be multiples of 4. */
function vec4Aligned(layout: string, m: number, n: number, k: number): boolean {
  if (n % 4 !== 0) return false;
  if (layout === 'nn' || layout === 'nt') return k % 4 === 0;
  if (layout === 'tn') return m % 4 === 0;
  return false;
}

/**
 * The schedule for this adapter and shape. `rt.tuning.matmul` forces one ('register' falls
 * back to 'scalar' where the shape is not vec4-aligned), so tests can run every schedule.
 */
export function matmulSchedule(rt: Runtime, a: MatmulOperand, b: MatmulOperand, m: number, n: number, k: number): MatmulSchedule {
  const forced = rt.tuning.matmul;
  const wanted = forced && forced !== 'auto' ? (forced as MatmulSchedule) : rt.info.isSoftware ? (subgroupsUsable(rt) ? 'subgroup' : 'register') : 'tiled';
  if ((wanted === 'register' || wanted === 'subgroup') && !vec4Aligned(layoutOf(a, b), m, n, k)) return 'scalar';
  if (wanted === 'subgroup' && !subgroupsUsable(rt)) return 'register';
  return wanted;
}

/** The subgroup kernel shares A rows among 8 lanes, so it needs subgroups of at least 8. */
function subgroupsUsable(rt: Runtime): boolean {
  return rt.info.features.has('subgroups') && rt.info.subgroupMinSize >= 8;
}

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
): MatmulSchedule {
  if (batchShape.length > MATMUL_MAX_BATCH_RANK) throw new Error(`matmul: at most ${MATMUL_MAX_BATCH_RANK} batch dims are supported, got [${batchShape.join(', ')}]`);
  const batch = product(batchShape);
  const schedule = matmulSchedule(rt, a, b, m, n, k);
  const fused = {
    ACT: rt.pipelines.constValue('matmul.wgsl', `ACT_${epilogue.activation ?? 'none'}`, EPILOGUE),
    HAS_BIAS: !!epilogue.bias,
    SAVE_Z: !!epilogue.z,
    SLOPE: epilogue.slope ?? 0.01,
  };
  const extra = [epilogue.bias ?? rt.placeholder, epilogue.z ?? rt.placeholderOut];
  if (schedule === 'subgroup') {
    const layout = layoutOf(a, b) as 'nn' | 'nt' | 'tn';
    // Narrow outputs get narrower workgroups, but never narrower than a subgroup.
    const wg = Math.max(8, rt.info.subgroupMaxSize, Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, n / 4)))));
    const params = new UniformWriter(16)
      .u(m, n, k, batchShape.length)
      .vec(batchShape, 4)
      .vec(a.batchStrides.map((s) => s / 4), 4)
      .vec(b.batchStrides.map((s) => s / 4), 4)
      .bytes();
    rt.dispatch(SUBGROUP[layout], [a.buffer, b.buffer, c, params, ...extra], {
      overrides: { WG: wg, ...fused },
      workgroups: [Math.ceil(n / 4 / wg), Math.ceil(m / 8), batch],
    });
    return schedule;
  }
  if (schedule === 'register') {
    const layout = layoutOf(a, b) as 'nn' | 'nt' | 'tn';
    const { tm, tn4 } = REGISTER_TILE[layout];
    const params = new UniformWriter(16)
      .u(m, n, k, batchShape.length)
      .vec(batchShape, 4)
      .vec(a.batchStrides.map((s) => s / 4), 4)
      .vec(b.batchStrides.map((s) => s / 4), 4)
      .bytes();
    rt.dispatch(REGISTER[layout], [a.buffer, b.buffer, c, params, ...extra], {
      overrides: { TM: tm, TN4: tn4, WG_X: REGISTER_WG, WG_Y: REGISTER_WG, ...fused },
      workgroups: [Math.ceil(n / 4 / tn4 / REGISTER_WG), Math.ceil(m / tm / REGISTER_WG), batch],
    });
    return schedule;
  }
  const strides = (o: MatmulOperand) => (o.trans ? [1, o.cols] : [o.cols, 1]);
  const params = new UniformWriter(20)
    .u(m, n, k, batchShape.length, ...strides(a), ...strides(b))
    .vec(batchShape, 4)
    .vec(a.batchStrides, 4)
    .vec(b.batchStrides, 4)
    .bytes();
  const tile = schedule === 'tiled' ? 64 : 32;
  rt.dispatch(schedule === 'tiled' ? TILED : SCALAR, [a.buffer, b.buffer, c, params, ...extra], { overrides: fused, workgroups: [Math.ceil(n / tile), Math.ceil(m / tile), batch] });
  return schedule;
}

/**
 * How f16 operands are read: natively with shader-f16, or packed in u32 words and widened with
 * unpack2x16float where the adapter lacks it (SwiftShader). `rt.tuning.f16 = 'packed'` forces
 * the fallback so it can be tested on any adapter.
 */
export function f16Storage(rt: Runtime): 'native' | 'packed' {
  return rt.info.features.has('shader-f16') && rt.tuning.f16 !== 'packed' ? 'native' : 'packed';
}

/**
 * C (f32) = op(A) op(B) for f16 A and B, accumulating in f32: register-blocked vec4 loads when
 * the vectorised dims are multiples of 4, else one output per invocation. The f16 data is
 * laid out like f32 data (row-major, element strides); only the element size differs.
 */
export function matmulF16Kernel(rt: Runtime, a: MatmulOperand, b: MatmulOperand, c: PooledBuffer, m: number, n: number, k: number, batchShape: readonly number[]): void {
  if (batchShape.length > MATMUL_MAX_BATCH_RANK) throw new Error(`matmul: at most ${MATMUL_MAX_BATCH_RANK} batch dims are supported, got [${batchShape.join(', ')}]`);
  const layout = layoutOf(a, b);
  const entry: 'nn' | 'nt' | 'tn' | 'strided' = layout !== 'tt' && vec4Aligned(layout, m, n, k) ? layout : 'strided';
  const spec: KernelSpec = { shader: 'matmul-f16.wgsl', entry, bindings, preamble: f16Storage(rt) === 'native' ? 'f16-native.wgsl' : 'f16-packed.wgsl' };
  const strides = (o: MatmulOperand) => (o.trans ? [1, o.cols] : [o.cols, 1]);
  const params = new UniformWriter(20)
    .u(m, n, k, batchShape.length, ...strides(a), ...strides(b))
    .vec(batchShape, 4)
    .vec(a.batchStrides, 4)
    .vec(b.batchStrides, 4)
    .bytes();
  const batch = product(batchShape);
  const preamble = f16Storage(rt) === 'native' ? 'f16-native.wgsl' : 'f16-packed.wgsl';
  if (entry !== 'strided' && subgroupsUsable(rt) && rt.tuning.matmul !== 'register') {
    // The subgroup schedule, as for f32 (see matmulKernel).
    const wg = Math.max(8, rt.info.subgroupMaxSize, Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, n / 4)))));
    const sgParams = new UniformWriter(16)
      .u(m, n, k, batchShape.length)
      .vec(batchShape, 4)
      .vec(a.batchStrides.map((s) => s / 4), 4)
      .vec(b.batchStrides.map((s) => s / 4), 4)
      .bytes();
    const sgSpec: KernelSpec = { shader: 'matmul-f16-subgroup.wgsl', entry, bindings, preamble: `subgroups.wgsl+${preamble}` };
    rt.dispatch(sgSpec, [a.buffer, b.buffer, c, sgParams], { overrides: { WG: wg }, workgroups: [Math.ceil(n / 4 / wg), Math.ceil(m / 8), batch] });
    return;
  }
  if (entry === 'strided') {
    rt.dispatch(spec, [a.buffer, b.buffer, c, params], { workgroups: [Math.ceil(n / REGISTER_WG), Math.ceil(m / REGISTER_WG), batch] });
    return;
  }
  const { tm, tn4 } = F16_TILE[entry];
  rt.dispatch(spec, [a.buffer, b.buffer, c, params], {
    overrides: { TM: tm, TN4: tn4, WG_X: REGISTER_WG, WG_Y: REGISTER_WG },
    workgroups: [Math.ceil(n / 4 / tn4 / REGISTER_WG), Math.ceil(m / tm / REGISTER_WG), batch],
  });
}
