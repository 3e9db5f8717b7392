// Elementwise binary ops with NumPy broadcasting. Broadcasting is expressed as strides (0 on
// a broadcast dim) so the inputs are never materialised at the output's shape. One operand may
// be a scalar held in the uniform block instead of a buffer.
const OP_add = 0u;
const OP_sub = 1u;
const OP_mul = 2u;
const OP_div = 3u;
const OP_pow = 4u;
const OP_maximum = 5u;
const OP_minimum = 6u;
const OP_eq = 7u;
const OP_ne = 8u;
const OP_lt = 9u;
const OP_le = 10u;
const OP_gt = 11u;
const OP_ge = 12u;

override OP: u32 = 0u;
override WG: u32 = 256u;
// false: both operands have the output's shape, contiguous (no index arithmetic needed).
override BROADCAST: bool = true;
// 0: a and b are buffers; 1: a is params.scalar; 2: b is params.scalar.
override SCALAR: u32 = 0u;

struct Params {
  n: u32,
  rank: u32,
  scalar: f32,
  // A dispatch over a window of a buffer larger than one binding (binding-window.ts): the
  // output index of element 0 (broadcast indices are computed from it), and how far each
  // operand's binding starts into its buffer, in elements.
  base: u32,
  a_base: u32,
  b_base: u32,
  _pad0: u32,
  _pad1: u32,
  shape: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// NaN and infinity cannot be WGSL constants; bit patterns in private vars are evaluated at run time.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
fn nan() -> f32 { return bitcast<f32>(NAN_BITS); }
fn inf() -> f32 { return bitcast<f32>(INF_BITS); }
// WGSL lets compilers assume floats are never NaN, so `x != x` may fold to false (lavapipe
// does fold it, and may rewrite comparisons); NaN is tested on the bits.
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

// pow with PyTorch's semantics: a negative base is defined for integral exponents. Small
// integral and half exponents take exact paths instead of exp2(e * log2(x)).
fn pow_(x: f32, e: f32) -> f32 {
  if (e == 0.0) { return 1.0; }
  if (e == 1.0) { return x; }
  if (e == 2.0) { return x * x; }
  if (e == 3.0) { return x * x * x; }
  if (e == 0.5) { return sqrt(x); }
  if (e == -1.0) { return 1.0 / x; }
  if (x == 0.0) { return select(0.0, inf(), e < 0.0); }
  let r = exp2(e * log2(abs(x)));
  if (x > 0.0) { return r; }
  if (fract(e) != 0.0) { return nan(); }
  return select(r, -r, fract(e * 0.5) != 0.0);
}

fn apply(x: f32, y: f32) -> f32 {
  switch OP {
    case OP_add: { return x + y; }
    case OP_sub: { return x - y; }
    case OP_mul: { return x * y; }
    case OP_div: { return x / y; }
    case OP_pow: { return pow_(x, y); }
    // NaN-propagating, like torch.maximum.
    case OP_maximum: { if (is_nan(x) || is_nan(y)) { return nan(); } return max(x, y); }
    case OP_minimum: { if (is_nan(x) || is_nan(y)) { return nan(); } return min(x, y); }
    default: { return nan(); }
  }
}

// Comparisons are IEEE's: with a NaN operand only ne is true. Tested explicitly, since a
// compiler assuming no NaN may rewrite x < y as !(x >= y).
fn compare(x: f32, y: f32) -> f32 {
  if (is_nan(x) || is_nan(y)) { return select(0.0, 1.0, OP == OP_ne); }
  switch OP {
    case OP_eq: { return select(0.0, 1.0, x == y); }
    case OP_ne: { return select(0.0, 1.0, x != y); }
    case OP_lt: { return select(0.0, 1.0, x < y); }
    case OP_le: { return select(0.0, 1.0, x <= y); }
    case OP_gt: { return select(0.0, 1.0, x > y); }
    case OP_ge: { return select(0.0, 1.0, x >= y); }
    default: { return nan(); }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  var ai = i;
  var bi = i;
  if (BROADCAST) {
    // u32 sums wrap, so subtracting the window's start last is exact.
    ai = 0u - params.a_base;
    bi = 0u - params.b_base;
    var rem = i + params.base;
    for (var d = i32(params.rank) - 1; d >= 0; d--) {
      let size = params.shape[d / 4][d % 4];
      let c = rem % size;
      rem = rem / size;
      ai += c * params.a_strides[d / 4][d % 4];
      bi += c * params.b_strides[d / 4][d % 4];
    }
  }
  var x = params.scalar;
  var y = params.scalar;
  if (SCALAR != 1u) { x = a[ai]; }
  if (SCALAR != 2u) { y = b[bi]; }
  if (OP >= OP_eq) { out[i] = compare(x, y); } else { out[i] = apply(x, y); }
}
