// Row gathers along the first axis: `select` is index_select(x, 0, idx); `add` is its adjoint,
// index_add into zeros, written as a gather over the indices (each output row sums the
// rows that point at it) so it needs no float atomics and is deterministic. `scatter` writes
// src's rows into rows idx of dst in place (distinct indices, checked by the caller), touching
// nothing else: a replay buffer's update costs its batch, not its size.
override WG: u32 = 256u;

struct Params {
  n_out: u32,
  row_size: u32,
  n_idx: u32,
  n_src_rows: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn select_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n_out) { return; }
  let row = i / params.row_size;
  let col = i % params.row_size;
  dst[i] = src[idx[row] * params.row_size + col];
}

@compute @workgroup_size(WG)
fn add_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n_out) { return; }
  let row = i / params.row_size;
  let col = i % params.row_size;
  var acc = 0.0;
  for (var k = 0u; k < params.n_idx; k++) {
    if (idx[k] == row) { acc += src[k * params.row_size + col]; }
  }
  dst[i] = acc;
}

@compute @workgroup_size(WG)
fn scatter_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n_out) { return; }
  let row = i / params.row_size;
  let col = i % params.row_size;
  dst[idx[row] * params.row_size + col] = src[i];
}
