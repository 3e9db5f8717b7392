// Sampler diagnostics for one kept step, on the GPU: over the chains, the mean and variance
// (population, like TorchEBM's unbiased=False) of every dim of x, and the mean of each
// per-chain scalar (energy; HMC's accepted flag). One workgroup per column (a dim of x, then
// each scalar); two passes (mean, then squared deviations) so the variance does not cancel.
override WG: u32 = 64u;

struct Params {
  chains: u32,
  dim: u32,
  // Rows of `scalars` ([scalars, chains]) to average.
  scalars: u32,
  // The kept step being written, and how many there are (scalar_mean is [scalars, rows]).
  row: u32,
  rows: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> scalars: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> variance: array<f32>;
@group(0) @binding(4) var<storage, read_write> scalar_mean: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> part: array<f32, 64>;

fn value(col: u32, i: u32) -> f32 {
  if (col < params.dim) { return x[i * params.dim + col]; }
  return scalars[(col - params.dim) * params.chains + i];
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
  if (col >= params.dim + params.scalars) { return; }
  let n = f32(params.chains);
  var s = 0.0;
  for (var i = lid; i < params.chains; i += WG) { s += value(col, i); }
  part[lid] = s;
  let m = reduce_part(lid) / n;
  if (col >= params.dim) {
    if (lid == 0u) { scalar_mean[(col - params.dim) * params.rows + params.row] = m; }
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
