// preambles: philox.wgsl+activations.wgsl
// One Langevin step, fused: x <- clamp(x - h * grad + sigma * eps), with sigma =
// noise_scale * sqrt(2h) (TorchEBM's update) and eps drawn here from Philox, so a step is the
// energy's gradient dispatches plus this one. x is updated in place (one read_write binding).
//
// Noise layout: element e at step t is lane e % 4 of the Box-Muller normals of
// philox(counter (e / 4, t, STREAM_LANGEVIN, 0), key). Step 0 is exactly
// ebm.randn(shape, { seed: key }); each step has its own counter word, so no two steps (and
// no two chains) share noise, and a seed fixes every step of every chain.
const STREAM_LANGEVIN = 0u;

override WG: u32 = 256u;
override CLAMP_MIN: bool = false;
override CLAMP_MAX: bool = false;

struct Params {
  n: u32,
  step: u32,
  seed_lo: u32,
  seed_hi: u32,
  h: f32,
  sigma: f32,
  lo: f32,
  hi: f32,
  // The first element of this dispatch (a multiple of 4): x over the binding limit is updated
  // in windows, one dispatch each, and the noise stays keyed by the global element index.
  base: u32,
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  // Four elements per invocation: one Philox call gives their four normals.
  let g = gid.x + gid.y * nwg.x * WG;
  let i0 = g * 4u;
  if (i0 >= params.n) { return; }
  let eps = philox_normal4(vec4u(params.base / 4u + g, params.step, STREAM_LANGEVIN, 0u), vec2u(params.seed_lo, params.seed_hi));
  for (var j = 0u; j < 4u; j++) {
    let i = i0 + j;
    if (i >= params.n) { break; }
    var v = x[i] - params.h * grad[i] + params.sigma * eps[j];
    // A NaN chain stays NaN, as torch.clamp keeps NaN (WGSL's max/min may return the bound).
    if (CLAMP_MIN && !is_nan(v)) { v = max(v, params.lo); }
    if (CLAMP_MAX && !is_nan(v)) { v = min(v, params.hi); }
    x[i] = v;
  }
}
