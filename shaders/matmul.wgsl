// preambles: activations.wgsl+matmul-epilogue.wgsl
// Batched matmul C[b] = op(A[b]) op(B[b]). Both operands are addressed through row and column
// strides, so transposed operands (for backward) cost nothing, and through per-batch-dim
// strides (0 on a broadcast dim), so broadcast batches are never materialised.
// Each invocation computes a 4 x 4 block of C with 16 independent accumulators.
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

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

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let batch = params.batch_start + gid.z;
  var a_base = params.a_offset;
  var b_base = params.b_offset;
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
  let row0 = params.row_start + gid.y * 4u;
  let col0 = gid.x * 4u;
  if (row0 >= m || col0 >= n) { return; }
  // Rows and columns past the edge re-read the last valid one; their results are not stored.
  var a_rows: vec4u;
  var b_cols: vec4u;
  for (var r = 0u; r < 4u; r++) {
    a_rows[r] = a_base + min(row0 + r, m - 1u) * params.a_row_stride;
    b_cols[r] = b_base + min(col0 + r, n - 1u) * params.b_col_stride;
  }
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var kk = 0u; kk < params.k; kk++) {
    let ak = kk * params.a_col_stride;
    let bk = kk * params.b_row_stride;
    let bv = vec4f(b[b_cols.x + bk], b[b_cols.y + bk], b[b_cols.z + bk], b[b_cols.w + bk]);
    acc0 += a[a_rows.x + ak] * bv;
    acc1 += a[a_rows.y + ak] * bv;
    acc2 += a[a_rows.z + ak] * bv;
    acc3 += a[a_rows.w + ak] * bv;
  }
  let out_base = batch * m * n + params.c_offset;
  let accs = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < 4u; r++) {
    let row = row0 + r;
    if (row >= m) { break; }
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + j;
      if (col < n) { c[out_base + row * n + col] = epilogue(accs[r][j], col, out_base + row * n + col); }
    }
  }
}
