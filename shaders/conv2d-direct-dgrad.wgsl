// preambles: conv2d-direct-params.wgsl
// conv2d's data gradient for a grey first layer (Cin = 1; the wrapper decides). The packed GEMM
// would have Cin rows, most of its register block on zeros, and two packing dispatches that
// cost more than the products; here each invocation computes four pixels of dx where they lie:
// dx[n, c, ih, iw] = sum over o and the taps (kh, kw) that reach it of dy[n, o, oh, ow] w[o, c, kh, kw],
// with oh = (ih + pad - kh dil) / stride when that divides exactly and lands inside dy.
//
// Which taps divide exactly depends only on the pixel's stride phase (ih % stride_h, iw %
// stride_w), so the grid runs one phase per workgroup_id.z and an invocation takes four
// consecutive pixels of one phase row (iw = rw + (4 jb + k) stride_w). Every lane of a
// workgroup then skips the same taps: a kernel that mixed phases in one SIMD group (lavapipe
// runs 8 lanes in lockstep) ran every tap's channel loop for all lanes, masked, which at stride
// 2 is four times the work. The four pixels of a tap read four consecutive dy columns and share
// each weight load.

@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

/** The dy offset (o = i + offset) of tap k along an axis from phase r, or none. */
fn tap_offset(r: u32, pad: u32, k: u32, dil: u32, stride: u32) -> vec2<i32> {
  let num = i32(r + pad) - i32(k * dil);
  // Exact division (the remainder is zero), so truncation is the floor.
  return vec2<i32>(select(0, 1, num % i32(stride) == 0), num / i32(stride));
}

@compute @workgroup_size(WG)
fn dgrad_direct(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let rh = wid.z / params.stride_w;
  let rw = wid.z % params.stride_w;
  if (rh >= params.in_h || rw >= params.in_w) { return; }
  // This phase's rows and columns of dx, and its column blocks of four.
  let rows = (params.in_h - rh + params.stride_h - 1u) / params.stride_h;
  let cols = (params.in_w - rw + params.stride_w - 1u) / params.stride_w;
  let blocks = (cols + 3u) / 4u;
  let e = gid.x + gid.y * nwg.x * WG;
  let per_image = params.in_c * rows * blocks;
  if (e >= params.batch * per_image) { return; }
  let n = e / per_image;
  var r = e - n * per_image;
  let c = r / (rows * blocks);
  r -= c * rows * blocks;
  let i = r / blocks;
  let j0 = (r - i * blocks) * 4u;
  let ohw = params.out_h * params.out_w;
  let w_stride = params.in_c * KH * KW;
  let lane = vec4<i32>(0, 1, 2, 3);
  let live = vec4<i32>(i32(j0)) + lane < vec4<i32>(i32(cols));
  var acc = vec4f(0.0);
  for (var kh = 0u; kh < KH; kh++) {
    let th = tap_offset(rh, params.pad_h, kh, params.dil_h, params.stride_h);
    let oh = i32(i) + th.y;
    if (th.x == 0 || oh < 0 || oh >= i32(params.out_h)) { continue; }
    for (var kw = 0u; kw < KW; kw++) {
      let tw = tap_offset(rw, params.pad_w, kw, params.dil_w, params.stride_w);
      if (tw.x == 0) { continue; }
      // The four pixels' dy columns; those outside dy (or past the row) read a safe index and
      // are masked once the channel sum is done.
      let ow = vec4<i32>(i32(j0) + tw.y) + lane;
      let ok = live & (ow >= vec4<i32>(0)) & (ow < vec4<i32>(i32(params.out_w)));
      let col = vec4<u32>(clamp(ow, vec4<i32>(0), vec4<i32>(i32(params.out_w) - 1)));
      var di = n * params.out_c * ohw + u32(oh) * params.out_w;
      var wi = (c * KH + kh) * KW + kw;
      var sum = vec4f(0.0);
      for (var o = 0u; o < params.out_c; o++) {
        let d = vec4f(dy[di + col.x], dy[di + col.y], dy[di + col.z], dy[di + col.w]);
        sum += d * w[wi];
        di += ohw;
        wi += w_stride;
      }
      acc += select(vec4f(0.0), sum, ok);
    }
  }
  let ih = rh + i * params.stride_h;
  let base = (n * params.in_c + c) * params.in_h * params.in_w + ih * params.in_w + rw;
  for (var k = 0u; k < 4u; k++) {
    if (j0 + k < cols) { dx[base + (j0 + k) * params.stride_w] = acc[k]; }
  }
}
