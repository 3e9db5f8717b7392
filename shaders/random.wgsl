// preambles: philox.wgsl
// ebm.rand / ebm.randn: counter-based random numbers from Philox 4x32-10 (philox.wgsl). Element
// group g (four values) is the hash of counter (offset + g, 0, 0, 0) under the 64-bit key
// `seed`, so a given seed and offset give the same numbers on any device and dispatch shape.
const DIST_uniform = 0u;
const DIST_normal = 1u;

override DIST: u32 = 0u;
override WG: u32 = 256u;

struct Params {
  n: u32,
  seed_lo: u32,
  seed_hi: u32,
  offset: u32,
  // uniform: [p0, p1); normal: mean p0, std p1.
  p0: f32,
  p1: f32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let i0 = g * 4u;
  if (i0 >= params.n) { return; }
  let counter = vec4u(params.offset + g, 0u, 0u, 0u);
  let key = vec2u(params.seed_lo, params.seed_hi);
  var v: vec4f;
  if (DIST == DIST_normal) {
    v = philox_normal4(counter, key) * params.p1 + params.p0;
  } else {
    v = params.p0 + philox_uniform4(counter, key) * (params.p1 - params.p0);
  }
  for (var j = 0u; j < 4u; j++) {
    if (i0 + j < params.n) { out[i0 + j] = v[j]; }
  }
}
