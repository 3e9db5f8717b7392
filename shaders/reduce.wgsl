// Reductions over any set of axes. The input's dims are split into kept dims (one output each)
// and reduced dims (looped over); both are addressed through strides, so no transpose is made.
// Two schedules: one invocation per output (short reductions), or one workgroup per output,
// combining partial results through workgroup memory (long reductions).
const OP_sum = 0u;
const OP_max = 1u;
const OP_min = 2u;
const OP_logsumexp = 3u;

override OP: u32 = 0u;
// The reduced elements of one output are contiguous in memory (offset = base + j).
override CONTIGUOUS: bool = false;
// A reduction split over windows of an input larger than one binding (kernels/reduce.ts):
// this dispatch's results are merged into what earlier dispatches wrote (sum: added; max, min:
// NaN-propagating; logsumexp: log(exp(a) + exp(b))) instead of overwriting it.
override ACCUMULATE: bool = false;
// The reduced axes lead and the kept ones trail ([R, C] summed over R, as a bias gradient is):
// reduced element j of output o is at j * n_out + o, so per_thread's lanes, one per output
// column, read consecutive addresses with no index arithmetic.
override LEADING: bool = false;
// A few outputs over a long run each: per_workgroup's workgroup (o, chunk) reduces chunk
// `chunk` of output o's run and writes it unscaled to out[o * chunks + chunk]; the wrapper then
// reduces those partials with the same op (sum of sums, max of maxes, logsumexp of
// logsumexps), so many workgroups share one output's run instead of one.
override CHUNKED: bool = false;
const WG_REDUCE = 64u;
override WG: u32 = 64u;

struct Params {
  n_out: u32,
  n_red: u32,
  kept_rank: u32,
  red_rank: u32,
  // Multiplies the result: 1 / n for a mean.
  scale: f32,
  // How far the bound windows of x and out start before the data addressed (elements).
  x_shift: u32,
  out_shift: u32,
  // CHUNKED (per_workgroup): reduced elements per chunk; each output's run is cut into `chunks`.
  chunk_len: u32,
  chunks: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  kept_shape: array<vec4u, 2>,
  kept_strides: array<vec4u, 2>,
  red_shape: array<vec4u, 2>,
  red_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG_REDUCE>;

// Infinity and NaN cannot be WGSL constants; bit patterns in private vars are evaluated at run time.
var<private> INF_BITS: u32 = 0x7f800000u;
var<private> NAN_BITS: u32 = 0x7fc00000u;
fn inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn nan() -> f32 { return bitcast<f32>(NAN_BITS); }
// WGSL lets compilers assume floats are never NaN, so `v != v` may fold to false (lavapipe
// does fold it); NaN is tested on the bits, so a NaN anywhere in a slice makes its max/min NaN.
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }

fn base_offset(o: u32) -> u32 {
  var off = params.x_shift;
  var rem = o;
  for (var d = i32(params.kept_rank) - 1; d >= 0; d--) {
    let size = params.kept_shape[d / 4][d % 4];
    off += (rem % size) * params.kept_strides[d / 4][d % 4];
    rem = rem / size;
  }
  return off;
}

fn red_offset(j: u32) -> u32 {
  if (CONTIGUOUS) { return j; }
  if (LEADING) { return j * params.n_out; }
  var off = 0u;
  var rem = j;
  for (var d = i32(params.red_rank) - 1; d >= 0; d--) {
    let size = params.red_shape[d / 4][d % 4];
    off += (rem % size) * params.red_strides[d / 4][d % 4];
    rem = rem / size;
  }
  return off;
}

fn identity() -> f32 {
  switch OP {
    case OP_max, OP_logsumexp: { return -inf(); }
    case OP_min: { return inf(); }
    default: { return 0.0; }
  }
}

// The combining step of the first pass (for logsumexp: the running maximum).
fn combine(acc: f32, v: f32) -> f32 {
  switch OP {
    case OP_max, OP_logsumexp: { if (is_nan(v) || is_nan(acc)) { return nan(); } return max(acc, v); }
    case OP_min: { if (is_nan(v) || is_nan(acc)) { return nan(); } return min(acc, v); }
    default: { return acc + v; }
  }
}

// Merges a partial result into one already written (ACCUMULATE).
fn merge(a: f32, b: f32) -> f32 {
  if (OP == OP_sum) { return a + b; }
  if (is_nan(a) || is_nan(b)) { return nan(); }
  if (OP == OP_max) { return max(a, b); }
  if (OP == OP_min) { return min(a, b); }
  let m = max(a, b);
  if (abs(m) == inf()) { return m; }
  return m + log(exp(a - m) + exp(b - m));
}

fn write_out(o: u32, v: f32) {
  let at = o + params.out_shift;
  if (ACCUMULATE) { out[at] = merge(out[at], v); } else { out[at] = v; }
}

fn output_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

@compute @workgroup_size(WG)
fn per_thread(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= params.n_out) { return; }
  let base = base_offset(o);
  var acc = identity();
  for (var j = 0u; j < params.n_red; j++) { acc = combine(acc, x[base + red_offset(j)]); }
  if (OP == OP_logsumexp) {
    let m = acc;
    if (abs(m) == inf()) { write_out(o, m); return; }
    var s = 0.0;
    for (var j = 0u; j < params.n_red; j++) { s += exp(x[base + red_offset(j)] - m); }
    write_out(o, m + log(s));
    return;
  }
  write_out(o, acc * params.scale);
}

fn tree(lid: u32, is_sum: bool) {
  for (var stride = WG_REDUCE / 2u; stride > 0u; stride = stride / 2u) {
    workgroupBarrier();
    if (lid < stride) {
      if (is_sum) { partial[lid] = partial[lid] + partial[lid + stride]; }
      else { partial[lid] = combine(partial[lid], partial[lid + stride]); }
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG_REDUCE)
fn per_workgroup(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = output_index(wid, nwg);
  let o = select(w, w / params.chunks, CHUNKED);
  // This workgroup's part of output o's run: all of it, or one chunk.
  let j_begin = select(0u, (w % params.chunks) * params.chunk_len, CHUNKED);
  let j_end = select(params.n_red, min(params.n_red, j_begin + params.chunk_len), CHUNKED);
  // Every invocation of the workgroup must reach the barriers, so no early return here.
  let in_range = o < params.n_out;
  let base = select(0u, base_offset(o), in_range);
  var acc = identity();
  if (in_range) {
    for (var j = j_begin + lid; j < j_end; j += WG_REDUCE) { acc = combine(acc, x[base + red_offset(j)]); }
  }
  partial[lid] = acc;
  tree(lid, OP == OP_sum);
  let m = partial[0];
  // A chunk's partial goes to its own slot (the wrapper's scale is 1 there).
  let dst = select(o, w, CHUNKED);
  if (OP != OP_logsumexp) {
    if (lid == 0u && in_range) { write_out(dst, m * params.scale); }
    return;
  }
  workgroupBarrier();
  var s = 0.0;
  if (in_range && abs(m) != inf()) {
    for (var j = j_begin + lid; j < j_end; j += WG_REDUCE) { s += exp(x[base + red_offset(j)] - m); }
  }
  partial[lid] = s;
  tree(lid, true);
  if (lid == 0u && in_range) { write_out(dst, select(m + log(partial[0]), m, abs(m) == inf())); }
}
