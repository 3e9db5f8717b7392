// preambles: activations.wgsl+conv2d-direct-params.wgsl
// conv2d forward for few input channels (a first layer: Cin = 1 or 3, so Cin * KH * KW is 9 or
// 27). Its GEMM is too short in K for the packed GEMMs' vec4 channel groups (Cin = 1 leaves
// three lanes of four on zeros) and their packing dispatches cost more than the products, so
// this kernel reads x where it lies (NCHW, bounds-tested) and is bounded by its output: each
// invocation holds one block of 4 * OB output channels' weights in registers (at most 36
// vec4s) and computes blocks of four consecutive output pixels of one image, stored as vec4s
// of one channel (which needs OH * OW to be a multiple of 4; the wrapper checks). The epilogue
// is conv2d.wgsl's: act(conv + bias), the pre-activation optionally saved.
// vec4 groups of output channels per invocation: 4 * OB channels (WG, CIN, KH, KW come from
// conv2d-direct-params.wgsl; the wrapper checks CIN * KH * KW * OB <= 36).
override OB: u32 = 2u;
// Pixel blocks per invocation, strided by the grid's width (the weights are loaded once).
override R: u32 = 4u;
override ACT: u32 = 0u;
override ACT_PARAM: f32 = 0.0;
override SAVE_Z: bool = false;
override HAS_BIAS: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<storage, read_write> z_out: array<vec4f>;

@compute @workgroup_size(WG)
fn conv_direct(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(num_workgroups) nwg: vec3u) {
  let taps = CIN * KH * KW;
  let o0 = wid.y * 4u * OB;
  // wr[t * OB + q]: weights of tap t (c, kh, kw) for channels o0 + 4q .. o0 + 4q + 3.
  var wr: array<vec4f, 36>;
  for (var t = 0u; t < taps; t++) {
    for (var q = 0u; q < OB; q++) {
      var v = vec4f(0.0);
      for (var l = 0u; l < 4u; l++) {
        let o = o0 + 4u * q + l;
        if (o < params.out_c) { v[l] = w[o * taps + t]; }
      }
      wr[t * OB + q] = v;
    }
  }
  var bv: array<f32, 16>;
  for (var m = 0u; m < 4u * OB; m++) {
    bv[m] = select(0.0, bias[min(o0 + m, params.out_c - 1u)], HAS_BIAS);
  }
  let ohw = params.out_h * params.out_w;
  let blocks = params.batch * ohw / 4u;
  let plane_in = params.in_h * params.in_w;
  for (var r = 0u; r < R; r++) {
    let blk = wid.x * WG + lid + r * params.lanes;
    if (blk >= blocks) { break; }
    let p0 = blk * 4u;
    let n = p0 / ohw;
    let q0 = p0 - n * ohw;
    // The four pixels' top-left input corners.
    var ih0: vec4<i32>;
    var iw0: vec4<i32>;
    for (var k = 0u; k < 4u; k++) {
      let q = q0 + k;
      ih0[k] = i32((q / params.out_w) * params.stride_h) - i32(params.pad_h);
      iw0[k] = i32((q % params.out_w) * params.stride_w) - i32(params.pad_w);
    }
    // Zeroed explicitly each block: lavapipe does not re-zero a `var` declared in a loop body.
    var acc: array<vec4f, 16>;
    for (var m = 0u; m < 4u * OB; m++) { acc[m] = vec4f(0.0); }
    for (var c = 0u; c < CIN; c++) {
      let base = (n * CIN + c) * plane_in;
      for (var kh = 0u; kh < KH; kh++) {
        let ih = ih0 + vec4<i32>(i32(kh * params.dil_h));
        for (var kw = 0u; kw < KW; kw++) {
          let iw = iw0 + vec4<i32>(i32(kw * params.dil_w));
          var xv: vec4f;
          for (var k = 0u; k < 4u; k++) {
            let ok = u32(ih[k]) < params.in_h && u32(iw[k]) < params.in_w;
            xv[k] = select(0.0, x[select(0u, base + u32(ih[k]) * params.in_w + u32(iw[k]), ok)], ok);
          }
          for (var q = 0u; q < OB; q++) {
            let wv = wr[((c * KH + kh) * KW + kw) * OB + q];
            acc[4u * q] += xv * wv.x;
            acc[4u * q + 1u] += xv * wv.y;
            acc[4u * q + 2u] += xv * wv.z;
            acc[4u * q + 3u] += xv * wv.w;
          }
        }
      }
    }
    for (var m = 0u; m < 4u * OB; m++) {
      let o = o0 + m;
      if (o >= params.out_c) { break; }
      let i = ((n * params.out_c + o) * ohw + q0) / 4u;
      let z = acc[m] + vec4f(bv[m]);
      if (SAVE_Z) { z_out[i] = z; }
      out[i] = vec4f(activate(z.x, ACT, ACT_PARAM), activate(z.y, ACT, ACT_PARAM), activate(z.z, ACT, ACT_PARAM), activate(z.w, ACT, ACT_PARAM));
    }
  }
}
