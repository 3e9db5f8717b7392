// preambles: activations.wgsl
// Elementwise unary ops, y[i] = f(x[i]; p0, p1). The op is an override constant, so each op
// is its own specialised pipeline and the switch folds away. Codes are named constants that
// the TS op table looks up by name.
const OP_neg = 0u;
const OP_abs = 1u;
const OP_exp = 2u;
const OP_log = 3u;
const OP_sqrt = 4u;
const OP_rsqrt = 5u;
const OP_square = 6u;
const OP_reciprocal = 7u;
const OP_sin = 8u;
const OP_cos = 9u;
const OP_tanh = 10u;
const OP_sigmoid = 11u;
const OP_relu = 12u;
const OP_leakyRelu = 13u;
const OP_elu = 14u;
const OP_gelu = 15u;
const OP_silu = 16u;
const OP_softplus = 17u;
const OP_clamp = 18u;
const OP_erf = 19u;
const OP_erfc = 20u;
const OP_sign = 21u;
const OP_step = 22u;
const OP_expm1 = 23u;
const OP_log1p = 24u;

override OP: u32 = 0u;
override WG: u32 = 256u;

struct Params {
  n: u32,
  p0: f32,
  p1: f32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

fn apply(v: f32) -> f32 {
  let p0 = params.p0;
  let p1 = params.p1;
  switch OP {
    case OP_neg: { return -v; }
    case OP_abs: { return abs(v); }
    case OP_exp: { return exp(v); }
    case OP_log: { return log(v); }
    case OP_sqrt: { return sqrt(v); }
    case OP_rsqrt: { return 1.0 / sqrt(v); }
    case OP_square: { return v * v; }
    case OP_reciprocal: { return 1.0 / v; }
    case OP_sin: { return sin(v); }
    case OP_cos: { return cos(v); }
    case OP_tanh: { return tanh_(v); }
    case OP_sigmoid: { return sigmoid(v); }
    // relu(NaN) is NaN, as in PyTorch (max(NaN, 0) may give 0).
    case OP_relu: { return select(max(v, 0.0), v, is_nan(v)); }
    case OP_leakyRelu: { return leaky_relu(v, p0); }
    case OP_elu: { return elu(v, p0); }
    case OP_gelu: { return gelu(v); }
    case OP_silu: { return v * sigmoid(v); }
    case OP_softplus: { return softplus(v, p0, p1); }
    // NaN bounds mean "no bound on this side". A NaN input stays NaN, as in torch.clamp
    // (WGSL's max/min may return the other operand).
    case OP_clamp: {
      if (is_nan(v)) { return v; }
      var r = v;
      if (!is_nan(p0)) { r = max(r, p0); }
      if (!is_nan(p1)) { r = min(r, p1); }
      return r;
    }
    case OP_erf: { return erf_(v); }
    case OP_erfc: { return erfc_(v); }
    case OP_sign: { return sign(v); }
    // Heaviside step: 1 where v > p0, else 0 (relu's gradient mask).
    case OP_step: { return select(0.0, 1.0, v > p0); }
    case OP_expm1: { return expm1(v); }
    case OP_log1p: { return log1p(v); }
    default: { return nan(); }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  y[i] = apply(x[i]);
}
