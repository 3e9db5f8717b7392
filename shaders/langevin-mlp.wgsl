// Preamble, last in the chains of the schedule bodies langevin-mlp-sg8.wgsl, langevin-mlp-sg4.wgsl
// and langevin-mlp-wg.wgsl: fused Langevin sampling for MLP energies, E(x) = w_out . h_L + b_out,
// with h_l = act_l(W_l h_{l-1} + b_l), h_0 = x. ONE dispatch runs params.steps Langevin steps of
// a block of chains, each step being the forward pass through every hidden layer, the backward
// pass dE/dx = W_1^T (act_1'(z_1) * W_2^T (... act_L'(z_L) * w_out)) and the update
//   x <- clamp(x - h grad + sigma eps),   sigma = noise_scale sqrt(2h)
// with exactly langevin.wgsl's noise: element e (= chain * dim + i) at step t is lane e % 4 of
// philox_normal4((e / 4, t, STREAM_LANGEVIN, 0), key), so a chain here is the chain of the
// general path (energy.gradient + langevin.wgsl) up to the f32 round-off of the gradient.
//
// Mapping: one invocation per chain. Every chain needs every weight, so the invocations share
// the weight loads; HOW is the schedule, the body that names this preamble. The arithmetic here
// is the same for all: weights arrive in tiles of 32 rows (or 32 inputs) split into 8 pieces q
// of 4 rows (or 4 inputs), and each invocation multiplies its own activations by every piece:
//   forward  z[32 rows] += W[32 rows, i4] . h[i4]: piece q is rows 4q .. 4q + 3 of input vec4 i4
//            (a mat4x4f whose columns are the rows), 32 row sums in registers;
//   backward g[32 inputs] += W[4 rows, 32 inputs]^T d[4 rows]: piece q is input vec4 q of the
//            4 rows (columns are the rows again), 32 input sums in registers;
//   layer 0 and the vectors (bias, w_out) come in pieces of one vec4.
// The schedule provides (Tile, VTile and W0Tile being its types):
//   tile(a, qs, ks, slot) -> Tile  the matrix tile whose piece q, column k is wts[a + q qs + k ks]
//                                  (slot: its index in the staged chunk), mpiece(Tile, q);
//   vtile(a) -> VTile              the vector pieces wts[a + q], vpiece(VTile, q);
//   w0tile(w0, row0, i, dim)       layer 0's rows row0 + 4q + k at input i, w0piece(W0Tile, q);
//   stage(a0, step, qs, ks, n) and release(), around each chunk of at most CHUNK tiles (tile s at
//   a = a0 + s step): the workgroup-memory schedule loads the chunk there between barriers;
//   the subgroup schedules share each tile's loads by shuffles and stage nothing.
// A chain's state and dE/dx live in small private arrays. Its activations (ping-pong halves A
// and B) and every hidden layer's act'(z) (kept for the backward pass) live in a scratch
// storage buffer, one column per invocation, interleaved so that neighbouring lanes touch
// neighbouring words (coalesced on a GPU): word k of column j is scratch[k * stride + j].
// Large private arrays would cost the same per access on lavapipe, but its compile time grows
// with the square of their size (20 s for this kernel's). Control flow is uniform wherever lanes
// share (shuffles, barriers): lanes past the last chain recompute the last chain in their own
// scratch column and store nothing.
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
  // Added to x's element index (a wrapping u32 sum): where x is over the binding limit the
  // wrapper binds a window of it per block of chains, and this is minus the window's start.
  x_offset: u32,
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

// This invocation's scratch column.
var<private> col: u32;

// Word k of this chain's scratch.
fn at(k: u32) -> u32 {
  return k * params.stride + col;
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

// z = W_0 x + b_0, 32 rows at a time, into half A.
fn forward0() {
  let l0 = params.layers[0];
  let dim = params.dim;
  let w0 = l0.z * 4u;
  for (var jb = 0u; jb < l0.y; jb++) {
    let bias = vtile(l0.w + jb * 8u);
    var a0 = vpiece(bias, 0u); var a1 = vpiece(bias, 1u); var a2 = vpiece(bias, 2u); var a3 = vpiece(bias, 3u);
    var a4 = vpiece(bias, 4u); var a5 = vpiece(bias, 5u); var a6 = vpiece(bias, 6u); var a7 = vpiece(bias, 7u);
    for (var i = 0u; i < dim; i++) {
      let c = w0tile(w0, jb * 32u, i, dim);
      let xi = xs[i];
      a0 += xi * w0piece(c, 0u); a1 += xi * w0piece(c, 1u); a2 += xi * w0piece(c, 2u); a3 += xi * w0piece(c, 3u);
      a4 += xi * w0piece(c, 4u); a5 += xi * w0piece(c, 5u); a6 += xi * w0piece(c, 6u); a7 += xi * w0piece(c, 7u);
    }
    let n = jb * 8u;
    scratch[at(n)] = a0; scratch[at(n + 1u)] = a1; scratch[at(n + 2u)] = a2; scratch[at(n + 3u)] = a3;
    scratch[at(n + 4u)] = a4; scratch[at(n + 5u)] = a5; scratch[at(n + 6u)] = a6; scratch[at(n + 7u)] = a7;
  }
}

// Layer l >= 1: z = W_l h + b_l from the half at cur into the half at nxt, 32 rows per pass over
// the input; piece q of input vec4 i4 is rows jb * 32 + 4q + k, and h . piece adds rows 4q .. 4q + 3.
fn forward(l: u32, cur: u32, nxt: u32) {
  let ly = params.layers[l];
  let in4 = ly.x;
  for (var jb = 0u; jb < ly.y; jb++) {
    let bias = vtile(ly.w + jb * 8u);
    var a0 = vpiece(bias, 0u); var a1 = vpiece(bias, 1u); var a2 = vpiece(bias, 2u); var a3 = vpiece(bias, 3u);
    var a4 = vpiece(bias, 4u); var a5 = vpiece(bias, 5u); var a6 = vpiece(bias, 6u); var a7 = vpiece(bias, 7u);
    let r0 = ly.z + jb * 32u * in4;
    for (var c0 = 0u; c0 < in4; c0 += CHUNK) {
      let c1 = min(c0 + CHUNK, in4);
      stage(r0 + c0, 1u, 4u * in4, in4, c1 - c0);
      for (var i4 = c0; i4 < c1; i4++) {
        let h = scratch[at(cur + i4)];
        let t = tile(r0 + i4, 4u * in4, in4, i4 - c0);
        a0 += h * mpiece(t, 0u); a1 += h * mpiece(t, 1u); a2 += h * mpiece(t, 2u); a3 += h * mpiece(t, 3u);
        a4 += h * mpiece(t, 4u); a5 += h * mpiece(t, 5u); a6 += h * mpiece(t, 6u); a7 += h * mpiece(t, 7u);
      }
      release();
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
    let w = vtile(params.w_out + jb * 8u);
    for (var q = 0u; q < 8u; q++) {
      let o = jb * 8u + q;
      scratch[at(cur + o)] = vpiece(w, q) * scratch[at(d + o)];
    }
  }
}

// d_{l-1} = (W_l^T d_l) * act_{l-1}'(z_{l-1}) from the half at cur into the half at nxt, 32
// inputs per pass over the rows; piece q of row vec4 j4 is input vec4 kb * 8 + q of rows
// 4 j4 + k, and piece . d adds to inputs 4q .. 4q + 3.
fn backward(l: u32, cur: u32, nxt: u32) {
  let ly = params.layers[l];
  let in4 = ly.x;
  let n4 = ly.y * 8u;
  for (var kb = 0u; kb < in4 / 8u; kb++) {
    var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
    var a4 = vec4f(0.0); var a5 = vec4f(0.0); var a6 = vec4f(0.0); var a7 = vec4f(0.0);
    let c0 = ly.z + kb * 8u;
    for (var j0 = 0u; j0 < n4; j0 += CHUNK) {
      let j1 = min(j0 + CHUNK, n4);
      stage(c0 + j0 * 4u * in4, 4u * in4, 1u, in4, j1 - j0);
      for (var j4 = j0; j4 < j1; j4++) {
        let d = scratch[at(cur + j4)];
        let t = tile(c0 + j4 * 4u * in4, 1u, in4, j4 - j0);
        a0 += mpiece(t, 0u) * d; a1 += mpiece(t, 1u) * d; a2 += mpiece(t, 2u) * d; a3 += mpiece(t, 3u) * d;
        a4 += mpiece(t, 4u) * d; a5 += mpiece(t, 5u) * d; a6 += mpiece(t, 6u) * d; a7 += mpiece(t, 7u) * d;
      }
      release();
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
      let c = w0tile(w0, jb * 32u, i, dim);
      gx[i] += dot(w0piece(c, 0u), d0) + dot(w0piece(c, 1u), d1) + dot(w0piece(c, 2u), d2) + dot(w0piece(c, 3u), d3) +
               dot(w0piece(c, 4u), d4) + dot(w0piece(c, 5u), d5) + dot(w0piece(c, 6u), d6) + dot(w0piece(c, 7u), d7);
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

// The whole dispatch's work for invocation `index` (the schedule's entry point calls it).
fn run_chain(index: u32) {
  col = index;
  // Lanes past the last chain recompute it (every lane takes part in the sharing) in their own
  // scratch column, and store nothing.
  let chain = params.chain0 + min(index, params.chains - 1u);
  let dim = params.dim;
  let n_layers = params.n_layers;
  for (var i = 0u; i < dim; i++) { xs[i] = x[chain * dim + i + params.x_offset]; }

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
    for (var i = 0u; i < dim; i++) { x[chain * dim + i + params.x_offset] = xs[i]; }
  }
}
