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
  // A dispatch over a window of a larger buffer (binding-window.ts): the index of its element
  // 0 in the whole tensor, and how many elements it writes (n is the whole tensor's count).
  base: u32,
  count: u32,
  _pad0: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = gid.x + gid.y * nwg.x * WG;
  if (w >= params.count) { return; }
  let i = w + params.base;
  switch OP {
    case OP_full: { out[w] = params.a; }
    case OP_arange: { out[w] = params.a + f32(i) * params.step; }
    // Like PyTorch, count from the start for the first half and back from the end for the
    // second, so both endpoints are exact.
    case OP_linspace: {
      if (i < params.n / 2u) { out[w] = params.a + f32(i) * params.step; }
      else { out[w] = params.end - f32(params.n - 1u - i) * params.step; }
    }
    case OP_eye: { out[w] = select(0.0, 1.0, i / params.cols == i % params.cols); }
    default: { out[w] = 0.0; }
  }
}
