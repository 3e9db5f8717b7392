// Preamble (after the operand preamble) for the vec4 matmul bodies, matmul-vec4.wgsl and
// matmul-subgroup.wgsl: their uniform block, their output and the per-batch operand offsets.
struct Params {
  m: u32,
  n: u32,
  k: u32,
  batch_rank: u32,
  // Per batch dim, in vec4 units; 0 where that operand is broadcast.
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

// A and B come from the operand preamble: load4_a(i) / load4_b(i) give vec4 i as f32
// (f32 storage, or f16 stored natively or packed), so one body serves both precisions.
@group(0) @binding(2) var<storage, read_write> c: array<vec4f>;
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
