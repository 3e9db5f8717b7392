// Preamble: scalar math shared by the elementwise kernels, the matmul epilogue, the fused
// activation gradient and the fused Langevin MLP, so each activation (and its derivative) is
// written once in WGSL. ACT_<name> is the code of each row of the activation table
// (src/kernels/activation-table.ts), which looks the codes up by name; test/activations.test.ts
// checks the two against each other both ways.
const ACT_none = 0u;
const ACT_relu = 1u;
const ACT_leakyRelu = 2u;
const ACT_silu = 3u;
const ACT_tanh = 4u;
const ACT_gelu = 5u;
const ACT_sigmoid = 6u;
const ACT_elu = 7u;
const ACT_softplus = 8u;

// Softplus's threshold in the fused kernels (PyTorch's default; the table's default too):
// they take one parameter at run time, beta.
const SOFTPLUS_THRESHOLD = 20.0;

// WGSL lets compilers assume floats are never NaN, so `v != v` may fold to false (lavapipe
// does fold it); NaN is tested on the bits instead: exponent all ones, mantissa non-zero.
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

// NaN and infinity cannot be WGSL constants; bit patterns in private vars are evaluated at run time.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
fn nan() -> f32 { return bitcast<f32>(NAN_BITS); }
fn inf() -> f32 { return bitcast<f32>(INF_BITS); }

// exp(v) - 1 without the cancellation near 0 that exp(v) - 1.0 suffers.
fn expm1(v: f32) -> f32 {
  if (abs(v) < 0.5) {
    return v * (1.0 + v * (0.5 + v * (1.0 / 6.0 + v * (1.0 / 24.0 + v * (1.0 / 120.0 + v * (1.0 / 720.0 + v * (1.0 / 5040.0 + v * (1.0 / 40320.0))))))));
  }
  return exp(v) - 1.0;
}

// log(1 + v), accurate to a few ulp relative for small v. WGSL's log promises only an ABSOLUTE
// error (2^-21) on [0.5, 2], so log(1 + v) (even with Goldberg's correction) loses the relative
// precision of small results; there the series log1p(v) = 2 atanh(s), s = v / (2 + v), is used
// (|s| <= 1/7 for |v| <= 0.25: seven terms leave a truncation error below 1e-12).
fn log1p(v: f32) -> f32 {
  if (abs(v) <= 0.25) {
    let s = v / (2.0 + v);
    let s2 = s * s;
    return 2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 / 13.0))))));
  }
  let u = 1.0 + v;
  if (u == inf()) { return u; }
  return log(u);
}

// erfc for z >= 0 with relative error below ~1.2e-7 (Chebyshev fit, Numerical Recipes' erfcc).
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(p);
}

fn erf_(z: f32) -> f32 {
  let a = abs(z);
  if (a < 0.5) {
    // Maclaurin series: 1 - erfc(z) would lose the relative precision of small results.
    let z2 = z * z;
    return 1.1283791670955126 * z * (1.0 + z2 * (-1.0 / 3.0 + z2 * (0.1 + z2 * (-1.0 / 42.0 + z2 * (1.0 / 216.0 + z2 * (-1.0 / 1320.0 + z2 / 9360.0))))));
  }
  let r = 1.0 - erfc_pos(a);
  return select(r, -r, z < 0.0);
}

fn erfc_(z: f32) -> f32 {
  if (z >= 0.0) { return erfc_pos(z); }
  return 2.0 - erfc_pos(-z);
}

fn tanh_(v: f32) -> f32 {
  if (abs(v) > 10.0) { return sign(v); }
  let e = expm1(2.0 * v);
  return e / (e + 2.0);
}

fn sigmoid(v: f32) -> f32 {
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}

fn gelu(v: f32) -> f32 {
  // Exact GELU, x * Phi(x), with Phi written through erfc so it keeps precision for x << 0.
  return 0.5 * v * erfc_(-v * 0.7071067811865476);
}

fn leaky_relu(v: f32, slope: f32) -> f32 {
  return select(v * slope, v, v > 0.0);
}

fn elu(v: f32, alpha: f32) -> f32 {
  return select(alpha * expm1(v), v, v > 0.0);
}

// PyTorch's softplus: linear above the threshold, log1p(exp(beta v)) / beta below.
fn softplus(v: f32, beta: f32, threshold: f32) -> f32 {
  let z = beta * v;
  if (z > threshold) { return v; }
  return (max(z, 0.0) + log1p(exp(-abs(z)))) / beta;
}

/** The activation `act` of the pre-activation z; p is its first parameter (leakyRelu's negative slope, elu's alpha, softplus's beta). */
fn activate(z: f32, act: u32, p: f32) -> f32 {
  switch act {
    // relu(NaN) is NaN, as in PyTorch (max(NaN, 0) may give 0).
    case ACT_relu: { return select(max(z, 0.0), z, is_nan(z)); }
    case ACT_leakyRelu: { return leaky_relu(z, p); }
    case ACT_silu: { return z * sigmoid(z); }
    case ACT_tanh: { return tanh_(z); }
    case ACT_gelu: { return gelu(z); }
    case ACT_sigmoid: { return sigmoid(z); }
    case ACT_elu: { return elu(z, p); }
    case ACT_softplus: { return softplus(z, p, SOFTPLUS_THRESHOLD); }
    default: { return z; }
  }
}

/** d activate(z) / dz, from z (the pre-activation). */
fn activate_grad(z: f32, act: u32, p: f32) -> f32 {
  switch act {
    // 1 at NaN, as torch's relu backward (it zeroes where z <= 0 only).
    case ACT_relu: { return select(select(0.0, 1.0, z > 0.0), 1.0, is_nan(z)); }
    case ACT_leakyRelu: { return select(p, 1.0, z > 0.0); }
    case ACT_silu: { let s = sigmoid(z); return s * (1.0 + z * (1.0 - s)); }
    case ACT_tanh: { let t = tanh_(z); return 1.0 - t * t; }
    case ACT_gelu: { return 0.5 * erfc_(-z * 0.7071067811865476) + z * exp(-0.5 * z * z) * 0.3989422804014327; }
    case ACT_sigmoid: { let s = sigmoid(z); return s * (1.0 - s); }
    // alpha e^z below 0.
    case ACT_elu: { return select(p * exp(z), 1.0, z > 0.0); }
    case ACT_softplus: { let bz = p * z; return select(sigmoid(bz), 1.0, bz > SOFTPLUS_THRESHOLD); }
    default: { return 1.0; }
  }
}
