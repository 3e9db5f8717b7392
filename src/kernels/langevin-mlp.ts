// Wrapper for langevin-mlp.wgsl: several Langevin steps of an MLP energy in one dispatch (the
// forward pass, dE/dx and the update, per chain). The caller packs the weights as packedLayout
// says, allocates langevinMlpScratchWords() words of scratch, and checks the model against
// LANGEVIN_MLP_LIMITS first. Chains whose scratch would not fit one storage binding (about
// 50,000 for three hidden layers of 128) run in blocks, one dispatch per block; where x itself
// is over one binding, each block binds a window of it. A chain's noise is keyed by its global
// index (chain0 + lane), so the blocks give the same numbers as one dispatch.
//
// Schedules (how the chains of a workgroup share the weight loads; langevinMlpSchedule picks one
// per adapter, `rt.tuning.langevinMlp` forces one):
//   'subgroup8'  langevin-mlp-sg8.wgsl: shuffles within groups of 8 lanes (subgroups of 8+ lanes:
//                lavapipe, most GPUs);
//   'subgroup4'  langevin-mlp-sg4.wgsl: shuffles within groups of 4 lanes (subgroups of 4:
//                SwiftShader; correct on any subgroup size that is a multiple of 4);
//   'workgroup'  langevin-mlp-wg.wgsl: tiles through workgroup memory (no subgroups needed).
import { ACTIVATION_TABLE, defaultActivationParam, type Activation } from './activation-table.js';
import { forcedChoice } from './tuning.js';
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import { needsWindows, u32, windowAt, windowBytes } from './binding-window.js';

export const LANGEVIN_MLP_SCHEDULES = ['subgroup8', 'subgroup4', 'workgroup'] as const;
export type LangevinMlpSchedule = (typeof LANGEVIN_MLP_SCHEDULES)[number];

const BINDINGS: KernelSpec['bindings'] = [
  { name: 'x', kind: 'storage' },
  { name: 'wts', kind: 'read-only-storage' },
  { name: 'scratch', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
  { name: 'wts1', kind: 'read-only-storage' },
];
const SUBGROUP_PREAMBLE = 'subgroups.wgsl+philox.wgsl+activations.wgsl+langevin-mlp.wgsl';
const KERNELS: Record<LangevinMlpSchedule, KernelSpec> = {
  subgroup8: { shader: 'langevin-mlp-sg8.wgsl', preamble: SUBGROUP_PREAMBLE, entry: 'main', bindings: BINDINGS },
  subgroup4: { shader: 'langevin-mlp-sg4.wgsl', preamble: SUBGROUP_PREAMBLE, entry: 'main', bindings: BINDINGS },
  workgroup: { shader: 'langevin-mlp-wg.wgsl', preamble: 'philox.wgsl+activations.wgsl+langevin-mlp.wgsl', entry: 'main', bindings: BINDINGS },
};

/** What the kernel takes (MAX_* in langevin-mlp.wgsl and the size of its uniform block). */
export const LANGEVIN_MLP_LIMITS = Object.freeze({
  /** Elements per chain (the MLP's input width). */
  maxDim: 16,
  /** Any hidden layer's width. */
  maxWidth: 256,
  /** Hidden Linear layers (each followed by its activation), not counting the output Linear. */
  maxHiddenLayers: 4,
  /** Steps one dispatch can run (the size of its (h, sigma) table). */
  maxStepsPerDispatch: 64,
});

/** The kernel evaluates every row of the activation table (ACT_<name> in activations.wgsl). */
export type MlpActivation = Activation;

export interface MlpLayerShape {
  /** Input width (the chain's dim for the first layer). */
  inFeatures: number;
  outFeatures: number;
  activation: MlpActivation;
  /** The activation's first parameter (leakyRelu's negative slope, elu's alpha, softplus's beta). */
  actParam?: number;
}

/** Where each tensor goes in the packed weight buffer (f32 words, all 16-byte aligned), and the scratch each chain needs. */
export interface PackedLayout {
  dim: number;
  layers: readonly {
    in: number;
    out: number;
    /** Words per stored row: dim for layer 0, the previous layer's rows after it. */
    rowStride: number;
    /** Rows stored: out rounded up to 32 (the extra rows, and their columns in the next layer, stay zero). */
    rows: number;
    weight: number;
    bias: number;
    act: MlpActivation;
    actParam: number;
  }[];
  /** The output layer's weight [rows of the last hidden layer]. */
  wOut: number;
  /** Total words. */
  words: number;
  /** Whether some slot has padding that must read as zero (a hidden width that is not a multiple of 32). */
  padded: boolean;
  /** Scratch per chain, in vec4s: activation halves A and B (halfB vec4s each), then each layer's act'(z) at dactAt[l]. */
  halfB: number;
  dactAt: readonly number[];
  scratchPerChain: number;
}

const up = (n: number, m: number) => Math.ceil(n / m) * m;

/** The packed layout of an MLP [dim] -> hidden layers -> 1. */
export function packedLayout(dim: number, layers: readonly MlpLayerShape[]): PackedLayout {
  let at = 0;
  const take = (words: number) => {
    const off = at;
    at += up(words, 4);
    return off;
  };
  let padded = false;
  let prevRows = dim;
  const out = layers.map((l, i) => {
    const rowStride = prevRows;
    const rows = up(l.outFeatures, 32);
    if ((i > 0 && rowStride !== l.inFeatures) || rows !== l.outFeatures) padded = true;
    prevRows = rows;
    return { in: l.inFeatures, out: l.outFeatures, rowStride, rows, weight: take(rows * rowStride), bias: take(rows), act: l.activation, actParam: l.actParam ?? defaultActivationParam(l.activation) };
  });
  const wOut = take(prevRows);
  const halfB = Math.max(...out.map((l) => l.rows / 4));
  const dactAt: number[] = [];
  let s = 2 * halfB;
  for (const l of out) {
    dactAt.push(s);
    s += l.rows / 4;
  }
  return { dim, layers: out, wOut, words: at, padded, halfB, dactAt, scratchPerChain: s };
}

/** Whether the device runs the schedule: the subgroup ones need subgroups of at least 8 or 4 lanes. */
function runs(rt: Runtime, s: LangevinMlpSchedule): boolean {
  const lanes = s === 'subgroup8' ? 8 : s === 'subgroup4' ? 4 : 0;
  const k = KERNELS[s];
  return (lanes === 0 || (rt.info.features.has('subgroups') && rt.info.subgroupMinSize >= lanes)) && rt.pipelines.runnable(`${k.preamble!}+${k.shader}`);
}

/** Whether the device can run the kernel (some schedule runs on every WebGPU device). */
export function langevinMlpUsable(rt: Runtime): boolean {
  return LANGEVIN_MLP_SCHEDULES.some((s) => runs(rt, s));
}

/**
 * The schedule for this adapter: shuffles within groups of 8 lanes where the subgroups have 8 or
 * more, of 4 where they have 4 (SwiftShader), workgroup memory where there are no subgroups (or
 * the adapter does not say their size). `rt.tuning.langevinMlp` forces one ('auto': the choice);
 * a forced schedule the device cannot run gives way to the choice.
 */
export function langevinMlpSchedule(rt: Runtime): LangevinMlpSchedule {
  const forced = forcedChoice(rt.tuning, 'langevinMlp', LANGEVIN_MLP_SCHEDULES);
  if (forced && runs(rt, forced)) return forced;
  return LANGEVIN_MLP_SCHEDULES.find((s) => runs(rt, s))!;
}

/** The shader file a schedule runs (what rt.stats.byShader counts). */
export function langevinMlpShader(s: LangevinMlpSchedule): string {
  return KERNELS[s].shader;
}

interface Schedule {
  name: LangevinMlpSchedule;
  /** Workgroup size: a multiple of the subgroup size, so every subgroup is full. */
  wg: number;
  /** Chains one dispatch can run (its scratch must fit one storage binding). */
  maxChains: number;
}

function schedule(rt: Runtime, layout: PackedLayout): Schedule {
  const name = langevinMlpSchedule(rt);
  const lanes = name === 'subgroup8' ? 8 : 4;
  // Subgroup schedules: one subgroup per workgroup on software adapters (more workgroups for the
  // CPU's threads). Workgroup memory: 64 invocations share each staged chunk.
  const wg = name === 'workgroup' ? 64 : rt.info.isSoftware ? Math.max(lanes, rt.info.subgroupMaxSize) : Math.max(64, rt.info.subgroupMaxSize);
  // One binding (windowBytes: rt.tuning.windowBytes lowers it in tests) holds a block's scratch
  // and its window of x (less the slack of aligning the window's start).
  const limit = windowBytes(rt);
  // rt.tuning.langevinMlpMaxChains lowers the block size (tests run the blocked path with it).
  const cap = Number(rt.tuning.langevinMlpMaxChains ?? Infinity);
  const xChains = (limit - rt.bindingAlignment) / (layout.dim * 4);
  const maxChains = Math.max(wg, Math.floor(Math.min(cap, limit / (layout.scratchPerChain * 16), xChains) / wg) * wg);
  return { name, wg, maxChains };
}

/** The scratch words (f32) a dispatch over `chains` chains needs. */
export function langevinMlpScratchWords(rt: Runtime, layout: PackedLayout, chains: number): number {
  const { wg, maxChains } = schedule(rt, layout);
  return layout.scratchPerChain * 4 * up(Math.min(chains, maxChains), wg);
}

export interface LangevinMlpArgs {
  chains: number;
  layout: PackedLayout;
  /** The Philox counter word of the first step (its index in the call). */
  step0: number;
  /** [h, sigma] per step of this dispatch (at most maxStepsPerDispatch pairs). */
  hs: readonly (readonly [number, number])[];
  seedLo: number;
  seedHi: number;
  clampMin?: number;
  clampMax?: number;
}

/**
 * Runs hs.length Langevin steps of every chain of x ([chains, dim], in place): one dispatch,
 * or one per block of chains where their scratch would not fit one binding.
 */
export function langevinMlpKernel(rt: Runtime, x: PooledBuffer, weights: PooledBuffer, scratch: PooledBuffer, a: LangevinMlpArgs): void {
  const { layout } = a;
  const steps = a.hs.length;
  if (steps < 1 || steps > LANGEVIN_MLP_LIMITS.maxStepsPerDispatch) throw new Error(`langevinMlpKernel: ${steps} steps per dispatch (1 to ${LANGEVIN_MLP_LIMITS.maxStepsPerDispatch})`);
  const nl = layout.layers.length;
  if (nl < 1 || nl > LANGEVIN_MLP_LIMITS.maxHiddenLayers) throw new Error(`langevinMlpKernel: ${nl} hidden layers (1 to ${LANGEVIN_MLP_LIMITS.maxHiddenLayers})`);
  const { name, wg, maxChains } = schedule(rt, layout);
  const kernel = KERNELS[name];
  const clamp = (a.clampMin !== undefined ? 1 : 0) | (a.clampMax !== undefined ? 2 : 0);
  const codes = layout.layers.map((l) => rt.pipelines.constValue(kernel.shader, ACTIVATION_TABLE[l.act].wgsl, kernel.preamble));
  const hs: number[] = [];
  for (const [h, sigma] of a.hs) hs.push(h, sigma);
  const whole = !needsWindows(rt, a.chains * layout.dim * 4, x);
  for (let chain0 = 0; chain0 < a.chains; chain0 += maxChains) {
    const chains = Math.min(maxChains, a.chains - chain0);
    const groups = rt.grid(Math.ceil(chains / wg));
    const stride = groups[0] * groups[1] * wg;
    if (stride * layout.scratchPerChain * 16 > scratch.size) throw new Error(`langevinMlpKernel: the scratch buffer holds ${scratch.size} bytes, ${stride * layout.scratchPerChain * 16} are needed`);
    const params = {
      chains,
      dim: layout.dim,
      n_layers: nl,
      steps,
      step0: a.step0,
      seed_lo: a.seedLo,
      seed_hi: a.seedHi,
      w_out: layout.wOut / 4,
      lo: a.clampMin ?? 0,
      hi: a.clampMax ?? 0,
      clamp,
      stride,
      layers: layout.layers.flatMap((l, i) => [i === 0 ? l.in : l.rowStride / 4, l.rows / 32, l.weight / 4, l.bias / 4]),
      dact_at: layout.dactAt,
      half_b: layout.halfB,
      chain0,
      acts: codes,
      act_params: layout.layers.map((l) => l.actParam),
      hs,
    };
    // Where the subgroup is exactly 8 lanes, the 8-lane schedule's shuffles take constant lane indices.
    const exact = (n: number) => rt.info.subgroupMinSize === n && rt.info.subgroupMaxSize === n;
    const overrides: Record<string, number | boolean> = name === 'subgroup8' ? { WG: wg, SUBGROUP8: exact(8) } : { WG: wg };
    // x over one binding: this block's chains through a window of it (x_offset: minus its start).
    const xw = whole ? null : windowAt(rt, x, chain0 * layout.dim * 4, (chain0 + chains) * layout.dim * 4).arg;
    rt.dispatch(kernel, [xw ?? x, weights, scratch, { ...params, x_offset: xw ? u32(-xw.offset / 4) : 0 }, weights], {
      overrides,
      workgroups: groups,
    });
  }
}
