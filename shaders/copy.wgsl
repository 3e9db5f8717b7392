// Data movement by strides: `gather` reads a strided view into a (possibly strided) output,
// which covers permute, expand, slice and writing a block of a concat; `pad_slice` is the
// adjoint of slice: it writes a slice's values back into a zero tensor of the full shape.
override WG: u32 = 256u;

struct Params {
  n: u32,
  rank: u32,
  // Element offsets into the bound ranges (they wrap as u32, so a window that starts past the
  // view's offset, binding-window.ts, passes a "negative" one).
  src_offset: u32,
  dst_offset: u32,
  // The index in `shape` of this dispatch's element 0 (a split dispatch covers a chunk).
  base: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  shape: array<vec4u, 2>,
  src_strides: array<vec4u, 2>,
  dst_strides: array<vec4u, 2>,
  // pad_slice only: where the slice starts, its step and its shape, per dim.
  start: array<vec4u, 2>,
  step: array<vec4u, 2>,
  src_shape: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

fn at(v: array<vec4u, 2>, d: i32) -> u32 { return v[d / 4][d % 4]; }

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  var s = params.src_offset;
  var t = params.dst_offset;
  var rem = i + params.base;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let size = at(params.shape, d);
    let c = rem % size;
    rem = rem / size;
    s += c * at(params.src_strides, d);
    t += c * at(params.dst_strides, d);
  }
  dst[t] = src[s];
}

@compute @workgroup_size(WG)
fn pad_slice(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  var s = params.src_offset;
  var inside = true;
  var rem = i + params.base;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let size = at(params.shape, d);
    let c = rem % size;
    rem = rem / size;
    let start = at(params.start, d);
    let step = at(params.step, d);
    let k = (c - start) / step;
    if (c < start || (c - start) % step != 0u || k >= at(params.src_shape, d)) { inside = false; }
    s += k * at(params.src_strides, d);
  }
  // Read only inside the slice: outside it `s` is not a valid index.
  var v = 0.0;
  if (inside) { v = src[s]; }
  dst[i + params.dst_offset] = v;
}
