// preambles: conv2d-direct-params.wgsl
// conv2d's weight gradient for a first layer (Cin <= 3; the wrapper decides):
// dw[o, c, kh, kw] = sum over (n, oh, ow) of dy[n, o, oh, ow] x[n, c, oh s - p + kh d, ow s - p + kw d].
// The packed GEMM would pad Cin to a vec4 of channels (three lanes of four on zeros at Cin = 1)
// and pack both x and dy first; here each invocation reads x and dy where they lie and keeps
// every tap of 4 output channels in registers (Cin * KH * KW vec4s), summing over one chunk of
// output rows (n, oh). Chunks write partial blocks [chunk, o, c, kh, kw] that conv2d.wgsl's
// sum_chunks adds up (a single chunk writes dw itself).

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn wgrad_direct(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let taps = CIN * KH * KW;
  let o4 = (params.out_c + 3u) / 4u;
  let e = gid.x + gid.y * nwg.x * WG;
  // params.lanes: output rows per chunk.
  let rows = params.batch * params.out_h;
  let chunks = (rows + params.lanes - 1u) / params.lanes;
  if (e >= chunks * o4) { return; }
  let chunk = e / o4;
  let o0 = (e % o4) * 4u;
  let ohw = params.out_h * params.out_w;
  let plane = params.in_h * params.in_w;
  // dy's four channels (clamped: a missing one reads channel out_c - 1 and is not stored).
  var dy_off: vec4u;
  for (var l = 0u; l < 4u; l++) { dy_off[l] = min(o0 + l, params.out_c - 1u) * ohw; }
  var acc: array<vec4f, 27>;
  for (var t = 0u; t < taps; t++) { acc[t] = vec4f(0.0); }
  let row_end = min(rows, (chunk + 1u) * params.lanes);
  for (var row = chunk * params.lanes; row < row_end; row++) {
    let n = row / params.out_h;
    let oh = row - n * params.out_h;
    let dy_row = n * params.out_c * ohw + oh * params.out_w;
    let x_img = n * CIN * plane;
    let ih0 = i32(oh * params.stride_h) - i32(params.pad_h);
    for (var ow = 0u; ow < params.out_w; ow++) {
      let d = dy_row + ow;
      let g = vec4f(dy[d + dy_off.x], dy[d + dy_off.y], dy[d + dy_off.z], dy[d + dy_off.w]);
      let iw0 = i32(ow * params.stride_w) - i32(params.pad_w);
      for (var c = 0u; c < CIN; c++) {
        for (var kh = 0u; kh < KH; kh++) {
          let ih = ih0 + i32(kh * params.dil_h);
          let row_ok = u32(ih) < params.in_h;
          let x_row = x_img + c * plane + u32(ih) * params.in_w;
          for (var kw = 0u; kw < KW; kw++) {
            let iw = iw0 + i32(kw * params.dil_w);
            let ok = row_ok && u32(iw) < params.in_w;
            let xv = select(0.0, x[select(0u, x_row + u32(iw), ok)], ok);
            let t = (c * KH + kh) * KW + kw;
            acc[t] += xv * g;
          }
        }
      }
    }
  }
  for (var l = 0u; l < 4u; l++) {
    let o = o0 + l;
    if (o >= params.out_c) { break; }
    let base = (chunk * params.out_c + o) * taps;
    for (var t = 0u; t < taps; t++) { out[base + t] = acc[t][l]; }
  }
}
