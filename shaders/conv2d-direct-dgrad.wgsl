// preambles: conv2d-direct-params.wgsl
// conv2d's data gradient for a grey first layer (Cin = 1; the wrapper decides). The packed GEMM
// would have Cin rows, most of its register block on zeros, and two packing dispatches that
// cost more than the products; here each invocation computes one pixel of dx where it lies:
// dx[n, c, ih, iw] = sum over o and the taps (kh, kw) that reach it of dy[n, o, oh, ow] w[o, c, kh, kw],
// with oh = (ih + pad - kh dil) / stride when that divides exactly and lands inside dy. The tap
// loops unroll (KH, KW are constants); the channel loop reads dy and w with fixed strides.
override WG: u32 = 64u;
override KH: u32 = 3u;
override KW: u32 = 3u;

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn dgrad_direct(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  let plane = params.in_h * params.in_w;
  let per_image = params.in_c * plane;
  if (i >= params.batch * per_image) { return; }
  let n = i / per_image;
  let r = i - n * per_image;
  let c = r / plane;
  let p = r - c * plane;
  let ih = p / params.in_w;
  let iw = p - ih * params.in_w;
  let ohw = params.out_h * params.out_w;
  let w_stride = params.in_c * KH * KW;
  var acc = 0.0;
  for (var kh = 0u; kh < KH; kh++) {
    let th = i32(ih + params.pad_h) - i32(kh * params.dil_h);
    if (th < 0) { continue; }
    let oh = u32(th) / params.stride_h;
    if (oh * params.stride_h != u32(th) || oh >= params.out_h) { continue; }
    for (var kw = 0u; kw < KW; kw++) {
      let tw = i32(iw + params.pad_w) - i32(kw * params.dil_w);
      if (tw < 0) { continue; }
      let ow = u32(tw) / params.stride_w;
      if (ow * params.stride_w != u32(tw) || ow >= params.out_w) { continue; }
      var di = n * params.out_c * ohw + oh * params.out_w + ow;
      var wi = (c * KH + kh) * KW + kw;
      for (var o = 0u; o < params.out_c; o++) {
        acc += dy[di] * w[wi];
        di += ohw;
        wi += w_stride;
      }
    }
  }
  dx[i] = acc;
}
