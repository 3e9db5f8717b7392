// preambles: philox.wgsl
// Hamiltonian Monte Carlo, on the GPU from momentum to Metropolis decision. One HMC step is
//   begin   p = sqrt(m) eps - (h/2) grad(x);  xp = x + h p / m
//   leap    p -= h grad(xp);  xp += h p / m               (between gradient evaluations)
//   accept  p -= (h/2) grad(xp); H = E + |p|^2 / 2m; keep xp with probability min(1, e^-dH)
// with the energy's own gradient and forward dispatches in between. The momentum is never
// stored for the kinetic energy of the start: accept regenerates eps from its Philox counter.
// The chain state (x, its gradient and its energy) is kept consistent on acceptance, so the
// next step starts from a cached gradient and energy.
//
// All entry points share one binding layout; an entry that does not use a binding gets the
// sampler's own buffers or the runtime's placeholders there.
//
// Over the binding limit (src/kernels/hmc.ts) each dispatch runs a block of chains: the
// [chains, dim] buffers and energy_p are windows whose local chain 0 is global chain `base`,
// and `chain` is a compact copy [3, chains] of the block's columns. Philox is keyed by the
// global chain and element, so a split run draws the same numbers as an unsplit one.
const STREAM_MOMENTUM = 1u;
const STREAM_ACCEPT = 2u;

override WG: u32 = 256u;

struct Params {
  // Elements (chains * dim), dims per chain, chains, the step (Philox counter word 1).
  n: u32,
  dim: u32,
  chains: u32,
  step: u32,
  seed_lo: u32,
  seed_hi: u32,
  h: f32,
  mass: f32,
  // The global chain of this dispatch's local chain 0 (0 unless split; base * dim % 4 == 0).
  base: u32,
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
// [3, chains]: the energy of x, whether the last proposal was accepted (0/1), accept counts.
@group(0) @binding(2) var<storage, read_write> chain: array<f32>;
@group(0) @binding(3) var<storage, read_write> xp: array<f32>;
@group(0) @binding(4) var<storage, read_write> p: array<f32>;
// The gradient and energy at the proposal xp.
@group(0) @binding(5) var<storage, read> grad_p: array<f32>;
@group(0) @binding(6) var<storage, read> energy_p: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

fn key() -> vec2u {
  return vec2u(params.seed_lo, params.seed_hi);
}

@compute @workgroup_size(WG)
fn begin(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  let i0 = g * 4u;
  if (i0 >= params.n) { return; }
  let eps = philox_normal4(vec4u(g + params.base * params.dim / 4u, params.step, STREAM_MOMENTUM, 0u), key());
  let sqrt_m = sqrt(params.mass);
  for (var j = 0u; j < 4u; j++) {
    let i = i0 + j;
    if (i >= params.n) { break; }
    let pi = sqrt_m * eps[j] - 0.5 * params.h * grad[i];
    p[i] = pi;
    xp[i] = x[i] + params.h * pi / params.mass;
  }
}

@compute @workgroup_size(WG)
fn leap(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= params.n) { return; }
  let pi = p[i] - params.h * grad_p[i];
  p[i] = pi;
  xp[i] = xp[i] + params.h * pi / params.mass;
}

// accept runs one workgroup per chain (WG a power of two, at most 64): the threads sum the two
// kinetic energies over the chain's dims, thread 0 decides, and all copy the proposal if taken.
var<workgroup> kinetic: array<vec2f, 64>;
var<workgroup> taken: u32;

@compute @workgroup_size(WG)
fn accept(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = wid.x + wid.y * nwg.x;
  // c is the same for the whole workgroup, so this return keeps the barriers uniform.
  if (c >= params.chains) { return; }
  let base = c * params.dim;
  var k = vec2f(0.0);
  for (var j = lid; j < params.dim; j += WG) {
    let e = base + j;
    let eps = philox_normal_at(e + params.base * params.dim, params.step, STREAM_MOMENTUM, 0u, key());
    let pf = p[e] - 0.5 * params.h * grad_p[e];
    // sqrt(m) eps is the starting momentum: its kinetic energy is eps^2 / 2.
    k += vec2f(eps * eps, pf * pf / params.mass);
  }
  kinetic[lid] = k;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { kinetic[lid] += kinetic[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let h_old = chain[c] + 0.5 * kinetic[0].x;
    let h_new = energy_p[c] + 0.5 * kinetic[0].y;
    let u = philox_uniform_at(c + params.base, params.step, STREAM_ACCEPT, 0u, key());
    // log u < H_old - H_new is u < min(1, exp(-dH)); a NaN energy compares false: rejected.
    let ok = log(u) < h_old - h_new;
    chain[params.chains + c] = select(0.0, 1.0, ok);
    if (ok) {
      chain[c] = energy_p[c];
      chain[2u * params.chains + c] += 1.0;
    }
    taken = select(0u, 1u, ok);
  }
  let accepted = workgroupUniformLoad(&taken);
  if (accepted == 1u) {
    for (var j = lid; j < params.dim; j += WG) {
      x[base + j] = xp[base + j];
      grad[base + j] = grad_p[base + j];
    }
  }
}
