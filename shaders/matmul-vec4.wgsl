// preambles: f32-operands.wgsl+matmul-vec4-common.wgsl+activations.wgsl+matmul-epilogue.wgsl f16-native.wgsl+matmul-vec4-common.wgsl+activations.wgsl+matmul-epilogue.wgsl f16-packed.wgsl+matmul-vec4-common.wgsl+activations.wgsl+matmul-epilogue.wgsl
// Register-blocked batched matmul for software adapters (lavapipe, SwiftShader), where every
// storage load is expensive and workgroup memory is slower still: no workgroup memory, vec4
// loads, and each invocation keeps TM x (4 * TN4) results in registers. One entry point per
// operand layout, because the vectorised axis differs:
//   nn: C = A B,   A [M, K] and B [K, N]  (A along k, B along n)
//   nt: C = A Bᵀ,  A [M, K] and B [N, K]  (both along k)
//   tn: C = Aᵀ B,  A [K, M] and B [K, N]  (A along m, B along n)
// The wrapper uses this file only when the vectorised dims are multiples of 4.
// Arrays are sized for the largest tile; loops run to the override bounds, which the compiler
// sees as constants, so it unrolls them and keeps the arrays in registers.
override TM: u32 = 4u;
override TN4: u32 = 2u;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
const MAX_TM = 8u;
const MAX_TN4 = 2u;

// Params, the output c and batch_bases come from matmul-vec4-common.wgsl; A and B from the
// operand preamble (load4_a / load4_b: f32, or f16 stored natively or packed).

fn store(acc: ptr<function, array<vec4f, 16>>, batch: u32, row0: u32, col40: u32) {
  let n4 = params.n / 4u;
  let out_base = batch * params.m * n4 + params.c_offset;
  for (var r = 0u; r < TM; r++) {
    let row = row0 + r;
    if (row >= params.m) { break; }
    for (var cg = 0u; cg < TN4; cg++) {
      let col4 = col40 + cg;
      if (col4 < n4) { c[out_base + row * n4 + col4] = epilogue4((*acc)[r * MAX_TN4 + cg], col4 * 4u, (out_base + row * n4 + col4) * 4u); }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn nn(@builtin(global_invocation_id) gid: vec3u) {
  let m = params.m;
  let n4 = params.n / 4u;
  let k4 = params.k / 4u;
  let row0 = params.row_start + gid.y * TM;
  let col40 = gid.x * TN4;
  if (row0 >= m || col40 >= n4) { return; }
  let bases = batch_bases(params.batch_start + gid.z);
  var acc: array<vec4f, 16>;
  var a_rows: array<u32, MAX_TM>;
  for (var r = 0u; r < TM; r++) { a_rows[r] = bases.x + min(row0 + r, m - 1u) * k4; }
  var b_cols: array<u32, MAX_TN4>;
  for (var cg = 0u; cg < TN4; cg++) { b_cols[cg] = bases.y + min(col40 + cg, n4 - 1u); }
  for (var kk = 0u; kk < k4; kk++) {
    var av: array<vec4f, MAX_TM>;
    for (var r = 0u; r < TM; r++) { av[r] = load4_a(a_rows[r] + kk); }
    for (var j = 0u; j < 4u; j++) {
      let b_row = (kk * 4u + j) * n4;
      for (var cg = 0u; cg < TN4; cg++) {
        let bv = load4_b(b_cols[cg] + b_row);
        for (var r = 0u; r < TM; r++) { acc[r * MAX_TN4 + cg] += av[r][j] * bv; }
      }
    }
  }
  store(&acc, params.batch_start + gid.z, row0, col40);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn nt(@builtin(global_invocation_id) gid: vec3u) {
  let m = params.m;
  let n = params.n;
  let n4 = n / 4u;
  let k4 = params.k / 4u;
  let row0 = params.row_start + gid.y * TM;
  let col40 = gid.x * TN4;
  if (row0 >= m || col40 >= n4) { return; }
  let bases = batch_bases(params.batch_start + gid.z);
  var acc: array<vec4f, 16>;
  var a_rows: array<u32, MAX_TM>;
  for (var r = 0u; r < TM; r++) { a_rows[r] = bases.x + min(row0 + r, m - 1u) * k4; }
  for (var kk = 0u; kk < k4; kk++) {
    var av: array<vec4f, MAX_TM>;
    for (var r = 0u; r < TM; r++) { av[r] = load4_a(a_rows[r] + kk); }
    for (var cg = 0u; cg < TN4; cg++) {
      // Four rows of B (= four columns of C), each a vec4 along k.
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
  store(&acc, params.batch_start + gid.z, row0, col40);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn tn(@builtin(global_invocation_id) gid: vec3u) {
  let m4 = params.m / 4u;
  let n4 = params.n / 4u;
  let k = params.k;
  // Here TM counts rows in vec4 groups of A's row axis: TM / 4 loads per k.
  let row0 = params.row_start + gid.y * TM;
  let col40 = gid.x * TN4;
  if (row0 >= params.m || col40 >= n4) { return; }
  let bases = batch_bases(params.batch_start + gid.z);
  var acc: array<vec4f, 16>;
  for (var kk = 0u; kk < k; kk++) {
    var av: array<vec4f, 2>;
    for (var rg = 0u; rg < TM / 4u; rg++) { av[rg] = load4_a(bases.x + kk * m4 + min(row0 / 4u + rg, m4 - 1u)); }
    for (var cg = 0u; cg < TN4; cg++) {
      let bv = load4_b(bases.y + kk * n4 + min(col40 + cg, n4 - 1u));
      for (var r = 0u; r < TM; r++) { acc[r * MAX_TN4 + cg] += av[r / 4u][r % 4u] * bv; }
    }
  }
  store(&acc, params.batch_start + gid.z, row0, col40);
}
