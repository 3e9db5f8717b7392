// preambles: subgroups.wgsl+philox.wgsl+activations.wgsl
// Fused Langevin sampling for MLP energies: E(x) = w_out . h_L + b_out, with
// h_l = act_l(W_l h_{l-1} + b_l), h_0 = x. ONE dispatch runs params.steps Langevin steps of a
// block of chains, each step being the forward pass through every hidden layer, the backward
// pass dE/dx = W_1^T (act_1'(z_1) * W_2^T (... act_L'(z_L) * w_out)) and the update
//   x <- clamp(x - h grad + sigma eps),   sigma = noise_scale sqrt(2h)
// with exactly langevin.wgsl's noise: element e (= chain * dim + i) at step t is lane e % 4 of
// philox_normal4((e / 4, t, STREAM_LANGEVIN, 0), key), so a chain here is the chain of the
// general path (energy.gradient + langevin.wgsl) up to the f32 round-off of the gradient.
//
// Mapping: one invocation per chain. Chains are independent, so a dispatch loops over its
// steps without synchronising with anything. Every lane needs every weight, so the 8 lanes of a
// group (a subgroup of 8, or an eighth of a wider one) share the loads: each loads one vec4 of
// a tile and subgroupShuffle hands it round. On lavapipe a shuffle is a register permute, while
// every storage or indexed private access is a gather costing about as much as 20 vec4 FMAs,
// whether or not the lanes share the address. The tiles (per lane):
//   forward  z[32 rows] += W[32 rows, i4] . h[i4]: 4 weight loads, 32 shuffles and 1
//            activation read per 128 multiply-adds, the 32 row sums in registers;
//   backward g[32 inputs] += W[4 rows, 32 inputs]^T d[4 rows]: the same per 128.
// A chain's state and dE/dx live in small private arrays. Its activations (ping-pong halves A
// and B) and every hidden layer's act'(z) (kept for the backward pass) live in a scratch
// storage buffer, one column per invocation, interleaved so that neighbouring lanes touch
// neighbouring words (coalesced on a GPU): word k of column j is scratch[k * stride + j].
// Large private arrays would cost the same per access on lavapipe, but its compile time grows
// with the square of their size (20 s for this kernel's). No workgroup memory, no barriers;
// control flow is uniform wherever lanes shuffle: lanes past the last chain recompute the last
// chain in their own scratch column and store nothing.
//
// The packed weights (array<vec4f>; offsets in vec4 units, written by the wrapper):
//   layer 0:   W_0 [rows_0, dim] row-major (read as scalars through wts1), bias [rows_0]
//   layer l>0: W_l [rows_l, in4_l * 4] row-major, bias [rows_l]
//   w_out:     [rows_L] (the output layer's weight; its bias does not reach the gradient)
// rows_l (= in4_{l+1} * 4) is out_l rounded up to 32 with zero rows, zero bias and zero
// columns in the next layer, so padded units carry zeros through both passes.
const STREAM_LANGEVIN = 0u;

// Limits (the TS side checks a model against them before choosing this kernel; widths and
// depth bound the uniform block and the scratch the wrapper allocates).
const MAX_DIM = 16u;      // elements per chain
const MAX_STEPS = 64u;    // steps per dispatch (the (h, sigma) table)

override WG: u32 = 64u;
// The subgroup is exactly 8 lanes (lavapipe): shuffle by constant lane indices.
override SUBGROUP8: bool = false;

struct Params {
  // Chains this dispatch runs (from chain0).
  chains: u32,
  dim: u32,
  n_layers: u32,
  steps: u32,
  // The Philox counter word of this dispatch's first step (the call's step index).
  step0: u32,
  seed_lo: u32,
  seed_hi: u32,
  // Offset of w_out.
  w_out: u32,
  lo: f32,
  hi: f32,
  // Bit 0: clamp below at lo; bit 1: clamp above at hi.
  clamp: u32,
  // Scratch vec4s between consecutive vec4s of one column (the dispatch's invocation count).
  stride: u32,
  // Per hidden layer: (in: dim for layer 0, else in4; rows / 32; weight offset; bias offset).
  layers: array<vec4u, 4>,
  // Per hidden layer: where its act'(z) starts in a scratch column (vec4s).
  dact_at: vec4u,
  // Where half B of the activations starts (half A at 0).
  half_b: u32,
  // This dispatch runs chains chain0 .. chain0 + chains - 1.
  chain0: u32,
  _pad1: u32,
  _pad2: u32,
  acts: vec4u,
  act_params: vec4f,
  // (h, sigma) of step s at hs[s / 2].xy (s even) or .zw (s odd).
  hs: array<vec4f, MAX_STEPS / 2u>,
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> wts: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> scratch: array<vec4f>;
@group(0) @binding(3) var<uniform> params: Params;
// The packed weights again, word by word (layer 0's rows are dim words long).
@group(0) @binding(4) var<storage, read> wts1: array<f32>;

// The chain's state and dE/dx.
var<private> xs: array<f32, MAX_DIM>;
var<private> gx: array<f32, MAX_DIM>;

// This lane's index in its group of 8, and the group's first lane in the subgroup.
var<private> lane8: u32;
var<private> group8: u32;
// This invocation's scratch column.
var<private> col: u32;

// Word k of this chain's scratch.
fn at(k: u32) -> u32 {
  return k * params.stride + col;
}

// Lane r's value of v, within this lane's group of 8.
fn sh(v: vec4f, r: u32) -> vec4f {
  if (SUBGROUP8) { return subgroupShuffle(v, r); }
  return subgroupShuffle(v, group8 + r);
}

// Lane q's m0 .. m3, as the columns of a matrix.
fn sh4(m0: vec4f, m1: vec4f, m2: vec4f, m3: vec4f, q: u32) -> mat4x4f {
  return mat4x4f(sh(m0, q), sh(m1, q), sh(m2, q), sh(m3, q));
}

fn act4(z: vec4f, act: u32, p: f32) -> vec4f {
  return vec4f(activate(z.x, act, p), activate(z.y, act, p), activate(z.z, act, p), activate(z.w, act, p));
}

fn act_grad4(z: vec4f, act: u32, p: f32) -> vec4f {
  return vec4f(activate_grad(z.x, act, p), activate_grad(z.y, act, p), activate_grad(z.z, act, p), activate_grad(z.w, act, p));
}

// h = act(z) in place on the n4 vec4s at base, and act'(z) into layer l's dact.
fn activate_layer(base: u32, l: u32, n4: u32) {
  let act = params.acts[l];
  let act_param = params.act_params[l];
  let d = params.dact_at[l];
  for (var j4 = 0u; j4 < n4; j4++) {
    let z = scratch[at(base + j4)];
    scratch[at(d + j4)] = act_grad4(z, act, act_param);
    scratch[at(base + j4)] = act4(z, act, act_param);
  }
}

// Layer 0's weights W_0[row0 .. row0 + 3, i] (dim words per row, starting at word base).
fn w0_col(base: u32, row0: u32, i: u32, dim: u32) -> vec4f {
  let r = base + row0 * dim + i;
  return vec4f(wts1[r], wts1[r + dim], wts1[r + 2u * dim], wts1[r + 3u * dim]);
}

// z = W_0 x + b_0, 32 rows at a time, into half A: this lane loads rows jb * 32 + lane8 * 4 + k
// of each input's column, the group shares them.
fn forward0() {
  let l0 = params.layers[0];
  let dim = params.dim;
  let w0 = l0.z * 4u;
  for (var jb = 0u; jb < l0.y; jb++) {
    let bias = wts[l0.w + jb * 8u + lane8];
    var a0 = sh(bias, 0u); var a1 = sh(bias, 1u); var a2 = sh(bias, 2u); var a3 = sh(bias, 3u);
    var a4 = sh(bias, 4u); var a5 = sh(bias, 5u); var a6 = sh(bias, 6u); var a7 = sh(bias, 7u);
    for (var i = 0u; i < dim; i++) {
      let c = w0_col(w0, jb * 32u + lane8 * 4u, i, dim);
      let xi = xs[i];
      a0 += xi * sh(c, 0u); a1 += xi * sh(c, 1u); a2 += xi * sh(c, 2u); a3 += xi * sh(c, 3u);
      a4 += xi * sh(c, 4u); a5 += xi * sh(c, 5u); a6 += xi * sh(c, 6u); a7 += xi * sh(c, 7u);
    }
    let n = jb * 8u;
    scratch[at(n)] = a0; scratch[at(n + 1u)] = a1; scratch[at(n + 2u)] = a2; scratch[at(n + 3u)] = a3;
    scratch[at(n + 4u)] = a4; scratch[at(n + 5u)] = a5; scratch[at(n + 6u)] = a6; scratch[at(n + 7u)] = a7;
  }
}

// Layer l >= 1: z = W_l h + b_l from the half at cur into the half at nxt, 32 rows per pass over
// the input: this lane loads rows jb * 32 + lane8 * 4 + k of each vec4 column, the group shares
// them, and h . S_q (S_q: lane q's four rows) adds rows 4q .. 4q + 3.
fn forward(l: u32, cur: u32, nxt: u32) {
  let ly = params.layers[l];
  let in4 = ly.x;
  for (var jb = 0u; jb < ly.y; jb++) {
    let bias = wts[ly.w + jb * 8u + lane8];
    var a0 = sh(bias, 0u); var a1 = sh(bias, 1u); var a2 = sh(bias, 2u); var a3 = sh(bias, 3u);
    var a4 = sh(bias, 4u); var a5 = sh(bias, 5u); var a6 = sh(bias, 6u); var a7 = sh(bias, 7u);
    let r0 = ly.z + (jb * 32u + lane8 * 4u) * in4;
    for (var i4 = 0u; i4 < in4; i4++) {
      let h = scratch[at(cur + i4)];
      let m0 = wts[r0 + i4];
      let m1 = wts[r0 + in4 + i4];
      let m2 = wts[r0 + 2u * in4 + i4];
      let m3 = wts[r0 + 3u * in4 + i4];
      a0 += h * sh4(m0, m1, m2, m3, 0u); a1 += h * sh4(m0, m1, m2, m3, 1u);
      a2 += h * sh4(m0, m1, m2, m3, 2u); a3 += h * sh4(m0, m1, m2, m3, 3u);
      a4 += h * sh4(m0, m1, m2, m3, 4u); a5 += h * sh4(m0, m1, m2, m3, 5u);
      a6 += h * sh4(m0, m1, m2, m3, 6u); a7 += h * sh4(m0, m1, m2, m3, 7u);
    }
    let n = nxt + jb * 8u;
    scratch[at(n)] = a0; scratch[at(n + 1u)] = a1; scratch[at(n + 2u)] = a2; scratch[at(n + 3u)] = a3;
    scratch[at(n + 4u)] = a4; scratch[at(n + 5u)] = a5; scratch[at(n + 6u)] = a6; scratch[at(n + 7u)] = a7;
  }
}

// d_L = w_out * act_L'(z_L) into the half at cur.
fn backward_top(top: u32, cur: u32) {
  let d = params.dact_at[top];
  for (var jb = 0u; jb < params.layers[top].y; jb++) {
    let w = wts[params.w_out + jb * 8u + lane8];
    for (var q = 0u; q < 8u; q++) {
      let o = jb * 8u + q;
      scratch[at(cur + o)] = sh(w, q) * scratch[at(d + o)];
    }
  }
}

// d_{l-1} = (W_l^T d_l) * act_{l-1}'(z_{l-1}) from the half at cur into the half at nxt, 32
// inputs per pass over the rows: this lane loads input vec4 kb * 8 + lane8 of rows 4 j4 + k,
// and S_q d (S_q: lane q's four row pieces) adds to inputs 4q .. 4q + 3.
fn backward(l: u32, cur: u32, nxt: u32) {
  let ly = params.layers[l];
  let in4 = ly.x;
  let n4 = ly.y * 8u;
  for (var kb = 0u; kb < in4 / 8u; kb++) {
    var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
    var a4 = vec4f(0.0); var a5 = vec4f(0.0); var a6 = vec4f(0.0); var a7 = vec4f(0.0);
    let c0 = ly.z + kb * 8u + lane8;
    for (var j4 = 0u; j4 < n4; j4++) {
      let d = scratch[at(cur + j4)];
      let r = c0 + j4 * 4u * in4;
      let m0 = wts[r];
      let m1 = wts[r + in4];
      let m2 = wts[r + 2u * in4];
      let m3 = wts[r + 3u * in4];
      a0 += sh4(m0, m1, m2, m3, 0u) * d; a1 += sh4(m0, m1, m2, m3, 1u) * d;
      a2 += sh4(m0, m1, m2, m3, 2u) * d; a3 += sh4(m0, m1, m2, m3, 3u) * d;
      a4 += sh4(m0, m1, m2, m3, 4u) * d; a5 += sh4(m0, m1, m2, m3, 5u) * d;
      a6 += sh4(m0, m1, m2, m3, 6u) * d; a7 += sh4(m0, m1, m2, m3, 7u) * d;
    }
    let n = nxt + kb * 8u;
    let g = params.dact_at[l - 1u] + kb * 8u;
    scratch[at(n)] = a0 * scratch[at(g)]; scratch[at(n + 1u)] = a1 * scratch[at(g + 1u)];
    scratch[at(n + 2u)] = a2 * scratch[at(g + 2u)]; scratch[at(n + 3u)] = a3 * scratch[at(g + 3u)];
    scratch[at(n + 4u)] = a4 * scratch[at(g + 4u)]; scratch[at(n + 5u)] = a5 * scratch[at(g + 5u)];
    scratch[at(n + 6u)] = a6 * scratch[at(g + 6u)]; scratch[at(n + 7u)] = a7 * scratch[at(g + 7u)];
  }
}

// dE/dx = W_0^T d_0 from the half at cur into gx, 32 rows at a time.
fn backward0(cur: u32) {
  let l0 = params.layers[0];
  let dim = params.dim;
  let w0 = l0.z * 4u;
  for (var i = 0u; i < dim; i++) { gx[i] = 0.0; }
  for (var jb = 0u; jb < l0.y; jb++) {
    let n = cur + jb * 8u;
    let d0 = scratch[at(n)]; let d1 = scratch[at(n + 1u)]; let d2 = scratch[at(n + 2u)]; let d3 = scratch[at(n + 3u)];
    let d4 = scratch[at(n + 4u)]; let d5 = scratch[at(n + 5u)]; let d6 = scratch[at(n + 6u)]; let d7 = scratch[at(n + 7u)];
    for (var i = 0u; i < dim; i++) {
      let c = w0_col(w0, jb * 32u + lane8 * 4u, i, dim);
      gx[i] += dot(sh(c, 0u), d0) + dot(sh(c, 1u), d1) + dot(sh(c, 2u), d2) + dot(sh(c, 3u), d3) +
               dot(sh(c, 4u), d4) + dot(sh(c, 5u), d5) + dot(sh(c, 6u), d6) + dot(sh(c, 7u), d7);
    }
  }
}

// x <- clamp(x - h grad + sigma eps) for chain `chain` at step t.
fn update(chain: u32, t: u32, h: f32, sigma: f32) {
  let dim = params.dim;
  let key = vec2u(params.seed_lo, params.seed_hi);
  let e0 = chain * dim;
  var eps = vec4f(0.0);
  var group = 0xffffffffu;
  for (var i = 0u; i < dim; i++) {
    let e = e0 + i;
    // Element e's normal is lane e % 4 of its group of four, as in langevin.wgsl.
    if ((e >> 2u) != group) {
      group = e >> 2u;
      eps = philox_normal4(vec4u(group, t, STREAM_LANGEVIN, 0u), key);
    }
    var v = xs[i] - h * gx[i] + sigma * eps[e & 3u];
    // A NaN chain stays NaN, as torch.clamp keeps NaN (WGSL's max/min may return the bound).
    if ((params.clamp & 1u) != 0u && !is_nan(v)) { v = max(v, params.lo); }
    if ((params.clamp & 2u) != 0u && !is_nan(v)) { v = min(v, params.hi); }
    xs[i] = v;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sg_lane: u32) {
  lane8 = sg_lane & 7u;
  group8 = sg_lane & ~7u;
  let index = gid.x + gid.y * nwg.x * WG;
  col = index;
  // Lanes past the last chain recompute it (every lane of a group takes part in the shuffles)
  // in their own scratch column, and store nothing.
  let chain = params.chain0 + min(index, params.chains - 1u);
  let dim = params.dim;
  let n_layers = params.n_layers;
  for (var i = 0u; i < dim; i++) { xs[i] = x[chain * dim + i]; }

  for (var s = 0u; s < params.steps; s++) {
    forward0();
    activate_layer(0u, 0u, params.layers[0].y * 8u);
    var cur = 0u;
    for (var l = 1u; l < n_layers; l++) {
      let nxt = params.half_b - cur;
      forward(l, cur, nxt);
      activate_layer(nxt, l, params.layers[l].y * 8u);
      cur = nxt;
    }
    let top = n_layers - 1u;
    backward_top(top, cur);
    for (var l = top; l >= 1u; l--) {
      let nxt = params.half_b - cur;
      backward(l, cur, nxt);
      cur = nxt;
    }
    backward0(cur);
    let hsig = params.hs[s / 2u];
    let odd = (s & 1u) == 1u;
    update(chain, params.step0 + s, select(hsig.x, hsig.z, odd), select(hsig.y, hsig.w, odd));
  }

  if (index < params.chains) {
    for (var i = 0u; i < dim; i++) { x[chain * dim + i] = xs[i]; }
  }
}
