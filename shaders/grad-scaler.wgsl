// GradScaler kernels (torch.amp.GradScaler's dynamic loss scaling), all without a readback:
//   check:  ORs "some gradient is inf or NaN" into this optimizer's found-inf flag, for up to
//           six gradients per dispatch (torch's _amp_foreach_non_finite_check_and_unscale_,
//           minus the unscale: the optimizer kernel unscales as it reads).
//   update: grows or backs off the scale and keeps the good-step counter
//           (torch's _amp_update_scale_), then clears the found-inf flags for the next step.
// Both share one binding layout, so each binds what it does not use to placeholders.
//
// `flags` words: 0 growth tracker (good steps since the last change), 1 whether the last
// update() saw an inf, 2 steps skipped so far, 3 unused, 4.. one found-inf flag per optimizer.

const FLAG_tracker = 0u;
const FLAG_last_found = 1u;
const FLAG_skipped = 2u;
const FLAG_first_optimizer = 4u;
const MAX_GRADS = 6u;

override WG: u32 = 256u;

struct Params {
  flag_index: u32,
  optimizers: u32,
  growth_interval: u32,
  // update(newScale): 1 sets the scale to new_scale instead of growing or backing off.
  set_scale: u32,
  growth_factor: f32,
  backoff_factor: f32,
  new_scale: f32,
  _pad: u32,
  // Element count of each gradient (unused slots: 0); the last vec4 may be partly padding.
  count: array<vec4u, 2>,
}

// Gradients are read as bits: a non-finite f32 has all exponent bits set, and testing bits
// survives compilers that assume floats are finite.
@group(0) @binding(0) var<storage, read> g0: array<vec4u>;
@group(0) @binding(1) var<storage, read> g1: array<vec4u>;
@group(0) @binding(2) var<storage, read> g2: array<vec4u>;
@group(0) @binding(3) var<storage, read> g3: array<vec4u>;
@group(0) @binding(4) var<storage, read> g4: array<vec4u>;
@group(0) @binding(5) var<storage, read> g5: array<vec4u>;
@group(0) @binding(6) var<storage, read_write> flags: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> scale: array<f32>;
@group(0) @binding(8) var<uniform> params: Params;

const EXPONENT = 0x7f800000u;

// True where a lane is inf or NaN, for the lanes below `count` elements.
fn non_finite(bits: vec4u, q: u32, count: u32) -> bool {
  let lane = vec4u(4u * q) + vec4u(0u, 1u, 2u, 3u);
  return any(((bits & vec4u(EXPONENT)) == vec4u(EXPONENT)) & (lane < vec4u(count)));
}

fn grad_count(k: u32) -> u32 { return params.count[k / 4u][k % 4u]; }
fn grad_vec4s(k: u32) -> u32 { return (grad_count(k) + 3u) / 4u; }

@compute @workgroup_size(WG)
fn check(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  // A grid-stride loop: the grid covers the longest gradient at most once.
  let stride = nwg.x * nwg.y * WG;
  let start = gid.x + gid.y * nwg.x * WG;
  var bad = false;
  // WGSL cannot index bindings, so each gradient gets its own loop.
  for (var q = start; q < grad_vec4s(0u); q += stride) { bad = bad || non_finite(g0[q], q, grad_count(0u)); }
  for (var q = start; q < grad_vec4s(1u); q += stride) { bad = bad || non_finite(g1[q], q, grad_count(1u)); }
  for (var q = start; q < grad_vec4s(2u); q += stride) { bad = bad || non_finite(g2[q], q, grad_count(2u)); }
  for (var q = start; q < grad_vec4s(3u); q += stride) { bad = bad || non_finite(g3[q], q, grad_count(3u)); }
  for (var q = start; q < grad_vec4s(4u); q += stride) { bad = bad || non_finite(g4[q], q, grad_count(4u)); }
  for (var q = start; q < grad_vec4s(5u); q += stride) { bad = bad || non_finite(g5[q], q, grad_count(5u)); }
  // Only invocations that found something touch the flag.
  if (bad) { atomicOr(&flags[params.flag_index], 1u); }
}

@compute @workgroup_size(1)
fn update() {
  var found = 0u;
  for (var k = 0u; k < params.optimizers; k++) {
    found |= atomicLoad(&flags[FLAG_first_optimizer + k]);
    atomicStore(&flags[FLAG_first_optimizer + k], 0u);
  }
  atomicStore(&flags[FLAG_last_found], found);
  if (found != 0u) { atomicAdd(&flags[FLAG_skipped], 1u); }
  if (params.set_scale != 0u) {
    scale[0] = params.new_scale;
    return;
  }
  if (found != 0u) {
    scale[0] = scale[0] * params.backoff_factor;
    atomicStore(&flags[FLAG_tracker], 0u);
    return;
  }
  let successful = atomicLoad(&flags[FLAG_tracker]) + 1u;
  if (successful == params.growth_interval) {
    let grown = scale[0] * params.growth_factor;
    // Never grow the scale to inf.
    if ((bitcast<u32>(grown) & EXPONENT) != EXPONENT) { scale[0] = grown; }
    atomicStore(&flags[FLAG_tracker], 0u);
  } else {
    atomicStore(&flags[FLAG_tracker], successful);
  }
}
