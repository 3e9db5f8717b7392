// preambles: activations.wgsl+conv2d-common.wgsl
// The register-blocked schedule (CPU adapters) and the workgroup-tiled one (GPUs); see
// conv2d-common.wgsl for the GEMMs and the schedules.
// ---------------------------------------------------------------------------------------------
// Register schedule, step 1: repacking

// pack_image multiplies by act'(z) (ACT, ACT_PARAM; z bound as b) as it packs.
override FOLD_ACT_GRAD: bool = false;

/**
 * One pixel of the packed image per invocation, all its channels: the index arithmetic
 * (integer division is slow on a CPU adapter) is paid once per pixel, not per element.
 */
@compute @workgroup_size(WG)
fn pack_image(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let pix = flat_index(gid, nwg);
  if (pix >= params.batch * params.pack_hp * params.pack_wp) { return; }
  let x = i32(pix % params.pack_wp) - i32(params.pack_left);
  let rest = pix / params.pack_wp;
  let y = i32(rest % params.pack_hp) - i32(params.pack_top);
  let n = rest / params.pack_hp;
  let cw = (params.pack_c + 3u) / 4u * 4u;
  let dst = pix * cw;
  let inside = u32(y) < params.pack_h && u32(x) < params.pack_w;
  let plane = params.pack_h * params.pack_w;
  var src = (n * params.pack_c * params.pack_h + u32(y)) * params.pack_w + u32(x);
  for (var c = 0u; c < cw; c++) {
    let ok = inside && c < params.pack_c;
    var v = select(0.0, a[select(0u, src, ok)], ok);
    // dgrad through an activation: the gradient at the pre-activation, g * act'(z), z in b.
    if (FOLD_ACT_GRAD && ok) { v *= activate_grad(b[src], ACT, ACT_PARAM); }
    out[dst + c] = v;
    src += plane;
  }
}

/**
 * The packed weight: vec4s over four GEMM rows, [phase][row / 4][tap][reduction channel], one
 * (phase, row group, tap) per invocation. fwd: rows are output channels, taps (kh, kw), channels
 * the input's; dgrad: rows are input channels, taps each phase's valid (kh, kw) last first (so
 * that the output offsets of successive taps increase), channels the output's. Channels past
 * the end are zero up to a multiple of 4, matching the packed image's vec4 groups.
 */
@compute @workgroup_size(WG)
fn pack_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let kk = params.k_h * params.k_w;
  let taps = params.tap_max_h * params.tap_max_w;
  let t = e % taps;
  var rows = params.out_c;
  var chans = params.in_c;
  var tap = t;
  var tap_ok = true;
  // Element offsets in w of (row, channel) steps.
  var row_step = params.in_c * kk;
  var chan_step = kk;
  if (MODE == MODE_dgrad) {
    rows = params.in_c;
    chans = params.out_c;
    row_step = kk;
    chan_step = params.in_c * kk;
  }
  let groups = (rows + 3u) / 4u;
  if (e >= select(1u, params.stride_h * params.stride_w, MODE == MODE_dgrad) * groups * taps) { return; }
  let rg = (e / taps) % groups;
  if (MODE == MODE_dgrad) {
    let phase = e / (taps * groups);
    let th = phase_taps_h(phase / params.stride_w);
    let tw = phase_taps_w(phase % params.stride_w);
    let sh = t / params.tap_max_w;
    let sw = t % params.tap_max_w;
    tap_ok = sh < th.count && sw < tw.count;
    tap = (th.first + (th.count - 1u - sh) * params.tap_step_h) * params.k_w + tw.first + (tw.count - 1u - sw) * params.tap_step_w;
  }
  let width = (chans + 3u) / 4u * 4u;
  for (var l = 0u; l < 4u; l++) {
    let r = rg * 4u + l;
    var src = r * row_step + tap;
    for (var c = 0u; c < width; c++) {
      out[(e * width + c) * 4u + l] = select(0.0, b[src], tap_ok && r < rows && c < chans);
      src += chan_step;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Register schedule, step 2: the GEMMs

/**
 * fwd and dgrad: GEMM rows x output pixels. An output pixel (n, i, j) of the pass's grid reads
 * the packed image at row i * step + base + th * tap_dil, column likewise, for each tap; the
 * accumulators are vec4s over four rows, updated as outer products (x component times weight
 * vec4), which lavapipe runs faster than dot products into scalars.
 */
@compute @workgroup_size(WG)
fn conv_packed(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = pass_grid(wid.z);
  let c4 = (params.pack_c + 3u) / 4u;
  let wp = params.pack_wp;
  var pb = pixel_block(g, ((params.wg_x0 + wid.x) * WG + lid) * TP);
  let groups = TM / 4u;
  let m0 = wid.y * TM;
  let row_len = params.tap_max_h * params.tap_max_w * c4 * 4u;
  let last_group = (g.rows + 3u) / 4u - 1u;
  var wrow: array<u32, 4>;
  for (var q = 0u; q < groups; q++) {
    wrow[q] = (wid.z * (last_group + 1u) + min(m0 / 4u + q, last_group)) * row_len;
  }

  let runs = tap_runs(g, c4);
  var acc: array<vec4f, 16>;
  for (var th = 0u; th < g.taps_h; th++) {
    for (var tw = 0u; tw < g.taps_w; tw += runs.y) {
      let xt = (th * g.tap_dil_h * wp + tw * g.tap_dil_w) * c4;
      let wt = (th * params.tap_max_w + tw) * c4 * 4u;
      for (var c = 0u; c < runs.x; c++) {
        var xv: array<vec4f, 16>;
        for (var k = 0u; k < TP; k++) { xv[k] = a4[pb.xoff[k] + xt + c]; }
        for (var q = 0u; q < groups; q++) {
          let wb = wrow[q] + wt + 4u * c;
          let w0 = b4[wb];
          let w1 = b4[wb + 1u];
          let w2 = b4[wb + 2u];
          let w3 = b4[wb + 3u];
          for (var k = 0u; k < TP; k++) {
            acc[k * groups + q] += xv[k].x * w0 + xv[k].y * w1 + xv[k].z * w2 + xv[k].w * w3;
          }
        }
      }
    }
  }
  store_block(g, &pb, &acc, m0);
}

/**
 * wgrad: one invocation per (chunk, block of TM output channels, tap, block of 4 TP input
 * channels), summing dy[o] * x[c] over the chunk's output pixels, both read as vec4 from the
 * packed x (a4) and the packed dy (b4, [N, OH, OW, O/4], no padding).
 */
@compute @workgroup_size(WG)
fn wgrad_packed(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let c4 = (params.in_c + 3u) / 4u;
  let o4 = (params.out_c + 3u) / 4u;
  let kk = params.k_h * params.k_w;
  let c_blocks = (c4 + TP - 1u) / TP;
  let o_blocks = (params.out_c + TM - 1u) / TM;
  let items = c_blocks * kk * o_blocks;
  if (e >= items * params.chunks) { return; }
  let z = e / items;
  let item = e % items;
  let cb = item % c_blocks;
  let t = (item / c_blocks) % kk;
  let ob = item / (c_blocks * kk);
  let kh = t / params.k_w;
  let kw = t % params.k_w;
  var xc: array<u32, 4>;
  for (var q = 0u; q < TP; q++) { xc[q] = min(cb * TP + q, c4 - 1u); }
  var yc: array<u32, 4>;
  for (var j = 0u; j < TM / 4u; j++) { yc[j] = min(ob * (TM / 4u) + j, o4 - 1u); }
  let row_begin = z * params.rows_per_chunk;
  let row_end = min(row_begin + params.rows_per_chunk, params.batch * params.out_h);
  let x_step = params.stride_w * c4;

  var acc: array<vec4f, 16>;
  for (var row = row_begin; row < row_end; row++) {
    let n = row / params.out_h;
    let oh = row % params.out_h;
    var xi = ((n * params.pack_hp + oh * params.stride_h + kh * params.dil_h) * params.pack_wp + kw * params.dil_w) * c4;
    var yi = row * params.out_w * o4;
    for (var ow = 0u; ow < params.out_w; ow++) {
      var xv: array<vec4f, 4>;
      for (var q = 0u; q < TP; q++) { xv[q] = a4[xi + xc[q]]; }
      for (var j = 0u; j < TM / 4u; j++) {
        let dv = b4[yi + yc[j]];
        for (var q = 0u; q < TP; q++) {
          acc[(4u * j) * TP + q] += dv.x * xv[q];
          acc[(4u * j + 1u) * TP + q] += dv.y * xv[q];
          acc[(4u * j + 2u) * TP + q] += dv.z * xv[q];
          acc[(4u * j + 3u) * TP + q] += dv.w * xv[q];
        }
      }
      xi += x_step;
      yi += o4;
    }
  }

  // Partial block z of dw: [o, c, kh, kw].
  for (var m = 0u; m < TM; m++) {
    let o = ob * TM + m;
    if (o >= params.out_c) { break; }
    for (var q = 0u; q < TP; q++) {
      for (var l = 0u; l < 4u; l++) {
        let c = (cb * TP + q) * 4u + l;
        if (c < params.in_c) { out[((z * params.out_c + o) * params.in_c + c) * kk + t] = acc[m * TP + q][l]; }
      }
    }
  }
}

/** dw as the sum of wgrad's partial blocks (either schedule's), read from a. */
@compute @workgroup_size(WG)
fn sum_chunks(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_index(gid, nwg);
  let len = params.out_c * params.in_c * params.k_h * params.k_w;
  if (e >= len) { return; }
  var s = 0.0;
  for (var z = 0u; z < params.chunks; z++) { s += a[z * len + e]; }
  out[e] = s;
}

// ---------------------------------------------------------------------------------------------
// Workgroup-memory tiled schedule: a 64 x 64 block of C per workgroup of 16 x 16, each
// invocation 4 x 4 (rows ty + 16 r, columns tx + 16 c, so workgroup reads do not conflict).

const TILE = 64u;
const TILE_K = 16u;

var<workgroup> tile_a: array<f32, TILE_K * TILE>;
var<workgroup> tile_b: array<f32, TILE_K * TILE>;

/** The GEMM's extent for this workgroup's pass (and phase or chunk, from workgroup_id.z). */
struct Gemm {
  m: u32,
  n: u32,
  k_begin: u32,
  k_end: u32,
  th: Taps,
  tw: Taps,
  rh: u32,
  rw: u32,
}

fn gemm_of(z: u32) -> Gemm {
  let kk = params.k_h * params.k_w;
  let ohw = params.out_h * params.out_w;
  var g: Gemm;
  if (MODE == MODE_fwd) {
    g.m = params.out_c;
    g.n = params.batch * ohw;
    g.k_end = params.in_c * kk;
  } else if (MODE == MODE_dgrad) {
    g.rh = z / params.stride_w;
    g.rw = z % params.stride_w;
    g.th = phase_taps_h(g.rh);
    g.tw = phase_taps_w(g.rw);
    g.m = params.in_c;
    g.n = params.batch * params.sub_h * params.sub_w;
    g.k_end = params.out_c * g.th.count * g.tw.count;
  } else {
    g.m = params.out_c;
    g.n = params.in_c * kk;
    g.k_begin = z * params.rows_per_chunk * params.out_w;
    g.k_end = min((z + 1u) * params.rows_per_chunk, params.batch * params.out_h) * params.out_w;
  }
  return g;
}

/** The dgrad reduction index k as (o, kh, kw) and the output offsets of its tap. */
struct DgradTap {
  o: u32,
  kh: u32,
  kw: u32,
  off_h: i32,
  off_w: i32,
}

fn dgrad_tap(g: Gemm, k: u32) -> DgradTap {
  let per_o = g.th.count * g.tw.count;
  let o = k / per_o;
  let t = k % per_o;
  let sh = t / g.tw.count;
  let sw = t % g.tw.count;
  return DgradTap(
    o,
    g.th.first + sh * params.tap_step_h,
    g.tw.first + sw * params.tap_step_w,
    g.th.off0 - i32(sh) * g.th.off_step,
    g.tw.off0 - i32(sw) * g.tw.off_step,
  );
}

/** x at (n, c, oh * stride - pad + kh * dil, ow * stride - pad + kw * dil), zero in the padding. */
fn x_window(n: u32, c: u32, oh: u32, ow: u32, kh: u32, kw: u32) -> f32 {
  let ih = i32(oh * params.stride_h + kh * params.dil_h) - i32(params.pad_h);
  let iw = i32(ow * params.stride_w + kw * params.dil_w) - i32(params.pad_w);
  let ok = u32(ih) < params.in_h && u32(iw) < params.in_w;
  let idx = ((n * params.in_c + c) * params.in_h + u32(ih)) * params.in_w + u32(iw);
  return select(0.0, a[idx], ok);
}

/** Element (m, k) of the GEMM's left operand. */
fn load_a(g: Gemm, m: u32, k: u32) -> f32 {
  if (m >= g.m || k >= g.k_end) { return 0.0; }
  let kk = params.k_h * params.k_w;
  if (MODE == MODE_fwd) {
    return b[m * params.in_c * kk + k];
  }
  if (MODE == MODE_dgrad) {
    let t = dgrad_tap(g, k);
    return b[(t.o * params.in_c + m) * kk + t.kh * params.k_w + t.kw];
  }
  let ohw = params.out_h * params.out_w;
  return b[((k / ohw) * params.out_c + m) * ohw + k % ohw];
}

/** Element (k, col) of the GEMM's right operand: the implicit im2col matrix. */
fn load_b(g: Gemm, k: u32, col: u32) -> f32 {
  if (col >= g.n || k >= g.k_end) { return 0.0; }
  let kk = params.k_h * params.k_w;
  let ohw = params.out_h * params.out_w;
  if (MODE == MODE_fwd) {
    let r = col % ohw;
    return x_window(col / ohw, k / kk, r / params.out_w, r % params.out_w, (k % kk) / params.k_w, k % params.k_w);
  }
  if (MODE == MODE_dgrad) {
    let t = dgrad_tap(g, k);
    let sub = params.sub_h * params.sub_w;
    let n = col / sub;
    let r = col % sub;
    let oh = i32(r / params.sub_w) + t.off_h;
    let ow = i32(r % params.sub_w) + t.off_w;
    let ok = u32(oh) < params.out_h && u32(ow) < params.out_w;
    return select(0.0, a[(n * params.out_c + t.o) * ohw + u32(oh) * params.out_w + u32(ow)], ok);
  }
  let r = k % ohw;
  return x_window(k / ohw, col / kk, r / params.out_w, r % params.out_w, (col % kk) / params.k_w, col % params.k_w);
}

/** Stores element (m, col) of C. */
fn store_c(g: Gemm, z: u32, m: u32, col: u32, v: f32) {
  if (m >= g.m || col >= g.n) { return; }
  if (MODE == MODE_fwd) {
    let ohw = params.out_h * params.out_w;
    let index = ((col / ohw) * params.out_c + m) * ohw + col % ohw;
    out[index] = finish(v, m, index);
  } else if (MODE == MODE_dgrad) {
    let sub = params.sub_h * params.sub_w;
    let r = col % sub;
    let ih = g.rh + (r / params.sub_w) * params.stride_h;
    let iw = g.rw + (r % params.sub_w) * params.stride_w;
    if (ih < params.in_h && iw < params.in_w) {
      out[(((col / sub) * params.in_c + m) * params.in_h + ih) * params.in_w + iw] = v;
    }
  } else {
    out[(z * params.out_c + m) * g.n + col] = v;
  }
}

@compute @workgroup_size(16, 16)
fn gemm_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let g = gemm_of(wid.z);
  let m0 = wid.y * TILE;
  let n0 = (params.wg_x0 + wid.x) * TILE;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k0 = g.k_begin; k0 < g.k_end; k0 += TILE_K) {
    // 1024 elements per tile, 4 per invocation. The left operand is loaded k-fastest (its
    // rows are contiguous along k); the right one column-fastest, except in wgrad where k
    // (output pixels) is its contiguous direction.
    for (var i = 0u; i < 4u; i++) {
      let e = tid + i * 256u;
      let ka = e % TILE_K;
      let ma = e / TILE_K;
      tile_a[ka * TILE + ma] = load_a(g, m0 + ma, k0 + ka);
      let kb = select(e / TILE, e % TILE_K, MODE == MODE_wgrad);
      let nb = select(e % TILE, e / TILE_K, MODE == MODE_wgrad);
      tile_b[kb * TILE + nb] = load_b(g, k0 + kb, n0 + nb);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      let av = vec4f(tile_a[kk * TILE + lid.y], tile_a[kk * TILE + lid.y + 16u], tile_a[kk * TILE + lid.y + 32u], tile_a[kk * TILE + lid.y + 48u]);
      let bv = vec4f(tile_b[kk * TILE + lid.x], tile_b[kk * TILE + lid.x + 16u], tile_b[kk * TILE + lid.x + 32u], tile_b[kk * TILE + lid.x + 48u]);
      acc0 = fma(vec4f(av.x), bv, acc0);
      acc1 = fma(vec4f(av.y), bv, acc1);
      acc2 = fma(vec4f(av.z), bv, acc2);
      acc3 = fma(vec4f(av.w), bv, acc3);
    }
    workgroupBarrier();
  }
  let accs = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < 4u; r++) {
    for (var c = 0u; c < 4u; c++) {
      store_c(g, wid.z, m0 + lid.y + 16u * r, n0 + lid.x + 16u * c, accs[r][c]);
    }
  }
}
