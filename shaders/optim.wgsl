// preambles: activations.wgsl
// Fused optimizer steps: one dispatch updates one parameter in place, reading its gradient
// and its optimizer state once (PyTorch's single-tensor update rules, torch.optim.SGD / Adam /
// AdamW). One invocation per vec4 of the parameter.
//
// `state` packs everything the parameter's optimizer keeps, so one binding serves every
// variant: vec4 0 holds the step counter in two slots (x, y), then regions of `stride` vec4s
// each: SGD [momentum_buffer], Adam [exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad)].
//
// The step counter lives on the GPU (like PyTorch's capturable=True) because a GradScaler may
// skip a step without the host knowing; the kernel reads slot `parity` and invocation 0
// writes the next count to the other slot, so no invocation reads a word another writes.
//
// GATE wires in a GradScaler without a readback: 0 none; 1 skip the whole update when the
// scaler's found-inf flag for this optimizer is set (grads were already unscaled); 2 the same,
// and multiply the gradient by 1 / scale as it is read.

const GATE_none = 0u;
const GATE_skip = 1u;
const GATE_unscale = 2u;

override WG: u32 = 64u;
override GATE: u32 = 0u;
override MAXIMIZE: bool = false;
// SGD
override MOMENTUM: bool = false;
override NESTEROV: bool = false;
// Adam
override AMSGRAD: bool = false;
override DECOUPLED: bool = false;

struct Params {
  n: u32,
  parity: u32,
  // The optimizer's found-inf word in the scaler's flag buffer.
  flag_index: u32,
  // Length of each state region, in vec4s.
  stride: u32,
  lr: f32,
  weight_decay: f32,
  // SGD
  momentum: f32,
  one_minus_dampening: f32,
  // Adam
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  // ln(beta), computed in f64 on the host: 1 - beta^t = -expm1(t ln beta) keeps its digits
  // when beta^t is close to 1 (beta2 = 0.999 at t = 1).
  log_beta1: f32,
  log_beta2: f32,
  // AdamW's 1 - lr * weight_decay, rounded once from f64 like PyTorch's python float.
  decay_factor: f32,
  _pad: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<vec4f>;
@group(0) @binding(1) var<storage, read> grad: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> state: array<vec4f>;
@group(0) @binding(3) var<storage, read> scaler_flags: array<u32>;
@group(0) @binding(4) var<storage, read> scaler_scale: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

fn skipped() -> bool {
  return GATE != GATE_none && scaler_flags[params.flag_index] != 0u;
}

// The gradient as the update sees it: unscaled, negated under maximize.
fn load_grad(q: u32) -> vec4f {
  var g = grad[q];
  if (GATE == GATE_unscale) { g = g * (1.0 / scaler_scale[0]); }
  if (MAXIMIZE) { g = -g; }
  return g;
}

// Advances the step counter (unless the step is skipped) and returns the new count.
fn advance_step(q: u32, skip: bool) -> f32 {
  let t = state[0][params.parity] + select(1.0, 0.0, skip);
  if (q == 0u) { state[0][1u - params.parity] = t; }
  return t;
}

// Writes only the parameter's own elements: the padding of its buffer is not ours to touch.
fn store_param(q: u32, v: vec4f) {
  let rem = params.n - 4u * q;
  if (rem >= 4u) {
    param[q] = v;
    return;
  }
  for (var j = 0u; j < rem; j++) { param[q][j] = v[j]; }
}

fn region(k: u32, q: u32) -> u32 {
  return 1u + k * params.stride + q;
}

fn index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@compute @workgroup_size(WG)
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = index(gid, nwg);
  let skip = skipped();
  // Only the momentum buffer needs to know whether this is its first step.
  var first = false;
  if (MOMENTUM) { first = advance_step(q, skip) == 1.0; }
  if (skip || 4u * q >= params.n) { return; }
  let p = param[q];
  var g = load_grad(q);
  if (params.weight_decay != 0.0) { g = g + params.weight_decay * p; }
  if (MOMENTUM) {
    let r = region(0u, q);
    // PyTorch starts the buffer as a copy of the first gradient (no dampening on it).
    var buf = g;
    if (!first) { buf = params.momentum * state[r] + params.one_minus_dampening * g; }
    state[r] = buf;
    if (NESTEROV) { g = g + params.momentum * buf; } else { g = buf; }
  }
  store_param(q, p - params.lr * g);
}

@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = index(gid, nwg);
  let skip = skipped();
  let t = advance_step(q, skip);
  if (skip || 4u * q >= params.n) { return; }
  var p = param[q];
  var g = load_grad(q);
  if (params.weight_decay != 0.0) {
    if (DECOUPLED) { p = p * params.decay_factor; } else { g = g + params.weight_decay * p; }
  }
  let rm = region(0u, q);
  let rv = region(1u, q);
  // exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
  let m = state[rm] + params.one_minus_beta1 * (g - state[rm]);
  let v = params.beta2 * state[rv] + params.one_minus_beta2 * g * g;
  state[rm] = m;
  state[rv] = v;
  var v_hat = v;
  if (AMSGRAD) {
    let rx = region(2u, q);
    // torch.maximum propagates NaN; WGSL's max may drop it.
    let prev = state[rx];
    let lane_nan = vec4<bool>(is_nan(v.x) || is_nan(prev.x), is_nan(v.y) || is_nan(prev.y), is_nan(v.z) || is_nan(prev.z), is_nan(v.w) || is_nan(prev.w));
    v_hat = select(max(prev, v), vec4f(nan()), lane_nan);
    state[rx] = v_hat;
  }
  let bias_correction1 = -expm1(t * params.log_beta1);
  let bias_correction2 = -expm1(t * params.log_beta2);
  let step_size = params.lr / bias_correction1;
  let denom = sqrt(v_hat) / sqrt(bias_correction2) + params.eps;
  store_param(q, p - step_size * m / denom);
}
