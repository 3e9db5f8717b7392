// preambles: activations.wgsl+matmul-epilogue.wgsl
// Batched matmul tiled through workgroup memory, the standard schedule for real GPUs: a 16 x 16
// workgroup computes a 64 x 64 block of C, staging 64 x 16 blocks of A and B in workgroup
// memory so each value is loaded from storage once per block instead of once per output.
// Operands are addressed through row/column strides, so any layout (and any size) works.
const BM = 64u;
const BN = 64u;
const BK = 16u;
const THREADS = 256u;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  batch_rank: u32,
  a_row_stride: u32,
  a_col_stride: u32,
  b_row_stride: u32,
  b_col_stride: u32,
  batch_shape: vec4u,
  a_batch_strides: vec4u,
  b_batch_strides: vec4u,
  // The first output row and batch of this dispatch: a grid over the per-dimension workgroup
  // limit is split into several dispatches (src/kernels/matmul.ts).
  row_start: u32,
  batch_start: u32,
  // Added to the element (vec4 in the vec4 bodies) index of A, B and C (wrapping u32 sums):
  // where the kernel binds windows of buffers over the binding limit, minus each window's
  // start; a split over k adds its first k (src/kernels/matmul-split.ts). 0 otherwise.
  a_offset: u32,
  b_offset: u32,
  c_offset: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> a_tile: array<f32, 1024>; // [BK][BM]
var<workgroup> b_tile: array<f32, 1024>; // [BK][BN]

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  var a_base = params.a_offset;
  var b_base = params.b_offset;
  let batch = params.batch_start + wid.z;
  var rem = batch;
  for (var d = i32(params.batch_rank) - 1; d >= 0; d--) {
    let size = params.batch_shape[d];
    let i = rem % size;
    rem = rem / size;
    a_base += i * params.a_batch_strides[d];
    b_base += i * params.b_batch_strides[d];
  }
  let m = params.m;
  let n = params.n;
  let k = params.k;
  let row_base = params.row_start + wid.y * BM;
  let col_base = wid.x * BN;
  let tid = lid.y * 16u + lid.x;
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < k; k0 += BK) {
    for (var i = 0u; i < (BM * BK) / THREADS; i++) {
      let e = tid + i * THREADS;
      let r = e / BK;
      let kk = e % BK;
      let row = row_base + r;
      let kg = k0 + kk;
      var v = 0.0;
      if (row < m && kg < k) { v = a[a_base + row * params.a_row_stride + kg * params.a_col_stride]; }
      a_tile[kk * BM + r] = v;
    }
    for (var i = 0u; i < (BN * BK) / THREADS; i++) {
      let e = tid + i * THREADS;
      let kk = e / BN;
      let cc = e % BN;
      let col = col_base + cc;
      let kg = k0 + kk;
      var v = 0.0;
      if (col < n && kg < k) { v = b[b_base + kg * params.b_row_stride + col * params.b_col_stride]; }
      b_tile[kk * BN + cc] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let av = vec4f(a_tile[kk * BM + lid.y * 4u], a_tile[kk * BM + lid.y * 4u + 1u], a_tile[kk * BM + lid.y * 4u + 2u], a_tile[kk * BM + lid.y * 4u + 3u]);
      let bv = vec4f(b_tile[kk * BN + lid.x * 4u], b_tile[kk * BN + lid.x * 4u + 1u], b_tile[kk * BN + lid.x * 4u + 2u], b_tile[kk * BN + lid.x * 4u + 3u]);
      acc[0] += av.x * bv;
      acc[1] += av.y * bv;
      acc[2] += av.z * bv;
      acc[3] += av.w * bv;
    }
    workgroupBarrier();
  }
  let out_base = batch * m * n + params.c_offset;
  for (var r = 0u; r < 4u; r++) {
    let row = row_base + lid.y * 4u + r;
    if (row >= m) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col_base + lid.x * 4u + j;
      if (col < n) { c[out_base + row * n + col] = epilogue(acc[r][j], col, out_base + row * n + col); }
    }
  }
}
