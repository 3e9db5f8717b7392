// out = cond != 0 ? a : b, with the three inputs broadcast to the output by strides.
override WG: u32 = 256u;

struct Params {
  n: u32,
  rank: u32,
  _pad0: u32,
  _pad1: u32,
  shape: array<vec4u, 2>,
  c_strides: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read> cond: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  var ci = 0u;
  var ai = 0u;
  var bi = 0u;
  var rem = i;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let size = params.shape[d / 4][d % 4];
    let c = rem % size;
    rem = rem / size;
    ci += c * params.c_strides[d / 4][d % 4];
    ai += c * params.a_strides[d / 4][d % 4];
    bi += c * params.b_strides[d / 4][d % 4];
  }
  out[i] = select(b[bi], a[ai], cond[ci] != 0.0);
}
