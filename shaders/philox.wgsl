// Philox 4x32-10 (Salmon et al., SC'11) as a preamble for kernels that draw their own random
// numbers in the same dispatch as the work that uses them (the Langevin and HMC steps, the
// dataset generators). Same rounds, constants and word-to-float maps as random.wgsl, so a
// stream here equals ebm.rand / ebm.randn wherever the counters agree: element e of a stream is
// lane e % 4 of philox(counter (e / 4, c1, c2, c3), key), and randn's counter is (e / 4, 0, 0, 0).

const PHILOX_M0 = 0xD2511F53u;
const PHILOX_M1 = 0xCD9E8D57u;
const PHILOX_W0 = 0x9E3779B9u;
const PHILOX_W1 = 0xBB67AE85u;
const TWO_PI = 6.283185307179586;

// The high and low 32 bits of a 32 x 32 -> 64-bit product, from 16-bit halves.
fn philox_mulhilo(a: u32, b: u32) -> vec2u {
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
    let p0 = philox_mulhilo(PHILOX_M0, c.x);
    let p1 = philox_mulhilo(PHILOX_M1, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2u(PHILOX_W0, PHILOX_W1);
  }
  return c;
}

// A uniform in the open interval (0, 1) from 24 random bits (random.wgsl's map: exact in f32,
// never 1, and never 0 so log(u) is finite).
fn philox_unit(u: u32) -> f32 {
  return max(f32(u >> 8u) * (1.0 / 16777216.0), 1.0 / 33554432.0);
}

fn philox_uniform4(counter: vec4u, key: vec2u) -> vec4f {
  let r = philox(counter, key);
  return vec4f(philox_unit(r.x), philox_unit(r.y), philox_unit(r.z), philox_unit(r.w));
}

// Four standard normals: Box-Muller on the pairs (x, y) and (z, w), as randn does.
fn philox_normal4(counter: vec4u, key: vec2u) -> vec4f {
  let u = philox_uniform4(counter, key);
  let r0 = sqrt(-2.0 * log(u.x));
  let r1 = sqrt(-2.0 * log(u.z));
  let t0 = TWO_PI * u.y;
  let t1 = TWO_PI * u.w;
  return vec4f(r0 * cos(t0), r0 * sin(t0), r1 * cos(t1), r1 * sin(t1));
}

// Element e of a normal stream alone (for kernels that walk elements in another order than
// groups of four): lane e % 4 of its group's Box-Muller.
fn philox_normal_at(e: u32, c1: u32, c2: u32, c3: u32, key: vec2u) -> f32 {
  return philox_normal4(vec4u(e >> 2u, c1, c2, c3), key)[e & 3u];
}

fn philox_uniform_at(e: u32, c1: u32, c2: u32, c3: u32, key: vec2u) -> f32 {
  return philox_uniform4(vec4u(e >> 2u, c1, c2, c3), key)[e & 3u];
}
