// Spectral normalisation with torch.nn.utils.spectral_norm's semantics. The weight is read as the
// row-major matrix M [m, k] (dim 0 by the product of the others; a conv weight [out, in, kh, kw]
// is [out, in*kh*kw]). Training runs n power iterations, starting from the caller's u:
//     r = Mᵀ û,  v̂ = r / max(|r|, eps),  t = M v̂,  û = t / max(|t|, eps)
// then sigma = ûᵀ M v̂ = ûᵀ t, the output is M / sigma, and û, v̂ are written back into u and v.
// Eval runs no iteration: t = M v, sigma = uᵀ t, and u and v are only read.
//
// Two schedules share the stage functions below:
//  - `fused`: one workgroup runs every stage, with barriers between them: one dispatch per call
//    (the wrapper's choice on CPU adapters, and for small matrices on GPUs);
//  - `stage_mtv`, `stage_mv`, `stage_finish`: one dispatch per stage over many workgroups.
// Between stages the raw vectors r and t live in `work`, along with one partial sum per
// workgroup that wrote them (of r², of t², or of u·t in eval), so the next stage gets a norm by
// adding a few numbers instead of reading the whole vector again.

struct Params {
  m: u32,
  k: u32,
  // Power iterations (0 in eval mode, where u and v are only read).
  n_iter: u32,
  // stage_mtv only: the first iteration, whose û is the caller's u rather than t / |t|.
  first: u32,
  eps: f32,
  // How many partial sums the mv and mtv stages write (their workgroup counts; 1 when fused).
  t_parts: u32,
  r_parts: u32,
  _pad: u32,
}

// M and M / sigma are read and written four elements at a time wherever the layout allows.
@group(0) @binding(0) var<storage, read> w: array<vec4f>;
// The persistent power-iteration vectors, updated in place in training.
@group(0) @binding(1) var<storage, read_write> u: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> w_sn: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> sigma: array<f32>;
// Copies of the u and v that sigma was computed with: the gradient needs them, and the caller's
// u and v may be updated again (by the next call) before backward runs.
@group(0) @binding(5) var<storage, read_write> u_used: array<f32>;
@group(0) @binding(6) var<storage, read_write> v_used: array<f32>;
// [r (k) | t (m) | t partial sums (t_parts) | r partial sums (r_parts)], r and t each padded to
// whole vec4s.
@group(0) @binding(7) var<storage, read_write> work: array<vec4f>;
@group(0) @binding(8) var<uniform> params: Params;

// k % 4 == 0: every row of M starts on a vec4, so both products read M (and r) a vec4 at a time.
// Otherwise they read one element at a time (in the .x of the same vec4 arithmetic).
override VEC4: bool = false;

const WG = 256u;
// Both matrix-vector products give each output unit (a column, or a quad of columns, of Mᵀ û; a
// quad of rows of M v̂) GROUP invocations that split its dot product, then add their GROUP partial
// sums through workgroup memory: a workgroup covers SPAN units at a time.
const GROUP = 8u;
const SPAN = WG / GROUP;
// vec4s of M / sigma per workgroup in stage_finish.
const SCALE_PER_WG = WG * 2u;

var<workgroup> partial: array<f32, WG>;
var<workgroup> partial4: array<vec4f, WG>;

fn w_at(e: u32) -> f32 { return w[e / 4u][e % 4u]; }
fn work_at(e: u32) -> f32 { return work[e / 4u][e % 4u]; }
fn work_set(e: u32, x: f32) { work[e / 4u][e % 4u] = x; }

// t starts on a vec4 (r is padded to one), and is itself padded with zeros to one.
fn t4_at() -> u32 { return (params.k + 3u) / 4u; }
fn t_at() -> u32 { return 4u * t4_at(); }
fn t_parts_at() -> u32 { return t_at() + 4u * ((params.m + 3u) / 4u); }
fn r_parts_at() -> u32 { return t_parts_at() + params.t_parts; }

// Columns of M per unit of work in the products: 4 with VEC4, else 1.
fn k_units() -> u32 { return select(params.k, params.k / 4u, VEC4); }
fn m_quads() -> u32 { return (params.m + 3u) / 4u; }

fn sum_parts(at: u32, n: u32) -> f32 {
  var s = 0.0;
  for (var p = 0u; p < n; p++) { s += work_at(at + p); }
  return s;
}

// What F.normalize divides by, from a sum of squares.
fn denom(sq: f32) -> f32 { return max(sqrt(sq), params.eps); }

// The sum of one value per invocation, returned to every invocation. Uniform control flow only.
fn wg_sum(lid: u32, x: f32) -> f32 {
  partial[lid] = x;
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    workgroupBarrier();
    if (lid < s) { partial[lid] += partial[lid + s]; }
  }
  workgroupBarrier();
  let total = partial[0];
  workgroupBarrier();
  return total;
}

// Unit c (a quad of columns, or one column in .x) of row i of M; rows past the last read the
// last (callers mask what they contribute).
fn m_unit(i: u32, c: u32) -> vec4f {
  let row = min(i, params.m - 1u);
  if (VEC4) { return w[row * (params.k / 4u) + c]; }
  return vec4f(w_at(row * params.k + c), 0.0, 0.0, 0.0);
}

// Rows 4p .. 4p+3 of the caller's u, zero past the last.
fn u_quad(p: u32) -> vec4f {
  let i = 4u * p;
  let last = params.m - 1u;
  let x = vec4f(u[i], u[min(i + 1u, last)], u[min(i + 2u, last)], u[min(i + 3u, last)]);
  return select(vec4f(0.0), x, vec4u(i) + vec4u(0u, 1u, 2u, 3u) < vec4u(params.m));
}

// Unit c of v̂ before its division by |r|: r after iterating, else the caller's v.
fn v_unit(c: u32, iterated: bool) -> vec4f {
  if (VEC4) {
    if (iterated) { return work[c]; }
    return vec4f(v[4u * c], v[4u * c + 1u], v[4u * c + 2u], v[4u * c + 3u]);
  }
  if (iterated) { return vec4f(work_at(c), 0.0, 0.0, 0.0); }
  return vec4f(v[c], 0.0, 0.0, 0.0);
}

// Both products take M four rows at a time, so each load of u, t or r serves four rows: fewer
// loads per multiply-add, which is what CPU adapters are bound by.

// r = Mᵀ û over units [c0, c1); Σ r² of them goes to r partial slot `part`. Invocation lid takes
// unit c = base + lid % SPAN and the row quads p ≡ lid / SPAN (mod GROUP).
fn mtv(lid: u32, c0: u32, c1: u32, part: u32, first: bool) {
  let col = lid % SPAN;
  let p0 = lid / SPAN;
  // û = t / |t| after the first iteration: divide each r once rather than each t[i] k times.
  var du = 1.0;
  if (!first) { du = denom(sum_parts(t_parts_at(), params.t_parts)); }
  var sq = 0.0;
  for (var base = c0; base < c1; base += SPAN) {
    let c = base + col;
    var acc = vec4f(0.0);
    if (c < c1) {
      for (var p = p0; p < m_quads(); p += GROUP) {
        // t's padding past row m is zero, and u_quad masks those rows too.
        var t: vec4f;
        if (first) { t = u_quad(p); } else { t = work[t4_at() + p]; }
        let i = 4u * p;
        acc += m_unit(i, c) * t.x + m_unit(i + 1u, c) * t.y + m_unit(i + 2u, c) * t.z + m_unit(i + 3u, c) * t.w;
      }
    }
    partial4[lid] = acc;
    workgroupBarrier();
    if (p0 == 0u && c < c1) {
      var dot4 = vec4f(0.0);
      for (var g = 0u; g < GROUP; g++) { dot4 += partial4[g * SPAN + col]; }
      let r = dot4 / du;
      if (VEC4) { work[c] = r; } else { work_set(c, r.x); }
      sq += dot(r, r);
    }
    workgroupBarrier();
  }
  let total = wg_sum(lid, sq);
  if (lid == 0u) { work_set(r_parts_at() + part, total); }
}

// t = M v̂ over the row quads [q0, q1), v̂ = r / |r| after iterating (`iterated`), else the
// caller's v. Partial slot `part` gets Σ t² (for |t|), or Σ u t in eval (sigma = uᵀ t).
// Invocation lid takes row quad p = base + lid / GROUP and the units c ≡ lid % GROUP (mod GROUP).
fn mv(lid: u32, q0: u32, q1: u32, part: u32, iterated: bool) {
  let kn = k_units();
  let lane = lid % GROUP;
  let sub = lid / GROUP;
  var dv = 1.0;
  if (iterated) { dv = denom(sum_parts(r_parts_at(), params.r_parts)); }
  var s = 0.0;
  for (var base = q0; base < q1; base += SPAN) {
    let p = base + sub;
    let i = 4u * p;
    var acc = vec4f(0.0);
    if (p < q1) {
      for (var c = lane; c < kn; c += GROUP) {
        let x = v_unit(c, iterated);
        acc += vec4f(dot(m_unit(i, c), x), dot(m_unit(i + 1u, c), x), dot(m_unit(i + 2u, c), x), dot(m_unit(i + 3u, c), x));
      }
    }
    partial4[lid] = acc;
    workgroupBarrier();
    if (lane == 0u && p < q1) {
      var dot4 = vec4f(0.0);
      for (var g = 0u; g < GROUP; g++) { dot4 += partial4[lid + g]; }
      // Rows past m came from a repeated last row: zero them, which keeps t's padding zero.
      let t = select(vec4f(0.0), dot4 / dv, vec4u(i) + vec4u(0u, 1u, 2u, 3u) < vec4u(params.m));
      work[t4_at() + p] = t;
      // sigma's left vector: û (= t / |t|, divided later) after iterating, else the caller's u.
      var left = t;
      if (!iterated) { left = u_quad(p); }
      s += dot(left, t);
    }
    workgroupBarrier();
  }
  let total = wg_sum(lid, s);
  if (lid == 0u) { work_set(t_parts_at() + part, total); }
}

// sigma = ûᵀ t = |t|² / max(|t|, eps) after iterating; uᵀ t in eval (mv summed u·t).
fn sigma_value() -> f32 {
  let p = sum_parts(t_parts_at(), params.t_parts);
  if (params.n_iter > 0u) { return p / denom(p); }
  return p;
}

// sigma, the vectors it was computed with, and after iterating û and v̂ back into u and v.
fn write_vectors(lid: u32, s: f32) {
  let m = params.m;
  let k = params.k;
  if (lid == 0u) { sigma[0] = s; }
  if (params.n_iter > 0u) {
    let du = denom(sum_parts(t_parts_at(), params.t_parts));
    let dv = denom(sum_parts(r_parts_at(), params.r_parts));
    for (var i = lid; i < m; i += WG) {
      let x = work_at(t_at() + i) / du;
      u[i] = x;
      u_used[i] = x;
    }
    for (var j = lid; j < k; j += WG) {
      let x = work_at(j) / dv;
      v[j] = x;
      v_used[j] = x;
    }
  } else {
    for (var i = lid; i < m; i += WG) { u_used[i] = u[i]; }
    for (var j = lid; j < k; j += WG) { v_used[j] = v[j]; }
  }
}

// M / sigma over the vec4s [q0, q1) of the flat weight. Division, not a multiply by 1 / sigma,
// to round like PyTorch's weight / sigma.
fn scale(lid: u32, q0: u32, q1: u32, s: f32) {
  let n = params.m * params.k;
  for (var q = q0 + lid; q < q1; q += WG) {
    if (4u * q + 4u <= n) {
      w_sn[q] = w[q] / s;
    } else {
      // The last, partial vec4: only the weight's own elements.
      for (var e = 4u * q; e < n; e++) { w_sn[q][e % 4u] = w_at(e) / s; }
    }
  }
}

fn scale_units() -> u32 { return (params.m * params.k + 3u) / 4u; }

@compute @workgroup_size(WG)
fn fused(@builtin(local_invocation_index) lid: u32) {
  // storageBarrier makes one stage's writes to `work` visible to the whole workgroup.
  for (var it = 0u; it < params.n_iter; it++) {
    mtv(lid, 0u, k_units(), 0u, it == 0u);
    storageBarrier();
    mv(lid, 0u, m_quads(), 0u, true);
    storageBarrier();
  }
  if (params.n_iter == 0u) {
    mv(lid, 0u, m_quads(), 0u, false);
    storageBarrier();
  }
  let s = sigma_value();
  write_vectors(lid, s);
  scale(lid, 0u, scale_units(), s);
}

fn flat(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }

@compute @workgroup_size(WG)
fn stage_mtv(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = flat(wid, nwg);
  let c0 = g * SPAN;
  // A 2-D grid may round the workgroup count up; the extras have no units and no slot.
  if (c0 >= k_units()) { return; }
  mtv(lid, c0, min(c0 + SPAN, k_units()), g, params.first != 0u);
}

@compute @workgroup_size(WG)
fn stage_mv(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = flat(wid, nwg);
  let q0 = g * SPAN;
  if (q0 >= m_quads()) { return; }
  mv(lid, q0, min(q0 + SPAN, m_quads()), g, params.n_iter > 0u);
}

@compute @workgroup_size(WG)
fn stage_finish(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = flat(wid, nwg);
  let s = sigma_value();
  if (g == 0u) { write_vectors(lid, s); }
  let q0 = g * SCALE_PER_WG;
  scale(lid, q0, min(q0 + SCALE_PER_WG, scale_units()), s);
}
