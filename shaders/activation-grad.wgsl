// preambles: activations.wgsl
// The fused activation gradient of a linear layer's backward pass: gz = g * act'(z), where z is
// the pre-activation the forward epilogue saved. One dispatch instead of a chain of
// elementwise ops per activation.
override ACT: u32 = 0u;
// The activation's first parameter (leakyRelu's negative slope, elu's alpha, softplus's beta).
override ACT_PARAM: f32 = 0.0;
override WG: u32 = 256u;

struct Params {
  n: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read_write> gz: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  gz[i] = g[i] * activate_grad(z[i], ACT, ACT_PARAM);
}
