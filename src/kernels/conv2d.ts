// Wrapper for conv2d.wgsl and conv2d-subgroup.wgsl (their shared part: conv2d-common.wgsl):
// conv2d forward, data gradient and weight gradient as implicit GEMMs. The geometry travels in
// one uniform block, so a pipeline serves every size. Three schedules (see conv2d-common.wgsl):
// register blocking over repacked operands for CPU adapters, where workgroup memory is slower
// than storage reads; the same with loads shared across a subgroup (CPU adapters with 8-lane
// subgroups: the forward with pixels as the GEMM's rows, dgrad with channels); and
// workgroup-memory tiles for GPUs. First layers (Cin <= 3) have direct kernels.
import { ACTIVATION_TABLE, defaultActivationParam, type Activation } from './activation-table.js';
import { forcedChoice } from './tuning.js';
import type { KernelSpec, Overrides } from './pipeline-cache.js';
import type { BufferWindow, KernelArg, PooledBuffer, Runtime, UniformValues } from './runtime.js';
import { windowBytes } from './binding-window.js';
import { reduceKernel } from './reduce.js';
import { activationGradKernel } from './elementwise.js';

/** A tensor's buffer, or a window of it (one chunk of the batch: see splitBatch). */
type Buf = PooledBuffer | BufferWindow;

const SHADER = 'conv2d.wgsl';
const PREAMBLE = 'activations.wgsl+conv2d-common.wgsl';
const bindings = [
  { name: 'a', kind: 'read-only-storage' },
  { name: 'b', kind: 'read-only-storage' },
  { name: 'bias', kind: 'read-only-storage' },
  { name: 'out', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
  { name: 'a4', kind: 'read-only-storage' },
  { name: 'b4', kind: 'read-only-storage' },
  { name: 'z_out', kind: 'storage' },
] as const;
const spec = (entry: string): KernelSpec => ({ shader: SHADER, entry, bindings, preamble: PREAMBLE });
const PACK_IMAGE = spec('pack_image');
const PACK_WEIGHT = spec('pack_weight');
const CONV_PACKED = spec('conv_packed');
const WGRAD_PACKED = spec('wgrad_packed');
const SUM_CHUNKS = spec('sum_chunks');
const TILED = spec('gemm_tiled');
const subgroupSpec = (entry: string): KernelSpec => ({ shader: 'conv2d-subgroup.wgsl', entry, bindings, preamble: `subgroups.wgsl+${PREAMBLE}` });
const CONV_SUBGROUP = subgroupSpec('conv_subgroup');
const WGRAD_SUBGROUP = subgroupSpec('wgrad_subgroup');
const CONV_PIXEL_ROWS = subgroupSpec('conv_pixel_rows');
/** A direct kernel (conv2d-direct*.wgsl, geometry in conv2d-direct-params.wgsl): its bindings in order (the uniform is 'params') and those it writes. */
const directSpec = (shader: string, entry: string, names: readonly string[], written: readonly string[], preamble = ''): KernelSpec => ({
  shader,
  entry,
  preamble: `${preamble}conv2d-direct-params.wgsl`,
  bindings: names.map((name) => ({ name, kind: name === 'params' ? 'uniform' : written.includes(name) ? 'storage' : 'read-only-storage' })),
});
const CONV_DIRECT = directSpec('conv2d-direct.wgsl', 'conv_direct', ['x', 'w', 'bias', 'out', 'params', 'z_out'], ['out', 'z_out'], 'activations.wgsl+');
const CONV_DIRECT_DGRAD = directSpec('conv2d-direct-dgrad.wgsl', 'dgrad_direct', ['dy', 'w', 'dx', 'params'], ['dx']);
const CONV_DIRECT_WGRAD = directSpec('conv2d-direct-wgrad.wgsl', 'wgrad_direct', ['x', 'dy', 'out', 'params'], ['out']);
/**
 * The direct weight-gradient kernel: for Cin = 1 (as the direct dgrad), at most this many taps
 * (KH * KW, its acc array). dw alone, GPU time on lavapipe against the packed GEMM: b128 1->16
 * 28x28 s2 3.7x faster, 1->32 2.7x; at Cin = 3 (b16 3->32 32x32 s1) it was 14% slower, 27
 * accumulator vec4s spilling, so RGB layers keep the GEMM.
 */
const DIRECT_WGRAD_MAX_TAPS = 27;
/**
 * The most input channels the direct data- and weight-gradient kernels take (a grey first layer). At
 * Cin = 1 the packed GEMM wastes three of its four rows: dx alone, GPU time on lavapipe, b128
 * 1->16 28x28 s2 7.5 ms direct against 11.3 ms packed, 1->32 11.2 against 21.2. At Cin = 3 the
 * GEMM wins (b16 3->32 32x32 s1: 18-19 against 29 ms), so RGB layers keep it.
 */
const DIRECT_DGRAD_MAX_CIN = 1;
/**
 * Under 'subgroup' the direct forward kernel takes grey layers only: at Cin = 3 it re-reads x
 * for every 4 output channels (27 taps leave room for one channel group), where the GEMM with
 * pixel rows reads it once. Forward, GPU time on lavapipe, direct against GEMM: b16 3->32
 * 32x32 s1 15.0 against 7.1 ms, b64 3->32 32x32 s2 24.2 against 14.0, b64 3->16 s1 31.1
 * against 26.5 (only b128 3->16 32x32 s2 went the other way: 16.7 against 21.2); at Cin = 1 the
 * direct kernel won 2-4x (b128 1->32 28x28 s2 8.3 against 19.4, 1->64 11.8 against 39.9).
 */
const DIRECT_FORWARD_MAX_CIN_SUBGROUP = 1;
/** Pixel blocks per invocation of the direct kernel (its weight registers are loaded once). */
const DIRECT_R = 4;

/**
 * 'registers': no workgroup memory (CPU adapters); 'subgroup': the same with weight loads
 * shared across 8-lane subgroups (CPU adapters with subgroups: lavapipe); 'workgroup':
 * shared-memory tiles (GPUs).
 */
export type ConvTiling = 'registers' | 'subgroup' | 'workgroup';
export const CONV_TILINGS: readonly ConvTiling[] = ['registers', 'subgroup', 'workgroup'];

/** The subgroup schedule shares weights among 8 lanes, so it needs subgroups of at least 8. */
function subgroupsUsable(rt: Runtime): boolean {
  return rt.info.features.has('subgroups') && rt.info.subgroupMinSize >= 8 && rt.info.subgroupMaxSize <= WG;
}

/** The schedule that suits the adapter: CPU implementations run register blocking fastest. */
export function defaultTiling(rt: Runtime): ConvTiling {
  return rt.info.isSoftware ? (subgroupsUsable(rt) ? 'subgroup' : 'registers') : 'workgroup';
}

/** The schedule that runs: a forced 'subgroup' falls back to 'registers' where subgroups are too narrow. */
function resolveTiling(rt: Runtime, tiling: ConvTiling): ConvTiling {
  return tiling === 'subgroup' && !subgroupsUsable(rt) ? 'registers' : tiling;
}

/** The forward pass's fused epilogue: y = act(conv + bias), z (if given) = conv + bias. */
export interface ConvEpilogue {
  activation?: Activation;
  /** The activation's first parameter (leakyRelu's slope, elu's alpha, softplus's beta). */
  param?: number;
  z?: Buf;
}

function epilogueOverrides(rt: Runtime, e: ConvEpilogue): Overrides {
  const act = e.activation ?? 'none';
  return {
    ACT: rt.pipelines.constValue(SHADER, ACTIVATION_TABLE[act].wgsl, PREAMBLE),
    ACT_PARAM: e.param ?? defaultActivationParam(act),
    SAVE_Z: !!e.z,
  };
}

/** Everything the kernels need to know about one convolution (groups = 1, NCHW). */
export interface ConvGeometry {
  batch: number;
  inC: number;
  inH: number;
  inW: number;
  outC: number;
  outH: number;
  outW: number;
  kH: number;
  kW: number;
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
}

/** Where pack_image puts a [batch, c, h, w] source: at (top, left) of a zero [hp, wp] canvas. */
interface Packing {
  c: number;
  h: number;
  w: number;
  top: number;
  left: number;
  hp: number;
  wp: number;
}

const WG = 64;
// Register blocks, measured on lavapipe (both benchmark convolutions, forward and dgrad): 4 rows
// x 8 pixels beat 4x4, 4x6, 4x12, 4x16, 8x2, 8x3, 8x4, 8x8, 12x4 and 16x4; larger blocks spill.
const TM_CONV = 4;
const TP_CONV = 8;
// The subgroup schedule: 16 rows (two weight vec4s per lane per channel group) x 4 pixels.
const TM_SUBGROUP = 16;
const TP_SUBGROUP = 4;
/** At or below this many GEMM rows the register block (4 rows) runs instead of the subgroup one. */
const SUBGROUP_MIN_ROWS = 8;
// wgrad: 8 output channels x 4 TP input channels per invocation; 8 x 8 beat 4x4, 4x8, 4x16,
// 8x4 and 16x4.
const TM_WGRAD = 8;
const tpWgrad = (c4: number): number => Math.min(2, c4);
/** wgrad splits its reduction until about this many invocations run... */
const WGRAD_TARGET_LANES = 2048;
/** ...but never into chunks of fewer output pixels than this (partials and their sum cost too). */
const WGRAD_MIN_CHUNK_PIXELS = 64;
/** Each output of sum_chunks loops over the chunks: keep that loop short. */
const WGRAD_MAX_CHUNKS = 64;
// Tiled schedule: a 64 x 64 block of the GEMM per workgroup; wgrad splits until this many run.
const TILE = 64;
const TILED_WGRAD_TARGET_WORKGROUPS = 64;

const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
const ceilDiv = (x: number, y: number): number => Math.ceil(x / y);

interface Extra {
  hasBias?: boolean;
  rowsPerChunk?: number;
  chunks?: number;
  tapMax?: readonly [number, number];
  packing?: Packing;
}

function params(g: ConvGeometry, e: Extra = {}): UniformValues {
  const [sh, sw] = g.stride;
  const [dh, dw] = g.dilation;
  const pk = e.packing ?? { c: 0, h: 0, w: 0, top: 0, left: 0, hp: 0, wp: 0 };
  const [tapMaxH, tapMaxW] = e.tapMax ?? [g.kH, g.kW];
  return {
    batch: g.batch,
    in_c: g.inC,
    in_h: g.inH,
    in_w: g.inW,
    out_c: g.outC,
    out_h: g.outH,
    out_w: g.outW,
    has_bias: e.hasBias ? 1 : 0,
    k_h: g.kH,
    k_w: g.kW,
    stride_h: sh,
    stride_w: sw,
    pad_h: g.padding[0],
    pad_w: g.padding[1],
    dil_h: dh,
    dil_w: dw,
    sub_h: ceilDiv(g.inH, sh),
    sub_w: ceilDiv(g.inW, sw),
    tap_step_h: sh / gcd(sh, dh),
    tap_step_w: sw / gcd(sw, dw),
    rows_per_chunk: e.rowsPerChunk ?? 0,
    chunks: e.chunks ?? 1,
    tap_max_h: tapMaxH,
    tap_max_w: tapMaxW,
    pack_c: pk.c,
    pack_h: pk.h,
    pack_w: pk.w,
    pack_top: pk.top,
    pack_left: pk.left,
    pack_hp: pk.hp,
    pack_wp: pk.wp,
    wg_x0: 0,
  };
}

/**
 * Dispatches a conv grid as several dispatches where x (pixel or column tiles) needs more
 * workgroups than the device allows in one dimension, each told its first x workgroup
 * (wg_x0). Its uniform is args[4].
 */
function dispatchSplitX(rt: Runtime, spec: KernelSpec, args: KernelArg[], overrides: Overrides, workgroups: readonly [number, number, number], g: ConvGeometry): void {
  const [gx, gy, gz] = workgroups;
  const max = rt.maxWorkgroupsPerDimension;
  if (gy > max || gz > max)
    throw new Error(
      `conv2d: input [${g.batch}, ${g.inC}, ${g.inH}, ${g.inW}] with ${g.outC} output channels needs a ${gx} x ${gy} x ${gz} workgroup grid, over this device's maxComputeWorkgroupsPerDimension of ${max}`,
    );
  for (let x0 = 0; x0 < gx; x0 += max) {
    const a = [...args];
    a[4] = { ...(args[4] as UniformValues), wg_x0: x0 };
    rt.dispatch(spec, a, { overrides, workgroups: [Math.min(max, gx - x0), gy, gz] });
  }
}

/** Whether a packed copy of `pixels` pixels of `channels` channels fits one binding (else the scratch-free tiled path runs). */
function packFits(rt: Runtime, pixels: number, channels: number): boolean {
  return pixels * ceilDiv(channels, 4) * 16 <= rt.maxBindingSize;
}

function mode(rt: Runtime, name: 'fwd' | 'dgrad' | 'wgrad'): number {
  return rt.pipelines.constValue(SHADER, `MODE_${name}`, PREAMBLE);
}

/** Dispatches `entry` with one invocation per element of a `count`-element output. */
function perElement(rt: Runtime, entry: KernelSpec, args: KernelArg[], count: number, overrides: Record<string, number> = {}): void {
  rt.dispatch(entry, args, { overrides: { WG, ...overrides }, workgroups: rt.grid(ceilDiv(count, WG)) });
}

/** Repacks an NCHW source channels-last in vec4 groups with its zero padding (pack_image). */
function packImage(rt: Runtime, src: Buf, batch: number, pk: Packing, p: UniformValues, fold?: ActivationGradFold<Buf>): PooledBuffer {
  const pixels = batch * pk.hp * pk.wp;
  const out = rt.allocate(pixels * ceilDiv(pk.c, 4) * 16, 'conv2d packed image');
  const ph = rt.placeholder;
  const overrides = fold ? { FOLD_ACT_GRAD: true, ...epilogueOverrides(rt, { activation: fold.activation, param: fold.param }) } : {};
  perElement(rt, PACK_IMAGE, [src, fold?.z ?? ph, ph, out, p, ph, ph, rt.placeholderOut], pixels, overrides);
  return out;
}

/**
 * The gradient reaching a convolution's output through its activation: the kernel is given g
 * and the pre-activation z and works from g * act'(z), folded into its packing pass where it
 * packs (no dispatch and no buffer for g * act'(z)), else computed first.
 */
export interface ActivationGradFold<B = PooledBuffer> {
  activation: Activation;
  param: number;
  z: B;
}

/**
 * Repacks the weight (pack_weight): for each of `phases`, ceil(rows / 4) groups of rows, each
 * `taps` rows of `channels` (rounded up to 4) vec4s.
 */
function packWeight(rt: Runtime, w: PooledBuffer, phases: number, rows: number, taps: number, channels: number, pass: 'fwd' | 'dgrad', p: UniformValues): PooledBuffer {
  const invocations = phases * ceilDiv(rows, 4) * taps;
  const out = rt.allocate(invocations * ceilDiv(channels, 4) * 64, 'conv2d packed weight');
  const ph = rt.placeholder;
  perElement(rt, PACK_WEIGHT, [ph, w, ph, out, p, ph, ph, rt.placeholderOut], invocations, { MODE: mode(rt, pass) });
  return out;
}

/** The packing of x that the forward pass and wgrad read: its zero padding written out. */
function xPacking(g: ConvGeometry): Packing {
  const [ph, pw] = g.padding;
  return { c: g.inC, h: g.inH, w: g.inW, top: ph, left: pw, hp: g.inH + 2 * ph, wp: g.inW + 2 * pw };
}

/**
 * The direct forward kernel's output-channel block (vec4 groups) for a first layer, or 0 where
 * it does not apply: few input channels (Cin <= 3, Cin = 1 under 'subgroup': the packed GEMMs read channels in fours),
 * weights that fit its 36 vec4 registers, whole vec4s of output pixels per image, and a grid
 * within one dispatch. At most 2 groups (8 channels) per invocation: on lavapipe 4 groups ran
 * slower (1->16 and 1->32 28x28 s2: 1.3-1.5x the GPU time of 2), the registers spilling.
 */
function directBlock(g: ConvGeometry, tiling: ConvTiling): number {
  const taps = g.inC * g.kH * g.kW;
  if (g.inC > (tiling === 'subgroup' ? DIRECT_FORWARD_MAX_CIN_SUBGROUP : 3) || taps > 36 || (g.outH * g.outW) % 4 !== 0) return 0;
  for (const ob of [2, 1]) if (taps * ob <= 36 && (ob === 1 || 4 * ob <= ceilDiv(g.outC, 4) * 4)) return ob;
  return 0;
}

/** The geometry as the direct kernels' uniforms (conv2d-direct.wgsl, conv2d-direct-dgrad.wgsl) name it. */
function directParams(g: ConvGeometry): UniformValues {
  const [stride_h, stride_w] = g.stride;
  const [pad_h, pad_w] = g.padding;
  const [dil_h, dil_w] = g.dilation;
  return { batch: g.batch, in_c: g.inC, in_h: g.inH, in_w: g.inW, out_c: g.outC, out_h: g.outH, out_w: g.outW, k_h: g.kH, k_w: g.kW, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w };
}

/**
 * The packed GEMM (fwd or dgrad) for a schedule: its kernel, overrides and grid over `pixels`
 * GEMM columns, `rows` channel rows and `phases` (dgrad's stride phases).
 */
function packedGemm(rt: Runtime, pass: 'fwd' | 'dgrad', tiling: ConvTiling, rows: number, pixels: number, phases: number): { spec: KernelSpec; overrides: Overrides; workgroups: [number, number, number] } {
  // The forward's GEMM ran 1.2-1.5x faster with pixels as rows on every benchmark shape; dgrad's
  // ran 1.1-2.5x slower (its rows are Cin, often too few to fill a subgroup's channel groups),
  // so it keeps channel rows. rt.tuning.convGemm = 'channel-rows' forces them for the forward.
  if (tiling === 'subgroup' && pass === 'fwd' && forcedChoice(rt.tuning, 'convGemm', ['pixel-rows', 'channel-rows']) !== 'channel-rows') {
    // Pixels as rows: a workgroup is 8 pixels by WG channel groups, never narrower than a subgroup.
    const wg = Math.max(8, rt.info.subgroupMaxSize, Math.min(WG, 2 ** Math.ceil(Math.log2(ceilDiv(rows, 4)))));
    return { spec: CONV_PIXEL_ROWS, overrides: { WG: wg, TP: 1 }, workgroups: [ceilDiv(pixels, 8), ceilDiv(ceilDiv(rows, 4), wg), phases] };
  }
  // Few GEMM rows (dgrad of a first layer: Cin rows) would leave most of the subgroup
  // schedule's 16-row block on zeros: the register schedule's 4-row block wastes less.
  const { spec, tm, tp } = tiling === 'subgroup' && rows > SUBGROUP_MIN_ROWS ? { spec: CONV_SUBGROUP, tm: TM_SUBGROUP, tp: TP_SUBGROUP } : { spec: CONV_PACKED, tm: TM_CONV, tp: TP_CONV };
  return { spec, overrides: { WG, TM: tm, TP: tp }, workgroups: [ceilDiv(pixels, WG * tp), ceilDiv(rows, tm), phases] };
}

/** y[N, O, OH, OW] = act(conv2d(x[N, C, H, W], w[O, C, KH, KW]) + bias[O]), the pre-activation in epilogue.z if given. */
export function conv2dForwardKernel(rt: Runtime, x: PooledBuffer, w: PooledBuffer, bias: PooledBuffer | null, y: PooledBuffer, g: ConvGeometry, tilingWanted: ConvTiling, epilogue: ConvEpilogue = {}): void {
  const chunks = splitBatch(rt, g, [
    ['x', x, g.inC * g.inH * g.inW],
    ['y', y, g.outC * g.outH * g.outW],
  ], packedPerImage(xPacking(g)));
  if (!chunks) return forwardOnce(rt, x, w, bias, y, g, tilingWanted, epilogue);
  for (const c of chunks) {
    forwardOnce(rt, c.input(x), w, bias, c.output(y), c.geometry, tilingWanted, { ...epilogue, z: epilogue.z && c.output(epilogue.z as PooledBuffer, y) });
    c.finish();
  }
}

function forwardOnce(rt: Runtime, x: Buf, w: PooledBuffer, bias: PooledBuffer | null, y: Buf, g: ConvGeometry, tilingWanted: ConvTiling, epilogue: ConvEpilogue): void {
  const ph = rt.placeholder;
  const tiling = resolveTiling(rt, tilingWanted);
  const z = epilogue.z ?? rt.placeholderOut;
  const fused = epilogueOverrides(rt, epilogue);
  const pixels = g.batch * g.outH * g.outW;
  const ob = directBlock(g, tiling);
  if (tiling !== 'workgroup' && ob > 0 && ceilDiv(pixels / 4, DIRECT_R * WG) <= rt.maxWorkgroupsPerDimension) {
    const lanesWanted = ceilDiv(pixels / 4, DIRECT_R);
    const gx = ceilDiv(lanesWanted, WG);
    const p = { ...directParams(g), lanes: gx * WG };
    const overrides = { WG, OB: ob, R: DIRECT_R, CIN: g.inC, KH: g.kH, KW: g.kW, HAS_BIAS: bias !== null, ...fused };
    rt.dispatch(CONV_DIRECT, [x, w, bias ?? ph, y, p, z], { overrides, workgroups: [gx, ceilDiv(g.outC, 4 * ob), 1] });
    return;
  }
  const pk = xPacking(g);
  // A packed image over the binding limit (a 4096 x 4096 input) would fail: tile instead.
  if (tiling === 'workgroup' || !packFits(rt, g.batch * pk.hp * pk.wp, pk.c)) {
    dispatchSplitX(rt, TILED, [x, w, bias ?? ph, y, params(g, { hasBias: bias !== null }), ph, ph, z], { MODE: mode(rt, 'fwd'), ...fused }, [ceilDiv(pixels, TILE), ceilDiv(g.outC, TILE), 1], g);
    return;
  }
  const p = params(g, { hasBias: bias !== null, packing: pk });
  const xp = packImage(rt, x, g.batch, pk, p);
  const wp = packWeight(rt, w, 1, g.outC, g.kH * g.kW, g.inC, 'fwd', p);
  const gemm = packedGemm(rt, 'fwd', tiling, g.outC, pixels, 1);
  dispatchSplitX(rt, gemm.spec, [ph, ph, bias ?? ph, y, p, xp, wp, z], { MODE: mode(rt, 'fwd'), ...gemm.overrides, ...fused }, gemm.workgroups, g);
  // The pool keeps both until the submission that reads them has completed.
  rt.free(xp);
  rt.free(wp);
}

/**
 * dx[N, C, H, W] from dy[N, O, OH, OW] and w[O, C, KH, KW]: one stride phase per z. With `fold`,
 * dy is the gradient at the activation's output and dx comes from dy * act'(fold.z).
 */
export function conv2dDataGradKernel(rt: Runtime, dy: PooledBuffer, w: PooledBuffer, dx: PooledBuffer, g: ConvGeometry, tilingWanted: ConvTiling, fold?: ActivationGradFold): void {
  const chunks = splitBatch(rt, g, [
    ['dy', dy, g.outC * g.outH * g.outW],
    ['dx', dx, g.inC * g.inH * g.inW],
  ], packedPerImage({ c: g.outC, h: 0, w: 0, top: 0, left: 0, hp: g.outH + g.kH * g.dilation[0], wp: g.outW + g.kW * g.dilation[1] }));
  // The fold rides on the packing of dy; a path that does not pack (chunks differ only in
  // batch, and the first is the largest) gets g * act'(z) computed first.
  if (fold && dataGradPath(rt, chunks ? chunks[0]!.geometry : g, tilingWanted) !== 'packed') {
    const n = g.batch * g.outC * g.outH * g.outW;
    const gz = rt.allocate(n * 4, "conv2d dgrad g * act'(z)");
    activationGradKernel(rt, fold.activation, fold.param, dy, fold.z, gz, n);
    conv2dDataGradKernel(rt, gz, w, dx, g, tilingWanted);
    rt.free(gz);
    return;
  }
  if (!chunks) return dataGradOnce(rt, dy, w, dx, g, tilingWanted, fold);
  for (const c of chunks) {
    dataGradOnce(rt, c.input(dy), w, c.output(dx), c.geometry, tilingWanted, fold && { ...fold, z: c.input(fold.z, dy) });
    c.finish();
  }
}

/**
 * Where dgrad packs dy: padded so that every tap of every phase lands inside it (the output
 * rows reached are (ih + pad - kh * dil) / stride for ih < ceil(H / stride) * stride).
 */
function dyPacking(g: ConvGeometry): Packing {
  const span = (k: number, s: number, p: number, d: number, inSize: number, outSize: number): [number, number] => {
    const lo = Math.max(0, -Math.floor((p - (k - 1) * d) / s));
    const hi = Math.max(0, Math.floor((ceilDiv(inSize, s) * s - 1 + p) / s) - (outSize - 1));
    return [lo, hi];
  };
  const [topH, botH] = span(g.kH, g.stride[0], g.padding[0], g.dilation[0], g.inH, g.outH);
  const [topW, botW] = span(g.kW, g.stride[1], g.padding[1], g.dilation[1], g.inW, g.outW);
  return { c: g.outC, h: g.outH, w: g.outW, top: topH, left: topW, hp: g.outH + topH + botH, wp: g.outW + topW + botW };
}

/**
 * dgrad's path for one dispatch's geometry: the direct kernel (a grey first layer: no packing
 * dispatches), the tiled schedule (GPUs, or a packed dy over the binding limit), or the packed GEMM.
 */
function dataGradPath(rt: Runtime, g: ConvGeometry, tilingWanted: ConvTiling): 'direct' | 'tiled' | 'packed' {
  const tiling = resolveTiling(rt, tilingWanted);
  if (tiling !== 'workgroup' && g.inC <= DIRECT_DGRAD_MAX_CIN) return 'direct';
  const pk = dyPacking(g);
  return tiling === 'workgroup' || !packFits(rt, g.batch * pk.hp * pk.wp, pk.c) ? 'tiled' : 'packed';
}

function dataGradOnce(rt: Runtime, dy: Buf, w: PooledBuffer, dx: Buf, g: ConvGeometry, tilingWanted: ConvTiling, fold?: ActivationGradFold<Buf>): void {
  const ph = rt.placeholder;
  const [sh, sw] = g.stride;
  const phases = sh * sw;
  const pixels = g.batch * ceilDiv(g.inH, sh) * ceilDiv(g.inW, sw);
  const path = dataGradPath(rt, g, tilingWanted);
  // conv2dDataGradKernel gives `fold` only where dataGradPath packs dy.
  if (fold && path !== 'packed') throw new Error(`conv2d: internal error: the activation gradient was left to the ${path} data-gradient path, which does not pack dy`);
  if (path === 'direct') {
    // One stride phase per z; its invocations take 4 dx pixels of a phase row each.
    const blocks = g.batch * g.inC * ceilDiv(g.inH, sh) * ceilDiv(ceilDiv(g.inW, sw), 4);
    rt.dispatch(CONV_DIRECT_DGRAD, [dy, w, dx, { ...directParams(g), lanes: 0 }], { overrides: { WG, KH: g.kH, KW: g.kW }, workgroups: [...rt.grid(ceilDiv(blocks, WG)), phases] });
    return;
  }
  if (path === 'tiled') {
    dispatchSplitX(rt, TILED, [dy, w, ph, dx, params(g), ph, ph, rt.placeholderOut], { MODE: mode(rt, 'dgrad') }, [ceilDiv(pixels, TILE), ceilDiv(g.inC, TILE), phases], g);
    return;
  }
  const pk = dyPacking(g);
  const tapMax: [number, number] = [ceilDiv(g.kH, sh / gcd(sh, g.dilation[0])), ceilDiv(g.kW, sw / gcd(sw, g.dilation[1]))];
  const p = params(g, { packing: pk, tapMax });
  const dyp = packImage(rt, dy, g.batch, pk, p, fold);
  const wp = packWeight(rt, w, phases, g.inC, tapMax[0] * tapMax[1], g.outC, 'dgrad', p);
  const gemm = packedGemm(rt, 'dgrad', resolveTiling(rt, tilingWanted), g.inC, pixels, phases);
  dispatchSplitX(rt, gemm.spec, [ph, ph, ph, dx, p, dyp, wp, rt.placeholderOut], { MODE: mode(rt, 'dgrad'), ...gemm.overrides }, gemm.workgroups, g);
  rt.free(dyp);
  rt.free(wp);
}

/**
 * The widest workgroup (of 64, 32, 16, 8 lanes; never narrower than a subgroup) that wastes at
 * most an eighth of its lanes on `lanes` columns: wgrad's column groups number 9 C / 4.
 */
function narrowWorkgroup(lanes: number): number {
  for (const wg of [64, 32, 16]) if ((ceilDiv(lanes, wg) * wg - lanes) * 8 <= lanes) return wg;
  return 8;
}

/** Splits `rows` output rows into chunks so that about `target` work items run in all. */
function chunking(rows: number, outW: number, itemsPerChunk: number, target: number, minPixels: number): { rowsPerChunk: number; chunks: number } {
  const minRows = Math.max(1, ceilDiv(minPixels, Math.max(1, outW)));
  const wanted = Math.max(1, Math.min(ceilDiv(target, itemsPerChunk), Math.floor(rows / minRows), WGRAD_MAX_CHUNKS));
  const rowsPerChunk = Math.max(1, ceilDiv(rows, wanted));
  return { rowsPerChunk, chunks: Math.max(1, ceilDiv(rows, rowsPerChunk)) };
}

/**
 * dw[O, C, KH, KW] from x[N, C, H, W] and dy[N, O, OH, OW]. The reduction (every output pixel)
 * is long and the output small, so it is split into chunks of output rows written as partial
 * sums and then added up; a reduction too short to split runs in one pass straight into dw.
 */
export function conv2dWeightGradKernel(rt: Runtime, x: PooledBuffer, dy: PooledBuffer, dw: PooledBuffer, g: ConvGeometry, tiling: ConvTiling): void {
  const chunks = splitBatch(rt, g, [
    ['x', x, g.inC * g.inH * g.inW],
    ['dy', dy, g.outC * g.outH * g.outW],
  ], packedPerImage(xPacking(g)));
  if (!chunks) return weightGradOnce(rt, x, dy, dw, g, tiling);
  // Each chunk of the batch gives a partial dw: written to one scratch buffer, copied into its
  // row of [chunks, dw] (a copy needs only 4-byte offsets), then added up by a reduction.
  const size = g.outC * g.inC * g.kH * g.kW;
  const part = rt.allocate(size * 4, 'conv2d wgrad batch part');
  const parts = rt.allocate(chunks.length * size * 4, 'conv2d wgrad batch partials');
  chunks.forEach((c, i) => {
    weightGradOnce(rt, c.input(x), c.input(dy), part, c.geometry, tiling);
    c.finish();
    rt.copy(part, 0, parts, i * size * 4, size * 4);
  });
  reduceKernel(rt, 'sum', parts, dw, [chunks.length, size], [0]);
  rt.free(part);
  rt.free(parts);
}

function weightGradOnce(rt: Runtime, x: Buf, dy: Buf, dw: PooledBuffer, g: ConvGeometry, tiling: ConvTiling): void {
  const ph = rt.placeholder;
  const rows = g.batch * g.outH;
  const cols = g.inC * g.kH * g.kW;
  const finish = (target: PooledBuffer, chunks: number) => {
    if (chunks === 1) return;
    perElement(rt, SUM_CHUNKS, [target, ph, ph, dw, params(g, { chunks }), ph, ph, rt.placeholderOut], g.outC * cols);
    rt.free(target);
  };
  // A grey first layer: x and dy read where they lie, every tap of 4 output channels per invocation.
  if (resolveTiling(rt, tiling) !== 'workgroup' && g.inC <= DIRECT_DGRAD_MAX_CIN && cols <= DIRECT_WGRAD_MAX_TAPS) {
    const groups = ceilDiv(g.outC, 4);
    const { rowsPerChunk, chunks } = chunking(rows, g.outW, groups, WGRAD_TARGET_LANES, WGRAD_MIN_CHUNK_PIXELS);
    const target = chunks > 1 ? rt.allocate(chunks * g.outC * cols * 4, 'conv2d wgrad partials') : dw;
    const overrides = { WG, CIN: g.inC, KH: g.kH, KW: g.kW };
    rt.dispatch(CONV_DIRECT_WGRAD, [x, dy, target, { ...directParams(g), lanes: rowsPerChunk }], { overrides, workgroups: rt.grid(ceilDiv(chunks * groups, WG)) });
    finish(target, chunks);
    return;
  }
  // Packed copies of x or dy over the binding limit would fail: tile instead.
  if (resolveTiling(rt, tiling) === 'workgroup' || !packFits(rt, g.batch * xPacking(g).hp * xPacking(g).wp, g.inC) || !packFits(rt, rows * g.outW, g.outC)) {
    const blocks = ceilDiv(cols, TILE) * ceilDiv(g.outC, TILE);
    const { rowsPerChunk, chunks } = chunking(rows, g.outW, blocks, TILED_WGRAD_TARGET_WORKGROUPS, 256);
    const target = chunks > 1 ? rt.allocate(chunks * g.outC * cols * 4, 'conv2d wgrad partials') : dw;
    dispatchSplitX(rt, TILED, [x, dy, ph, target, params(g, { rowsPerChunk, chunks }), ph, ph, rt.placeholderOut], { MODE: mode(rt, 'wgrad') }, [ceilDiv(cols, TILE), ceilDiv(g.outC, TILE), chunks], g);
    finish(target, chunks);
    return;
  }
  const c4 = ceilDiv(g.inC, 4);
  const subgroup = resolveTiling(rt, tiling) === 'subgroup';
  const tp = tpWgrad(c4);
  // Subgroup: a lane per (tap, 4 input channels) column group, 8 output channels per workgroup.
  const colGroups = g.kH * g.kW * c4;
  const wgLanes = subgroup ? narrowWorkgroup(colGroups) : WG;
  const items = subgroup ? ceilDiv(colGroups, wgLanes) * wgLanes * ceilDiv(g.outC, 8) : ceilDiv(c4, tp) * g.kH * g.kW * ceilDiv(g.outC, TM_WGRAD);
  const { rowsPerChunk, chunks } = chunking(rows, g.outW, items, WGRAD_TARGET_LANES, WGRAD_MIN_CHUNK_PIXELS);
  const pk = xPacking(g);
  const p = params(g, { packing: pk, rowsPerChunk, chunks });
  const xp = packImage(rt, x, g.batch, pk, p);
  const dyPk: Packing = { c: g.outC, h: g.outH, w: g.outW, top: 0, left: 0, hp: g.outH, wp: g.outW };
  const dyp = packImage(rt, dy, g.batch, dyPk, params(g, { packing: dyPk }));
  const target = chunks > 1 ? rt.allocate(chunks * g.outC * cols * 4, 'conv2d wgrad partials') : dw;
  const args = [ph, ph, ph, target, p, xp, dyp, rt.placeholderOut];
  if (subgroup) dispatchSplitX(rt, WGRAD_SUBGROUP, args, { WG: wgLanes }, [ceilDiv(colGroups, wgLanes), ceilDiv(g.outC, 8), chunks], g);
  else perElement(rt, WGRAD_PACKED, args, items * chunks, { TM: TM_WGRAD, TP: tp });
  rt.free(xp);
  rt.free(dyp);
  finish(target, chunks);
}

/**
 * One chunk of the batch: its geometry, and the chunk of each batch-major buffer it reads
 * (input) or writes (output): a window of it where the chunk starts on an aligned byte offset,
 * else a scratch copy (copies need only 4-byte offsets), written back by finish().
 */
interface BatchChunk {
  readonly geometry: ConvGeometry;
  /** `like`: the buffer splitBatch was given whose layout `b` has (b itself by default). */
  input(b: PooledBuffer, like?: PooledBuffer): Buf;
  output(b: PooledBuffer, like?: PooledBuffer): Buf;
  /** Copies the outputs' scratch back and frees the scratch (nothing for windows). */
  finish(): void;
}

/**
 * Chunks of whole images whose every batch-major buffer (name, buffer, elements per image)
 * fits one window; null where one dispatch binds them whole (the fast path costs these few
 * comparisons). Chunks are a multiple of the images that make every offset aligned (windows)
 * where such a chunk fits, else any number of images (scratch copies). Throws, naming the
 * buffer, where one image is over the binding limit: conv2d splits by batch only.
 */
function splitBatch(rt: Runtime, g: ConvGeometry, buffers: readonly (readonly [string, PooledBuffer, number])[], scratchPerImage: number): BatchChunk[] | null {
  const limit = windowBytes(rt);
  const largest = Math.max(...buffers.map(([, , per]) => per));
  if (g.batch * largest * 4 <= limit && buffers.every(([, b]) => b.size <= rt.maxBindingSize)) return null;
  const granule = granuleOf(rt, buffers);
  const fit = Math.floor(limit / (largest * 4));
  if (fit < 1) {
    const [name, , elements] = buffers.find(([, , e]) => e === largest)!;
    throw new Error(
      `${rt.currentOp ?? 'conv2d'}: one image of '${name}' (${elements} elements) takes ${elements * 4} bytes, over this device's maxStorageBufferBindingSize of ${rt.maxBindingSize} bytes; ` +
        'conv2d splits by batch only. Use smaller images.',
    );
  }
  const aligned = fit >= granule;
  const unit = aligned ? granule : 1;
  // Chunks also small enough for the packed copy of their images to fit one binding, so the
  // packed schedules (not the scratch-free tiled fallback) run where the device allows.
  const packed = Math.max(unit, Math.floor(rt.maxBindingSize / (scratchPerImage * 4) / unit) * unit);
  const per = Math.min(Math.floor(fit / unit) * unit, packed);
  const byBuffer = new Map(buffers.map(([, b, e]) => [b, e]));
  const chunks: BatchChunk[] = [];
  for (let b0 = 0; b0 < g.batch; b0 += per) {
    const images = Math.min(g.batch, b0 + per) - b0;
    const range = (b: PooledBuffer, like: PooledBuffer) => ({ offset: b0 * byBuffer.get(like)! * 4, size: images * byBuffer.get(like)! * 4 });
    const scratch: PooledBuffer[] = [];
    const back: [PooledBuffer, PooledBuffer, number, number][] = [];
    const copyOf = (size: number) => {
      const s = rt.allocate(size, 'conv2d batch chunk');
      scratch.push(s);
      return s;
    };
    chunks.push({
      geometry: { ...g, batch: images },
      input: (b, like = b) => {
        const { offset, size } = range(b, like);
        if (aligned) return { of: b, offset, size };
        const s = copyOf(size);
        rt.copy(b, offset, s, 0, size);
        return s;
      },
      output: (b, like = b) => {
        const { offset, size } = range(b, like);
        if (aligned) return { of: b, offset, size };
        const s = copyOf(size);
        back.push([s, b, offset, size]);
        return s;
      },
      finish: () => {
        for (const [s, b, offset, size] of back) rt.copy(s, 0, b, offset, size);
        for (const s of scratch) rt.free(s);
      },
    });
  }
  return chunks;
}

/** The fewest images whose bytes in every buffer are a multiple of minStorageBufferOffsetAlignment. */
function granuleOf(rt: Runtime, buffers: readonly (readonly [string, PooledBuffer, number])[]): number {
  let granule = 1;
  for (const [, , per] of buffers) granule = lcm(granule, rt.bindingAlignment / gcd(per * 4, rt.bindingAlignment));
  return granule;
}

/** Elements (f32) of one image's packed copy (pack_image: channels in vec4 groups, padded). */
function packedPerImage(pk: Packing): number {
  return pk.hp * pk.wp * ceilDiv(pk.c, 4) * 4;
}

function lcm(x: number, y: number): number {
  return (x / gcd(x, y)) * y;
}
