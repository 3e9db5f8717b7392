// Preamble (after activations.wgsl) of conv2d.wgsl and conv2d-subgroup.wgsl.
// conv2d (NCHW input, weight [out, in, kh, kw], groups = 1) and its two gradients, each as an
// implicit GEMM: no im2col matrix is materialised; the GEMM reads the image through (stride,
// padding, dilation) as it goes.
//
//   pass    GEMM rows (M)   GEMM columns (N)                    reduction (K)
//   fwd     out channel o   output pixel (n, oh, ow)            (kh, kw, c)
//   dgrad   in channel c    input pixel (n, ih, iw) of a phase  (valid kh, kw, o)
//   wgrad   out channel o   weight column (c, kh, kw)           output pixel (n, oh, ow), a chunk
//
// dgrad works one stride phase at a time (workgroup_id.z = rh * stride_w + rw covers the input
// pixels with ih % stride_h == rh, iw % stride_w == rw): within a phase only every step-th
// kernel tap reaches a whole output pixel, so those taps are enumerated directly rather than
// testing divisibility per element, which would spend (stride_h * stride_w - 1) of every
// stride_h * stride_w multiply-adds on zeros. wgrad's reduction is long and its output small,
// so it is split into chunks of output rows, each writing a partial [o, c, kh, kw] block that
// the wrapper sums afterwards.
//
// Three schedules share these bindings (this file, a preamble, holds what they share):
//  - Register blocking (CPU adapters: lavapipe, SwiftShader), no workgroup memory. There a
//    storage load costs a few ns per lane whatever its address (a load whose address is the
//    same in every lane is not broadcast), and a vec4 load about twice a scalar one, so the
//    schedule maximises multiply-adds per load. pack_image first rewrites the image operand
//    channels-last in groups of four with its zero padding written out ([N, Hp, Wp, C/4] of
//    vec4), and pack_weight the weight likewise, so that both GEMM operands are read as vec4
//    along the reduction with no bounds tests; each invocation then keeps a block of TM rows x
//    TP pixels (conv_packed) or TM rows x 4 TP columns (wgrad_packed) of accumulators. The
//    packing costs a dispatch or two, which is far less than the bounds tests and scalar loads
//    it saves.
//    conv2d-subgroup.wgsl is the same GEMM for adapters with subgroups of 8+ lanes (lavapipe):
//    the weight vec4s, which every lane of a workgroup needs, are loaded once per subgroup
//    and handed round by subgroupShuffle instead of loaded by every lane.
//  - gemm_tiled (GPUs): the classic 64 x 64 x 16 tiles staged through workgroup memory, reading
//    the NCHW tensors directly; the pass is the override MODE.
//
// The forward pass ends in a fused epilogue, y = act(conv + bias), optionally saving the
// pre-activation in z_out for the backward pass (ACT codes from activations.wgsl).
const MODE_fwd = 0u;
const MODE_dgrad = 1u;
const MODE_wgrad = 2u;
const NONE = 0xffffffffu;

override MODE: u32 = 0u;
// Lanes per workgroup of the register schedule.
override WG: u32 = 64u;
// Register block: GEMM rows per invocation (a multiple of 4, at most 16)...
override TM: u32 = 8u;
// ...by pixels (conv_packed: at most 16, and TM / 4 * TP <= 16) or by vec4 groups of weight
// columns (wgrad_packed: at most 4, and TM * TP <= 16). The private arrays are sized for these
// bounds; the wrapper picks the blocks.
override TP: u32 = 8u;
// The forward epilogue: activation code, its first parameter, and whether z_out receives the
// pre-activation.
override ACT: u32 = 0u;
override ACT_PARAM: f32 = 0.0;
override SAVE_Z: bool = false;

struct Params {
  batch: u32,
  in_c: u32,
  in_h: u32,
  in_w: u32,
  out_c: u32,
  out_h: u32,
  out_w: u32,
  has_bias: u32,
  k_h: u32,
  k_w: u32,
  stride_h: u32,
  stride_w: u32,
  pad_h: u32,
  pad_w: u32,
  dil_h: u32,
  dil_w: u32,
  // dgrad: the phase sub-grid's size (ceil(in / stride)) and the tap step within a phase
  // (stride / gcd(stride, dilation)).
  sub_h: u32,
  sub_w: u32,
  tap_step_h: u32,
  tap_step_w: u32,
  // wgrad: output rows (n, oh) per reduction chunk, and the number of chunks.
  rows_per_chunk: u32,
  chunks: u32,
  // The packed weight's taps per row: (k_h, k_w) for fwd, the most any phase has for dgrad.
  tap_max_h: u32,
  tap_max_w: u32,
  // The packed image: source [batch, pack_c, pack_h, pack_w] placed at (pack_top, pack_left)
  // of a zero canvas [pack_hp, pack_wp], channels last in vec4 groups.
  pack_c: u32,
  pack_h: u32,
  pack_w: u32,
  pack_top: u32,
  pack_left: u32,
  pack_hp: u32,
  pack_wp: u32,
  // The first workgroup along x of this dispatch: a grid over the per-dimension workgroup
  // limit is split into several dispatches (src/kernels/conv2d.ts).
  wg_x0: u32,
}

// NCHW source (x, or dy in dgrad) for gemm_tiled and pack_image.
@group(0) @binding(0) var<storage, read> a: array<f32>;
// The weight (fwd, dgrad; pack_weight), dy (gemm_tiled's wgrad) or z (pack_image's FOLD_ACT_GRAD).
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;
// The packed image (register schedule).
@group(0) @binding(5) var<storage, read> a4: array<vec4f>;
// The packed weight (conv_packed) or packed dy (wgrad_packed).
@group(0) @binding(6) var<storage, read> b4: array<vec4f>;
// The forward pass's pre-activation (SAVE_Z), mirroring out.
@group(0) @binding(7) var<storage, read_write> z_out: array<f32>;

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** The kernel taps along one axis that reach an output pixel from input phase r. */
struct Taps {
  first: u32,
  count: u32,
  // Output offset (o = i + off) of the first tap, and how much it drops per further tap.
  off0: i32,
  off_step: i32,
}

fn phase_taps(r: u32, pad: u32, dil: u32, stride: u32, ksize: u32, step: u32) -> Taps {
  // Tap k reaches output (i * stride + r + pad - k * dil) / stride: it must divide exactly.
  var t = Taps(ksize, 0u, 0, 0);
  for (var k = 0u; k < min(step, ksize); k++) {
    let num = i32(r + pad) - i32(k * dil);
    if (num % i32(stride) == 0) {
      t.first = k;
      t.off0 = num / i32(stride);
      break;
    }
  }
  if (t.first < ksize) { t.count = (ksize - t.first + step - 1u) / step; }
  t.off_step = i32(step * dil / stride);
  return t;
}

fn phase_taps_h(rh: u32) -> Taps {
  return phase_taps(rh, params.pad_h, params.dil_h, params.stride_h, params.k_h, params.tap_step_h);
}

fn phase_taps_w(rw: u32) -> Taps {
  return phase_taps(rw, params.pad_w, params.dil_w, params.stride_w, params.k_w, params.tap_step_w);
}

fn bias_at(o: u32) -> f32 {
  return select(0.0, bias[o], params.has_bias != 0u);
}

/** A flat invocation index over a 2-D grid of workgroups (large dispatches wrap into y). */
fn flat_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}


/** The forward epilogue for output element `index` of channel `o`: act(v + bias[o]). */
fn finish(v: f32, o: u32, index: u32) -> f32 {
  let z = v + bias_at(o);
  if (SAVE_Z) { z_out[index] = z; }
  if (ACT == 0u) { return z; }
  return activate(z, ACT, ACT_PARAM);
}

// ---------------------------------------------------------------------------------------------
// The packed GEMM of the register schedules (fwd and dgrad), shared by conv2d.wgsl's
// conv_packed and conv2d-subgroup.wgsl: where each pixel of a block reads and writes.

/** The pass's pixel grid and tap walk for workgroup_id.z (dgrad: the stride phase). */
struct PassGrid {
  rows: u32,
  grid_h: u32,
  grid_w: u32,
  step_h: u32,
  step_w: u32,
  base_h: i32,
  base_w: i32,
  taps_h: u32,
  taps_w: u32,
  tap_dil_h: u32,
  tap_dil_w: u32,
  rh: u32,
  rw: u32,
}

fn pass_grid(z: u32) -> PassGrid {
  var g = PassGrid(params.out_c, params.out_h, params.out_w, params.stride_h, params.stride_w, 0, 0, params.k_h, params.k_w, params.dil_h, params.dil_w, z / params.stride_w, z % params.stride_w);
  if (MODE == MODE_dgrad) {
    let th = phase_taps_h(g.rh);
    let tw = phase_taps_w(g.rw);
    g.rows = params.in_c;
    g.grid_h = params.sub_h;
    g.grid_w = params.sub_w;
    g.step_h = 1u;
    g.step_w = 1u;
    // The packed taps run last to first: the first one read is the lowest output row.
    g.base_h = th.off0 - (i32(th.count) - 1) * th.off_step + i32(params.pack_top);
    g.base_w = tw.off0 - (i32(tw.count) - 1) * tw.off_step + i32(params.pack_left);
    g.taps_h = th.count;
    g.taps_w = tw.count;
    g.tap_dil_h = u32(th.off_step);
    g.tap_dil_w = u32(tw.off_step);
  }
  return g;
}

/**
 * The inner loop of the packed GEMMs over a row of taps: (vec4s per run, taps per run). Where
 * successive taps along a row are one packed pixel apart (tap_dil_w = 1: dilation 1 forward, and
 * dgrad's phases at dilation 1), their channel groups are consecutive in the packed image and in
 * the packed weight, so the whole row is one run of taps_w * c4 vec4s: fewer, longer loops
 * (at Cin = 16 a run of 12 where a tap gives 4). Otherwise one tap per run.
 */
fn tap_runs(g: PassGrid, c4: u32) -> vec2u {
  if (g.tap_dil_w == 1u) { return vec2u(g.taps_w * c4, g.taps_w); }
  return vec2u(c4, 1u);
}

/**
 * TP consecutive pixels from p0: where each reads the packed image (xoff, a vec4 index) and
 * where its result goes in channel 0 of the output (yoff; NONE: not stored). One division
 * finds the first pixel, then carries.
 */
struct PixelBlock {
  xoff: array<u32, 16>,
  yoff: array<u32, 16>,
}

fn pixel_block(g: PassGrid, p0: u32) -> PixelBlock {
  let c4 = (params.pack_c + 3u) / 4u;
  let hw = g.grid_h * g.grid_w;
  let n_pix = params.batch * hw;
  var n = p0 / hw;
  var i = (p0 - n * hw) / g.grid_w;
  var j = p0 - n * hw - i * g.grid_w;
  let plane = out_plane(g);
  var pb: PixelBlock;
  for (var k = 0u; k < TP; k++) {
    let live = p0 + k < n_pix;
    let y = i32(i * g.step_h) + g.base_h;
    let x = i32(j * g.step_w) + g.base_w;
    pb.xoff[k] = select(0u, ((n * params.pack_hp + u32(y)) * params.pack_wp + u32(x)) * c4, live);
    if (MODE == MODE_fwd) {
      pb.yoff[k] = select(NONE, n * g.rows * plane + i * g.grid_w + j, live);
    } else {
      let ih = g.rh + i * params.stride_h;
      let iw = g.rw + j * params.stride_w;
      pb.yoff[k] = select(NONE, n * g.rows * plane + ih * params.in_w + iw, live && ih < params.in_h && iw < params.in_w);
    }
    j++;
    if (j == g.grid_w) {
      j = 0u;
      i++;
      if (i == g.grid_h) {
        i = 0u;
        n++;
      }
    }
  }
  return pb;
}

/** Elements between channels of the output (fwd: y's plane; dgrad: dx's). */
fn out_plane(g: PassGrid) -> u32 {
  return select(params.in_h * params.in_w, g.grid_h * g.grid_w, MODE == MODE_fwd);
}

/**
 * Stores a block of TP pixels x TM rows from m0, accumulators acc[k * TM / 4 + q] over rows
 * m0 + 4q..m0 + 4q + 3, through the forward epilogue.
 */
fn store_block(g: PassGrid, pb: ptr<function, PixelBlock>, acc: ptr<function, array<vec4f, 16>>, m0: u32) {
  let groups = TM / 4u;
  let plane = out_plane(g);
  for (var k = 0u; k < TP; k++) {
    let y0 = (*pb).yoff[k];
    if (y0 == NONE) { continue; }
    for (var q = 0u; q < groups; q++) {
      let v = (*acc)[k * groups + q];
      for (var l = 0u; l < 4u; l++) {
        let r = m0 + 4u * q + l;
        let index = y0 + r * plane;
        if (r < g.rows) {
          if (MODE == MODE_fwd) {
            out[index] = finish(v[l], r, index);
          } else {
            out[index] = v[l];
          }
        }
      }
    }
  }
}
