// preambles: philox.wgsl
// Metropolis-adjusted Langevin (MALA) and replica exchange (parallel tempering), on the GPU from
// the proposal's noise to the accept and swap decisions. Every chain c has an inverse
// temperature beta[c] (1 for plain MALA) and targets exp(-beta E):
//   propose   xp = x - h beta grad(x) + sqrt(2h) eps
//   langevin  x  = x - h beta grad(x) + sqrt(2h) eps           (in place: unadjusted chains)
//   accept    log a = -beta (E(xp) - E(x)) - (|x - xp + h beta grad(xp)|^2 - |xp - x + h beta grad(x)|^2) / (4h)
//             keep xp (with its gradient and energy) when log u < log a
//   swap      replicas r and r + 1 of column c (rows r C + c, (r + 1) C + c) exchange states
//             when log u < (beta_r - beta_{r+1}) (E_r - E_{r+1}); pairs (r, r + 1) with
//             r = parity (mod 2), so no row is in two pairs of one dispatch
// with the energy's own gradient and forward dispatches in between. The chain table and its
// accept counts have HMC's layout (shaders/hmc.wgsl), so the diagnostics are read alike.
//
// All entry points share one binding layout; an entry that does not use a binding gets the
// sampler's own buffers or the runtime's placeholders there.
//
// Over the binding limit (src/kernels/mala.ts) each dispatch runs a block of chains: x, grad,
// xp, grad_p, beta and energy_p are windows whose local chain 0 is global chain `base` (plus
// the shifts xs, cs the swap's unaligned windows start early by), and `chain` is a compact copy
// [rows, chains] of the block's columns. Philox is keyed by the global chain and element, so a
// split run draws the same numbers as an unsplit one.
const STREAM_PROPOSAL = 3u;
const STREAM_ACCEPT = 4u;
const STREAM_SWAP = 5u;

override WG: u32 = 256u;

struct Params {
  // Elements (chains * dim), dims per chain, chains (all replicas), the step (Philox counter word 1).
  n: u32,
  dim: u32,
  chains: u32,
  step: u32,
  seed_lo: u32,
  seed_hi: u32,
  h: f32,
  // swap: chains per replica, replicas, which neighbours pair up (0: (0,1), (2,3)..; 1: (1,2)..).
  columns: u32,
  replicas: u32,
  parity: u32,
  // The global chain of this dispatch's local chain 0 (0 unless split).
  base: u32,
  // swap: the first global pair of this dispatch and how many pairs it runs; how many elements
  // (of x, grad) and chains (of beta) the bound windows start before local chain 0.
  pair0: u32,
  pairs: u32,
  xs: u32,
  cs: u32,
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;
// [3, chains]: the energy at x, whether the last proposal was accepted (0/1), accept counts;
// tempering adds a row [4, chains]: accepted swaps of rows r C + c and (r + 1) C + c, at the first.
@group(0) @binding(2) var<storage, read_write> chain: array<f32>;
@group(0) @binding(3) var<storage, read_write> xp: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
// The gradient and energy at the proposal xp.
@group(0) @binding(5) var<storage, read> grad_p: array<f32>;
@group(0) @binding(6) var<storage, read> energy_p: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

fn key() -> vec2u {
  return vec2u(params.seed_lo, params.seed_hi);
}

// x - h beta grad + sqrt(2h) eps for the four elements from i0 (the proposal, or the Langevin step).
fn langevin4(g: u32) -> vec4f {
  // base * dim is a multiple of 4 (blocks start on aligned chains): g's global group of four.
  let eps = philox_normal4(vec4u(g + params.base * params.dim / 4u, params.step, STREAM_PROPOSAL, 0u), key());
  let s = sqrt(2.0 * params.h);
  var out = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    let i = g * 4u + j;
    if (i >= params.n) { break; }
    out[j] = x[i] - params.h * beta[i / params.dim] * grad[i] + s * eps[j];
  }
  return out;
}

@compute @workgroup_size(WG)
fn propose(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g * 4u >= params.n) { return; }
  let v = langevin4(g);
  for (var j = 0u; j < 4u; j++) {
    let i = g * 4u + j;
    if (i >= params.n) { break; }
    xp[i] = v[j];
  }
}

@compute @workgroup_size(WG)
fn langevin(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g * 4u >= params.n) { return; }
  let v = langevin4(g);
  for (var j = 0u; j < 4u; j++) {
    let i = g * 4u + j;
    if (i >= params.n) { break; }
    x[i] = v[j];
  }
}

// The Metropolis decision of chain c from its squared proposal residuals (forward, reverse):
// updates the chain table, returns whether xp is taken.
fn decide(c: u32, q: vec2f) -> bool {
  let log_a = -beta[c] * (energy_p[c] - chain[c]) - (q.y - q.x) / (4.0 * params.h);
  let u = philox_uniform_at(c + params.base, params.step, STREAM_ACCEPT, 0u, key());
  // A NaN energy or residual compares false: rejected.
  let ok = log(u) < log_a;
  chain[params.chains + c] = select(0.0, 1.0, ok);
  if (ok) {
    chain[c] = energy_p[c];
    chain[2u * params.chains + c] += 1.0;
  }
  return ok;
}

// (forward, reverse) squared residuals of element e: |xp - x + h beta grad(x)|^2 and
// |x - xp + h beta grad(xp)|^2 summed over a chain are the proposal densities' exponents.
fn residuals(e: u32, hb: f32) -> vec2f {
  let d = xp[e] - x[e];
  let fwd = d + hb * grad[e];
  let rev = -d + hb * grad_p[e];
  return vec2f(fwd * fwd, rev * rev);
}

// The exchange decision of local rows a < b (pair of replicas r, r + 1): swaps their energies
// and counts the swap; returns whether the states are to be swapped.
fn exchange(a: u32, b: u32) -> bool {
  let log_a = (beta[params.cs + a] - beta[params.cs + b]) * (chain[a] - chain[b]);
  let u = philox_uniform_at(a + params.base, params.step, STREAM_SWAP, 0u, key());
  let ok = log(u) < log_a;
  if (ok) {
    let e = chain[a];
    chain[a] = chain[b];
    chain[b] = e;
    chain[3u * params.chains + a] += 1.0;
  }
  return ok;
}

fn swap_element(a: u32, b: u32, j: u32) {
  let ia = params.xs + a * params.dim + j;
  let ib = params.xs + b * params.dim + j;
  let xa = x[ia];
  x[ia] = x[ib];
  x[ib] = xa;
  let ga = grad[ia];
  grad[ia] = grad[ib];
  grad[ib] = ga;
}

// Local rows of this dispatch's pair w of the round (columns-major within the pair index), or
// none past the ladder or the dispatch's pairs.
fn pair_rows(w: u32) -> vec3u {
  let g = w + params.pair0;
  let col = g % params.columns;
  let r = 2u * (g / params.columns) + params.parity;
  let a = r * params.columns + col - params.base;
  return vec3u(a, a + params.columns, select(0u, 1u, r + 1u < params.replicas && w < params.pairs));
}

// Small chains (dim <= 64): one thread per chain (or pair) walks its elements, no barriers.
@compute @workgroup_size(WG)
fn accept_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = gid.x + gid.y * nwg.x * WG;
  if (c >= params.chains) { return; }
  let base = c * params.dim;
  let hb = params.h * beta[c];
  var q = vec2f(0.0);
  for (var j = 0u; j < params.dim; j++) { q += residuals(base + j, hb); }
  if (decide(c, q)) {
    for (var j = 0u; j < params.dim; j++) {
      x[base + j] = xp[base + j];
      grad[base + j] = grad_p[base + j];
    }
  }
}

@compute @workgroup_size(WG)
fn swap_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = pair_rows(gid.x + gid.y * nwg.x * WG);
  if (p.z == 0u) { return; }
  if (exchange(p.x, p.y)) {
    for (var j = 0u; j < params.dim; j++) { swap_element(p.x, p.y, j); }
  }
}

// Large chains: one workgroup per chain (or pair), WG a power of two up to 64; the threads sum
// the residuals, thread 0 decides, all copy.
var<workgroup> partial: array<vec2f, 64>;
var<workgroup> taken: u32;

@compute @workgroup_size(WG)
fn accept(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = wid.x + wid.y * nwg.x;
  // c is the same for the whole workgroup, so this return keeps the barriers uniform.
  if (c >= params.chains) { return; }
  let base = c * params.dim;
  let hb = params.h * beta[c];
  var q = vec2f(0.0);
  for (var j = lid; j < params.dim; j += WG) { q += residuals(base + j, hb); }
  partial[lid] = q;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { taken = select(0u, 1u, decide(c, partial[0])); }
  let accepted = workgroupUniformLoad(&taken);
  if (accepted == 1u) {
    for (var j = lid; j < params.dim; j += WG) {
      x[base + j] = xp[base + j];
      grad[base + j] = grad_p[base + j];
    }
  }
}

@compute @workgroup_size(WG)
fn swap(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = pair_rows(wid.x + wid.y * nwg.x);
  // Uniform over the workgroup: the barrier below stays uniform.
  if (p.z == 0u) { return; }
  if (lid == 0u) { taken = select(0u, 1u, exchange(p.x, p.y)); }
  let accepted = workgroupUniformLoad(&taken);
  if (accepted == 1u) {
    for (var j = lid; j < params.dim; j += WG) { swap_element(p.x, p.y, j); }
  }
}
