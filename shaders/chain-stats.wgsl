// Sampler diagnostics for one kept step, on the GPU: over the chains, the mean and variance
// (population, like TorchEBM's unbiased=False) of every dim of x, and the mean of each
// per-chain scalar (energy; HMC's accepted flag). One workgroup per column (a dim of x, then
// each scalar); two passes (mean, then squared deviations) so the variance does not cancel.
//
// Over the binding limit (src/kernels/chain-stats.ts) the chains come in blocks, each bound as
// a window: mode 1 adds a block's sums into the mean tables (the first block writes, the last
// divides by the total), mode 2 then adds its squared deviations from that mean into variance.
// A split run's sums are added in another order than an unsplit one's: equal to round-off.
override WG: u32 = 64u;

struct Params {
  chains: u32,
  dim: u32,
  // Rows of `scalars` ([scalars, chains]) to average.
  scalars: u32,
  // The kept step being written, and how many there are (scalar_mean is [scalars, rows]).
  row: u32,
  rows: u32,
  // x columns in this dispatch (dim, or 0 for a scalar-only one); scalar_mean row of its first
  // scalar; the row stride of `scalars` as bound; element shifts of the x and scalars windows.
  xcols: u32,
  s0: u32,
  sstride: u32,
  xs: u32,
  ss: u32,
  // 0: all chains in one dispatch; 1: add a block's sums; 2: add its squared deviations.
  mode: u32,
  // Block flags (mode 1, 2): whether it is the first (writes) and last (divides by total).
  first: u32,
  last: u32,
  total: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> scalars: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> variance: array<f32>;
@group(0) @binding(4) var<storage, read_write> scalar_mean: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> part: array<f32, 64>;

fn value(col: u32, i: u32) -> f32 {
  if (col < params.xcols) { return x[params.xs + i * params.dim + col]; }
  return scalars[params.ss + (col - params.xcols) * params.sstride + i];
}

// Adds a block's partial `t` into an accumulator holding `old`: written by the first block,
// divided by the total chains by the last.
fn accumulate(old: f32, t: f32) -> f32 {
  let v = select(old, 0.0, params.first == 1u) + t;
  return select(v, v / f32(params.total), params.last == 1u);
}

// Modes 1 and 2: one block's sums (of values, or squared deviations from the finished mean).
fn block_pass(lid: u32, col: u32) {
  let is_x = col < params.xcols;
  var m = 0.0;
  if (params.mode == 2u && is_x) { m = mean[params.row * params.dim + col]; }
  var s = 0.0;
  for (var i = lid; i < params.chains; i += WG) {
    let v = value(col, i);
    s += select(v, (v - m) * (v - m), params.mode == 2u);
  }
  part[lid] = s;
  let t = reduce_part(lid);
  if (lid != 0u) { return; }
  if (!is_x) {
    let at = (col - params.xcols + params.s0) * params.rows + params.row;
    scalar_mean[at] = accumulate(scalar_mean[at], t);
    return;
  }
  let at = params.row * params.dim + col;
  if (params.mode == 1u) { mean[at] = accumulate(mean[at], t); } else { variance[at] = accumulate(variance[at], t); }
}

// Sums part[0..WG) into part[0]; every thread must call it.
fn reduce_part(lid: u32) -> f32 {
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] += part[lid + s]; }
    workgroupBarrier();
  }
  let total = part[0];
  // Nobody may overwrite part[0] for the next pass before everyone has read it.
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let col = wid.x + wid.y * nwg.x;
  if (col >= params.xcols + params.scalars) { return; }
  if (params.mode != 0u) {
    block_pass(lid, col);
    return;
  }
  let n = f32(params.chains);
  var s = 0.0;
  for (var i = lid; i < params.chains; i += WG) { s += value(col, i); }
  part[lid] = s;
  let m = reduce_part(lid) / n;
  if (col >= params.xcols) {
    if (lid == 0u) { scalar_mean[(col - params.xcols) * params.rows + params.row] = m; }
    return;
  }
  var q = 0.0;
  for (var i = lid; i < params.chains; i += WG) {
    let d = value(col, i) - m;
    q += d * d;
  }
  part[lid] = q;
  let v = reduce_part(lid) / n;
  if (lid == 0u) {
    mean[params.row * params.dim + col] = m;
    variance[params.row * params.dim + col] = v;
  }
}
