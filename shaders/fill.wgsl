// Tensors computed from their index alone: constants, ranges and identity matrices.
const OP_full = 0u;
const OP_arange = 1u;
const OP_linspace = 2u;
const OP_eye = 3u;

override OP: u32 = 0u;
override WG: u32 = 256u;

struct Params {
  n: u32,
  // eye: the number of columns.
  cols: u32,
  // full: the value; arange, linspace: the start.
  a: f32,
  // arange, linspace: the step.
  step: f32,
  // linspace: the end.
  end: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  switch OP {
    case OP_full: { out[i] = params.a; }
    case OP_arange: { out[i] = params.a + f32(i) * params.step; }
    // Like PyTorch, count from the start for the first half and back from the end for the
    // second, so both endpoints are exact.
    case OP_linspace: {
      if (i < params.n / 2u) { out[i] = params.a + f32(i) * params.step; }
      else { out[i] = params.end - f32(params.n - 1u - i) * params.step; }
    }
    case OP_eye: { out[i] = select(0.0, 1.0, i / params.cols == i % params.cols); }
    default: { out[i] = 0.0; }
  }
}
