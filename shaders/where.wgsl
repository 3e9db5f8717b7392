// out = cond != 0 ? a : b, with the three inputs broadcast to the output by strides.
override WG: u32 = 256u;

struct Params {
  n: u32,
  rank: u32,
  // Where the buffers are over the binding limit the wrapper binds windows per chunk of the
  // output: base is the chunk's first output element, *_base each input window's first element.
  base: u32,
  c_base: u32,
  shape: array<vec4u, 2>,
  c_strides: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
  a_base: u32,
  b_base: u32,
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
  // u32 sums wrap, so subtracting the window's start first is exact.
  var ci = 0u - params.c_base;
  var ai = 0u - params.a_base;
  var bi = 0u - params.b_base;
  var rem = i + params.base;
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
