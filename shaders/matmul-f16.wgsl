// preambles: f16-native.wgsl f16-packed.wgsl
// Batched matmul of f16 operands with f32 accumulation and an f32 result, for the shapes the
// vec4 bodies (matmul-subgroup.wgsl, matmul-vec4.wgsl, which take f16 through the same
// preambles) cannot take: any layout, dims that are not multiples of 4. The preamble binds A
// and B (native f16, or packed in u32s where the adapter lacks shader-f16) and provides
// load4_a / load4_b, which return four consecutive elements widened to f32.
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

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

@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn batch_bases(batch: u32) -> vec2u {
  var bases = vec2u(params.a_offset, params.b_offset);
  var rem = batch;
  for (var d = i32(params.batch_rank) - 1; d >= 0; d--) {
    let size = params.batch_shape[d];
    let i = rem % size;
    rem = rem / size;
    bases += i * vec2u(params.a_batch_strides[d], params.b_batch_strides[d]);
  }
  return bases;
}

fn load_a(i: u32) -> f32 { return load4_a(i / 4u)[i % 4u]; }
fn load_b(i: u32) -> f32 { return load4_b(i / 4u)[i % 4u]; }

// Any shape and layout: one output per invocation, element loads through the strides.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn strided(@builtin(global_invocation_id) gid: vec3u) {
  let row = params.row_start + gid.y;
  let col = gid.x;
  if (row >= params.m || col >= params.n) { return; }
  let bases = batch_bases(params.batch_start + gid.z);
  var acc = 0.0;
  for (var kk = 0u; kk < params.k; kk++) {
    acc += load_a(bases.x + row * params.a_row_stride + kk * params.a_col_stride) * load_b(bases.y + kk * params.b_row_stride + col * params.b_col_stride);
  }
  c[(params.batch_start + gid.z) * params.m * params.n + row * params.n + col + params.c_offset] = acc;
}
