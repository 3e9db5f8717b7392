// Counter-based random numbers: Philox 4x32-10 (Salmon et al., SC'11). Element group g (four
// values) is the hash of counter (offset + g, 0, 0, 0) under the 64-bit key `seed`, so a given
// seed and offset give the same numbers on any device and any dispatch shape.
const DIST_uniform = 0u;
const DIST_normal = 1u;

override DIST: u32 = 0u;
override WG: u32 = 256u;

struct Params {
  n: u32,
  seed_lo: u32,
  seed_hi: u32,
  offset: u32,
  // uniform: [p0, p1); normal: mean p0, std p1.
  p0: f32,
  p1: f32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

const PHILOX_M0 = 0xD2511F53u;
const PHILOX_M1 = 0xCD9E8D57u;
const PHILOX_W0 = 0x9E3779B9u;
const PHILOX_W1 = 0xBB67AE85u;

// The high and low 32 bits of a 32 x 32 -> 64-bit product, from 16-bit halves.
fn mulhilo(a: u32, b: u32) -> vec2u {
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let lo_lo = a_lo * b_lo;
  let hi_lo = a_hi * b_lo;
  let lo_hi = a_lo * b_hi;
  let hi_hi = a_hi * b_hi;
  let cross = (lo_lo >> 16u) + (hi_lo & 0xffffu) + (lo_hi & 0xffffu);
  let hi = hi_hi + (hi_lo >> 16u) + (lo_hi >> 16u) + (cross >> 16u);
  return vec2u(hi, a * b);
}

fn philox(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let p0 = mulhilo(PHILOX_M0, c.x);
    let p1 = mulhilo(PHILOX_M1, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2u(PHILOX_W0, PHILOX_W1);
  }
  return c;
}

// A uniform in the open interval (0, 1) from 24 random bits: k / 2^24 is exact in f32 (unlike
// (k + 0.5) / 2^24, which rounds to 1.0 for the top k), and k = 0 maps to 2^-25 so log(u) is finite.
fn to_unit(u: u32) -> f32 {
  return max(f32(u >> 8u) * (1.0 / 16777216.0), 1.0 / 33554432.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let i0 = g * 4u;
  if (i0 >= params.n) { return; }
  let r = philox(vec4u(params.offset + g, 0u, 0u, 0u), vec2u(params.seed_lo, params.seed_hi));
  let u = vec4f(to_unit(r.x), to_unit(r.y), to_unit(r.z), to_unit(r.w));
  var v: vec4f;
  if (DIST == DIST_normal) {
    // Box-Muller on two pairs.
    let r0 = sqrt(-2.0 * log(u.x));
    let r1 = sqrt(-2.0 * log(u.z));
    let t0 = 6.283185307179586 * u.y;
    let t1 = 6.283185307179586 * u.w;
    v = vec4f(r0 * cos(t0), r0 * sin(t0), r1 * cos(t1), r1 * sin(t1)) * params.p1 + params.p0;
  } else {
    v = params.p0 + u * (params.p1 - params.p0);
  }
  for (var j = 0u; j < 4u; j++) {
    if (i0 + j < params.n) { out[i0 + j] = v[j]; }
  }
}
