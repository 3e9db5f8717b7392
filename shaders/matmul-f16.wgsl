// preambles: f16-native.wgsl f16-packed.wgsl
// Batched matmul of f16 operands with f32 accumulation and an f32 result. The preamble binds
// A and B (native f16, or packed in u32s where the adapter lacks shader-f16) and provides
// load4_a / load4_b, which return four consecutive elements widened to f32.
// Entry points as in matmul-vec4.wgsl (nn, nt, tn: register-blocked, dims multiples of 4),
// plus `strided` for any shape and layout.
override TM: u32 = 4u;
override TN4: u32 = 2u;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
const MAX_TM = 8u;
const MAX_TN4 = 2u;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  batch_rank: u32,
  // strided only: element strides of the stored matrices.
  a_row_stride: u32,
  a_col_stride: u32,
  b_row_stride: u32,
  b_col_stride: u32,
  // Per batch dim, in elements; 0 where that operand is broadcast.
  batch_shape: vec4u,
  a_batch_strides: vec4u,
  b_batch_strides: vec4u,
}

@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn batch_bases(batch: u32) -> vec2u {
  var bases = vec2u(0u);
  var rem = batch;
  for (var d = i32(params.batch_rank) - 1; d >= 0; d--) {
    let size = params.batch_shape[d];
    let i = rem % size;
    rem = rem / size;
    bases += i * vec2u(params.a_batch_strides[d], params.b_batch_strides[d]);
  }
  return bases;
}

fn store(acc: ptr<function, array<vec4f, 16>>, batch: u32, row0: u32, col0: u32) {
  let n = params.n;
  let out_base = batch * params.m * n;
  for (var r = 0u; r < TM; r++) {
    let row = row0 + r;
    if (row >= params.m) { break; }
    for (var cg = 0u; cg < TN4; cg++) {
      for (var j = 0u; j < 4u; j++) {
        let col = col0 + cg * 4u + j;
        if (col < n) { c[out_base + row * n + col] = (*acc)[r * MAX_TN4 + cg][j]; }
      }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn nn(@builtin(global_invocation_id) gid: vec3u) {
  let m = params.m;
  let n4 = params.n / 4u;
  let k4 = params.k / 4u;
  let row0 = gid.y * TM;
  let col40 = gid.x * TN4;
  if (row0 >= m || col40 >= n4) { return; }
  let bases = batch_bases(gid.z) / 4u;
  var acc: array<vec4f, 16>;
  for (var kk = 0u; kk < k4; kk++) {
    var av: array<vec4f, MAX_TM>;
    for (var r = 0u; r < TM; r++) { av[r] = load4_a(bases.x + min(row0 + r, m - 1u) * k4 + kk); }
    for (var j = 0u; j < 4u; j++) {
      for (var cg = 0u; cg < TN4; cg++) {
        let bv = load4_b(bases.y + (kk * 4u + j) * n4 + min(col40 + cg, n4 - 1u));
        for (var r = 0u; r < TM; r++) { acc[r * MAX_TN4 + cg] += av[r][j] * bv; }
      }
    }
  }
  store(&acc, gid.z, row0, col40 * 4u);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn nt(@builtin(global_invocation_id) gid: vec3u) {
  let m = params.m;
  let n4 = params.n / 4u;
  let k4 = params.k / 4u;
  let row0 = gid.y * TM;
  let col40 = gid.x * TN4;
  if (row0 >= m || col40 >= n4) { return; }
  let bases = batch_bases(gid.z) / 4u;
  var acc: array<vec4f, 16>;
  for (var kk = 0u; kk < k4; kk++) {
    var av: array<vec4f, MAX_TM>;
    for (var r = 0u; r < TM; r++) { av[r] = load4_a(bases.x + min(row0 + r, m - 1u) * k4 + kk); }
    for (var cg = 0u; cg < TN4; cg++) {
      let col = min(col40 + cg, n4 - 1u) * 4u;
      let b0 = load4_b(bases.y + col * k4 + kk);
      let b1 = load4_b(bases.y + (col + 1u) * k4 + kk);
      let b2 = load4_b(bases.y + (col + 2u) * k4 + kk);
      let b3 = load4_b(bases.y + (col + 3u) * k4 + kk);
      for (var r = 0u; r < TM; r++) {
        acc[r * MAX_TN4 + cg] += vec4f(dot(av[r], b0), dot(av[r], b1), dot(av[r], b2), dot(av[r], b3));
      }
    }
  }
  store(&acc, gid.z, row0, col40 * 4u);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn tn(@builtin(global_invocation_id) gid: vec3u) {
  let m4 = params.m / 4u;
  let n4 = params.n / 4u;
  let row0 = gid.y * TM;
  let col40 = gid.x * TN4;
  if (row0 >= params.m || col40 >= n4) { return; }
  let bases = batch_bases(gid.z) / 4u;
  var acc: array<vec4f, 16>;
  for (var kk = 0u; kk < params.k; kk++) {
    var av: array<vec4f, 2>;
    for (var rg = 0u; rg < TM / 4u; rg++) { av[rg] = load4_a(bases.x + kk * m4 + min(row0 / 4u + rg, m4 - 1u)); }
    for (var cg = 0u; cg < TN4; cg++) {
      let bv = load4_b(bases.y + kk * n4 + min(col40 + cg, n4 - 1u));
      for (var r = 0u; r < TM; r++) { acc[r * MAX_TN4 + cg] += av[r / 4u][r % 4u] * bv; }
    }
  }
  store(&acc, gid.z, row0, col40 * 4u);
}

fn load_a(i: u32) -> f32 { return load4_a(i / 4u)[i % 4u]; }
fn load_b(i: u32) -> f32 { return load4_b(i / 4u)[i % 4u]; }

// Any shape and layout: one output per invocation, element loads through the strides.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn strided(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.y;
  let col = gid.x;
  if (row >= params.m || col >= params.n) { return; }
  let bases = batch_bases(gid.z);
  var acc = 0.0;
  for (var kk = 0u; kk < params.k; kk++) {
    acc += load_a(bases.x + row * params.a_row_stride + kk * params.a_col_stride) * load_b(bases.y + kk * params.b_row_stride + col * params.b_col_stride);
  }
  c[gid.z * params.m * params.n + row * params.n + col] = acc;
}
