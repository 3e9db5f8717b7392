// preambles: philox.wgsl
// TorchEBM's 2-D toy datasets, one point per invocation, from Philox: row i draws its uniforms
// from counter (i, 0, 0, DATA), its normals from (i, 1, 0, DATA) (checkerboard's rejection
// attempts use (i, 2 + a, 0, DATA)), so the data is a pure function of (seed, n, options).
//
// Mixtures give component (slot % k) to the point in slot `slot`: TorchEBM's exact split
// (n / k each, one more for the first n % k components). Slots are a random permutation of the
// rows (a keyed Feistel network with cycle walking, a bijection on [0, n) computed per row), so
// the rows come shuffled, as TorchEBM's randperm leaves them, with no sort and no second pass.
const DS_gaussian_mixture = 0u;
const DS_eight_gaussians = 1u;
const DS_two_moons = 2u;
const DS_swiss_roll = 3u;
const DS_circle = 4u;
const DS_checkerboard = 5u;
const DS_pinwheel = 6u;
const DS_grid = 7u;

const DATA = 0xda7a5e7u;
const PI = 3.141592653589793;
const MAX_ATTEMPTS = 64u;

override DATASET: u32 = 0u;
override WG: u32 = 256u;

struct Params {
  n: u32,
  seed_lo: u32,
  seed_hi: u32,
  // Components / classes / points per side.
  k: u32,
  // Bits of the permutation's domain (even, >= 2); 0: rows are not shuffled.
  perm_bits: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  // Per-dataset floats (see src/train/datasets.ts for their order).
  a: f32,
  b: f32,
  c: f32,
  d: f32,
  noise: f32,
  _pad3: f32,
  _pad4: f32,
  _pad5: f32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

fn key() -> vec2u {
  return vec2u(params.seed_lo, params.seed_hi);
}

// Four Feistel rounds on a perm_bits-bit value (a bijection), round function from Philox.
fn feistel(v: u32) -> u32 {
  let half = params.perm_bits / 2u;
  let mask = (1u << half) - 1u;
  var l = v >> half;
  var r = v & mask;
  for (var round = 0u; round < 4u; round++) {
    let f = philox(vec4u(r, round, 0x9e3779b9u, DATA), key()).x & mask;
    let t = r;
    r = l ^ f;
    l = t;
  }
  return (l << half) | r;
}

// The slot of row i: cycle walking keeps the Feistel bijection inside [0, n). It ends because
// i's cycle under the bijection must come back to [0, n); 2^perm_bits < 4n, so ~2 walks on average.
fn slot_of(i: u32) -> u32 {
  if (params.perm_bits == 0u) { return i; }
  var v = feistel(i);
  loop {
    if (v < params.n) { break; }
    v = feistel(v);
  }
  return v;
}

fn on_circle(angle: f32, radius: f32) -> vec2f {
  return radius * vec2f(cos(angle), sin(angle));
}

// TorchEBM's eight centres, in its order, before scaling.
fn eight_centre(c: u32) -> vec2f {
  let s = 0.7071067811865476;
  switch c {
    case 0u: { return vec2f(1.0, 0.0); }
    case 1u: { return vec2f(-1.0, 0.0); }
    case 2u: { return vec2f(0.0, 1.0); }
    case 3u: { return vec2f(0.0, -1.0); }
    case 4u: { return vec2f(s, s); }
    case 5u: { return vec2f(s, -s); }
    case 6u: { return vec2f(-s, s); }
    default: { return vec2f(-s, -s); }
  }
}

// torch.linspace(-lim, lim, m)[j].
fn grid_coord(j: u32, m: u32, lim: f32) -> f32 {
  if (m < 2u) { return -lim; }
  return -lim + 2.0 * lim * f32(j) / f32(m - 1u);
}

// Rejection sampling as TorchEBM: uniform in [-lim, lim]^2, kept where floor(x) + floor(y) is
// odd; two candidates per Philox call.
fn checkerboard(i: u32, lim: f32) -> vec2f {
  var last = vec2f(0.0);
  for (var a = 0u; a < MAX_ATTEMPTS; a++) {
    let u = philox_uniform4(vec4u(i, 2u + a, 0u, DATA), key());
    var cands = array<vec2f, 2>(u.xy, u.zw);
    for (var j = 0u; j < 2u; j++) {
      let p = -lim + 2.0 * lim * cands[j];
      let cell = i32(floor(p.x)) + i32(floor(p.y));
      if ((cell & 1) != 0) { return p; }
      last = p;
    }
  }
  // 2^-128 likely: unreachable in practice.
  return last;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let slot = slot_of(i);
  let u = philox_uniform4(vec4u(i, 0u, 0u, DATA), key());
  let z = philox_normal4(vec4u(i, 1u, 0u, DATA), key());
  let k = params.k;
  var p: vec2f;
  switch DATASET {
    // a = radius
    case DS_gaussian_mixture: {
      p = on_circle(2.0 * PI * f32(slot % k) / f32(k), params.a);
    }
    // a = scale
    case DS_eight_gaussians: {
      p = params.a * eight_centre(slot % 8u);
    }
    // The first n / 2 slots on the upper moon, the rest on the lower, evenly in angle.
    case DS_two_moons: {
      let n_out = params.n / 2u;
      if (slot < n_out) {
        let t = PI * f32(slot) / f32(max(n_out, 2u) - 1u);
        p = vec2f(cos(t), sin(t));
      } else {
        let n_in = params.n - n_out;
        let t = PI * f32(slot - n_out) / f32(max(n_in, 2u) - 1u);
        p = vec2f(1.0 - cos(t), 1.0 - sin(t) - 0.5);
      }
    }
    // a = arclength; the centring and scaling over the whole set follow in TS.
    case DS_swiss_roll: {
      let t = params.a * PI * (1.0 + 2.0 * u.x);
      p = on_circle(t, t);
    }
    // a = radius
    case DS_circle: {
      p = on_circle(2.0 * PI * u.x, params.a);
    }
    // a = range limit
    case DS_checkerboard: {
      p = checkerboard(i, params.a);
    }
    // a = radial scale, b = angular scale, c = spiral scale; z.z is the angle's noise.
    case DS_pinwheel: {
      let t = sqrt(u.x);
      let theta = f32(slot % k) * (2.0 * PI / f32(k)) + params.c * t + params.b * z.z;
      p = on_circle(theta, t * params.a);
    }
    // a = range limit; k points per side, meshgrid 'ij' order by slot.
    default: {
      p = vec2f(grid_coord(slot / k, k, params.a), grid_coord(slot % k, k, params.a));
    }
  }
  p += params.noise * z.xy;
  out[2u * i] = p.x;
  out[2u * i + 1u] = p.y;
}
