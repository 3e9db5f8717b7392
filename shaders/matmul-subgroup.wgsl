// preambles: subgroups.wgsl+f32-operands.wgsl+matmul-vec4-common.wgsl+activations.wgsl+matmul-epilogue.wgsl subgroups.wgsl+f16-native.wgsl+matmul-vec4-common.wgsl+activations.wgsl+matmul-epilogue.wgsl subgroups.wgsl+f16-packed.wgsl+matmul-vec4-common.wgsl+activations.wgsl+matmul-epilogue.wgsl
// Batched matmul for software adapters with subgroups (lavapipe: 8 lanes of one AVX2 register).
// There a storage load costs the same per lane whether or not the lanes share an address, so
// the register-blocked kernel spends most of its time loading A rows that every lane of a
// subgroup needs. Here each lane loads one eighth of the A values its subgroup needs and
// subgroupShuffle hands them round (a register permute), cutting loads per 128 FMAs from 12
// to 5. Each lane computes 8 rows x 4 columns (one vec4 column group); a 1-D workgroup of WG
// lanes covers 8 rows x WG column groups. Needs subgroups of at least 8 lanes and the
// vectorised dims to be multiples of 4 (the wrapper checks both).
//   nn: C = A B,   A [M, K], B [K, N]     nt: C = A Bᵀ, B [N, K]     tn: C = Aᵀ B, A [K, M]
override WG: u32 = 64u;

// Params, the output c and batch_bases come from matmul-vec4-common.wgsl; A and B from the
// operand preamble (load4_a / load4_b: f32, or f16 stored natively or packed).

// Row r of the tile gets A row r's four values: the lane that loaded them shares them.
fn fma_rows(acc: ptr<function, array<vec4f, 8>>, mine: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f) {
  for (var r = 0u; r < 8u; r++) {
    let ar = subgroupShuffle(mine, r);
    (*acc)[r] += ar.x * b0 + ar.y * b1 + ar.z * b2 + ar.w * b3;
  }
}

fn store(acc: ptr<function, array<vec4f, 8>>, batch: u32, row0: u32, col4: u32) {
  let n4 = params.n / 4u;
  if (col4 >= n4) { return; }
  let out_base = batch * params.m * n4 + params.c_offset;
  for (var r = 0u; r < 8u; r++) {
    let row = row0 + r;
    if (row < params.m) {
      let i = out_base + row * n4 + col4;
      c[i] = epilogue4((*acc)[r], col4 * 4u, i * 4u);
    }
  }
}

@compute @workgroup_size(WG, 1, 1)
fn nn(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let m = params.m;
  let n4 = params.n / 4u;
  let k4 = params.k / 4u;
  let row0 = params.row_start + wid.y * 8u;
  let col4 = wid.x * WG + lid;
  let bases = batch_bases(params.batch_start + wid.z);
  let b_col = bases.y + min(col4, n4 - 1u);
  let a_row = bases.x + min(row0 + lane % 8u, m - 1u) * k4;
  var acc: array<vec4f, 8>;
  for (var kk = 0u; kk < k4; kk++) {
    let b_row = kk * 4u * n4;
    fma_rows(&acc, load4_a(a_row + kk), load4_b(b_col + b_row), load4_b(b_col + b_row + n4), load4_b(b_col + b_row + 2u * n4), load4_b(b_col + b_row + 3u * n4));
  }
  store(&acc, params.batch_start + wid.z, row0, col4);
}

@compute @workgroup_size(WG, 1, 1)
fn nt(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let m = params.m;
  let n4 = params.n / 4u;
  let k4 = params.k / 4u;
  let row0 = params.row_start + wid.y * 8u;
  let col4 = wid.x * WG + lid;
  let bases = batch_bases(params.batch_start + wid.z);
  // This lane's four columns of C are four rows of B, each read along k.
  let b_row = bases.y + min(col4, n4 - 1u) * 4u * k4;
  let a_row = bases.x + min(row0 + lane % 8u, m - 1u) * k4;
  var acc: array<vec4f, 8>;
  for (var kk = 0u; kk < k4; kk++) {
    let mine = load4_a(a_row + kk);
    let b0 = load4_b(b_row + kk);
    let b1 = load4_b(b_row + k4 + kk);
    let b2 = load4_b(b_row + 2u * k4 + kk);
    let b3 = load4_b(b_row + 3u * k4 + kk);
    for (var r = 0u; r < 8u; r++) {
      let ar = subgroupShuffle(mine, r);
      acc[r] += vec4f(dot(ar, b0), dot(ar, b1), dot(ar, b2), dot(ar, b3));
    }
  }
  store(&acc, params.batch_start + wid.z, row0, col4);
}

@compute @workgroup_size(WG, 1, 1)
fn tn(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let m4 = params.m / 4u;
  let n4 = params.n / 4u;
  let k = params.k;
  let row0 = params.row_start + wid.y * 8u;
  let col4 = wid.x * WG + lid;
  let bases = batch_bases(params.batch_start + wid.z);
  let b_col = bases.y + min(col4, n4 - 1u);
  // Lanes 2j and 2j+1 load A's rows row0..row0+3 and row0+4..row0+7 at k = k0 + j.
  let a_group = min(row0 / 4u + lane % 2u, m4 - 1u);
  let a_k = (lane % 8u) / 2u;
  var acc: array<vec4f, 8>;
  let k_full = k / 4u * 4u;
  for (var k0 = 0u; k0 < k_full; k0 += 4u) {
    let mine = load4_a(bases.x + (k0 + a_k) * m4 + a_group);
    for (var j = 0u; j < 4u; j++) {
      let bv = load4_b(b_col + (k0 + j) * n4);
      let lo = subgroupShuffle(mine, 2u * j);
      let hi = subgroupShuffle(mine, 2u * j + 1u);
      acc[0] += lo.x * bv;
      acc[1] += lo.y * bv;
      acc[2] += lo.z * bv;
      acc[3] += lo.w * bv;
      acc[4] += hi.x * bv;
      acc[5] += hi.y * bv;
      acc[6] += hi.z * bv;
      acc[7] += hi.w * bv;
    }
  }
  // The last k % 4 steps, one k at a time (every lane loads what it needs itself).
  for (var kk = k_full; kk < k; kk++) {
    let bv = load4_b(b_col + kk * n4);
    let lo = load4_a(bases.x + kk * m4 + min(row0 / 4u, m4 - 1u));
    let hi = load4_a(bases.x + kk * m4 + min(row0 / 4u + 1u, m4 - 1u));
    acc[0] += lo.x * bv;
    acc[1] += lo.y * bv;
    acc[2] += lo.z * bv;
    acc[3] += lo.w * bv;
    acc[4] += hi.x * bv;
    acc[5] += hi.y * bv;
    acc[6] += hi.z * bv;
    acc[7] += hi.w * bv;
  }
  store(&acc, params.batch_start + wid.z, row0, col4);
}
