// f32 <-> f16 casts. f16 data is handled as packed pairs in u32s (pack2x16float /
// unpack2x16float) so casts work whether or not the adapter has shader-f16; both buffers are
// bound as u32 words and f32 values pass through bitcast.
override WG: u32 = 256u;

struct Params {
  // Elements to convert.
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

// One invocation per pair of elements: writes one u32 of halves.
@compute @workgroup_size(WG)
fn to_f16(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = gid.x + gid.y * nwg.x * WG;
  let i = p * 2u;
  if (i >= params.n) { return; }
  let lo = bitcast<f32>(src[i]);
  var hi = 0.0;
  if (i + 1u < params.n) { hi = bitcast<f32>(src[i + 1u]); }
  dst[p] = pack2x16float(vec2f(lo, hi));
}

@compute @workgroup_size(WG)
fn to_f32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  dst[i] = bitcast<u32>(unpack2x16float(src[i / 2u])[i % 2u]);
}
