// preambles: subgroups.wgsl+philox.wgsl+activations.wgsl+langevin-mlp.wgsl
// The fused Langevin MLP sampler (langevin-mlp.wgsl) for subgroups of 8 or more lanes
// (lavapipe: 8): the lanes of a group of 8 (a subgroup of 8, or an eighth of a wider one) share
// each tile's loads: lane q loads piece q and subgroupShuffle hands it round. On lavapipe a
// shuffle is a register permute, while every storage or indexed private access is a gather
// costing about as much as 20 vec4 FMAs, whether or not the lanes share the address. Per lane
// that is 4 weight loads, 32 shuffles and 1 activation read per 128 multiply-adds.
// No workgroup memory, no barriers.

// The subgroup is exactly 8 lanes (lavapipe): shuffle by constant lane indices.
override SUBGROUP8: bool = false;

// This lane's index in its group of 8, and the group's first lane in the subgroup.
var<private> lane8: u32;
var<private> group8: u32;

// Nothing is staged: every tile is loaded and shared where it is used.
const CHUNK = 65536u;
fn stage(a0: u32, step: u32, qs: u32, ks: u32, n: u32) {}
fn release() {}

// Lane r's value of v, within this lane's group of 8.
fn sh(v: vec4f, r: u32) -> vec4f {
  if (SUBGROUP8) { return subgroupShuffle(v, r); }
  return subgroupShuffle(v, group8 + r);
}

// This lane's piece (q = lane8) of a matrix tile: its 4 columns.
struct Tile { m0: vec4f, m1: vec4f, m2: vec4f, m3: vec4f }

fn tile(a: u32, qs: u32, ks: u32, slot: u32) -> Tile {
  let b = a + lane8 * qs;
  return Tile(wts[b], wts[b + ks], wts[b + 2u * ks], wts[b + 3u * ks]);
}

fn mpiece(t: Tile, q: u32) -> mat4x4f {
  return mat4x4f(sh(t.m0, q), sh(t.m1, q), sh(t.m2, q), sh(t.m3, q));
}

// Vector pieces: this lane's one.
fn vtile(a: u32) -> vec4f { return wts[a + lane8]; }
fn vpiece(t: vec4f, q: u32) -> vec4f { return sh(t, q); }
fn w0tile(w0: u32, row0: u32, i: u32, dim: u32) -> vec4f { return w0_col(w0, row0 + lane8 * 4u, i, dim); }
fn w0piece(t: vec4f, q: u32) -> vec4f { return sh(t, q); }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sg_lane: u32) {
  lane8 = sg_lane & 7u;
  group8 = sg_lane & ~7u;
  run_chain(gid.x + gid.y * nwg.x * WG);
}
