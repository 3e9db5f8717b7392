// preambles: subgroups.wgsl+philox.wgsl+activations.wgsl+langevin-mlp.wgsl
// The fused Langevin MLP sampler (langevin-mlp.wgsl) for subgroups of 4 lanes (SwiftShader,
// Chromium's software adapter): lane p of every group of 4 (p = subgroup lane % 4) loads pieces
// p and p + 4 of each tile, and piece q is read from subgroup lane q % 4 by subgroupShuffle. The
// weights are the same for every chain, so every group of 4 loads the same pieces and lane
// q % 4 of the subgroup holds what lane q % 4 of this lane's own group would: the result does
// not depend on the subgroup size (any size >= 4: lavapipe's 8 lanes run it in the tests), and
// the shuffle index is the same for every lane (a broadcast, cheap on a CPU adapter, where a
// shuffle by a lane-dependent index is a gather). Per lane: 8 weight loads and 32 shuffles per
// 128 multiply-adds (the 8-lane schedule: 4 loads). No workgroup memory, no barriers.

// This lane's index in its group of 4.
var<private> lane4: u32;

// Nothing is staged: every tile is loaded and shared where it is used.
const CHUNK = 65536u;
fn stage(a0: u32, step: u32, qs: u32, ks: u32, n: u32) {}
fn release() {}

// This lane's pieces (lane4 and lane4 + 4) of a matrix tile: 4 columns each.
struct Tile { m0: vec4f, m1: vec4f, m2: vec4f, m3: vec4f, m4: vec4f, m5: vec4f, m6: vec4f, m7: vec4f }

fn tile(a: u32, qs: u32, ks: u32, slot: u32) -> Tile {
  let b = a + lane4 * qs;
  let c = b + 4u * qs;
  return Tile(wts[b], wts[b + ks], wts[b + 2u * ks], wts[b + 3u * ks], wts[c], wts[c + ks], wts[c + 2u * ks], wts[c + 3u * ks]);
}

// Piece q, from lane q % 4. Every call site passes a constant q, so the branch folds away.
fn mpiece(t: Tile, q: u32) -> mat4x4f {
  let r = q & 3u;
  if (q < 4u) { return mat4x4f(subgroupShuffle(t.m0, r), subgroupShuffle(t.m1, r), subgroupShuffle(t.m2, r), subgroupShuffle(t.m3, r)); }
  return mat4x4f(subgroupShuffle(t.m4, r), subgroupShuffle(t.m5, r), subgroupShuffle(t.m6, r), subgroupShuffle(t.m7, r));
}

// Vector pieces: this lane's two.
struct VTile { v0: vec4f, v1: vec4f }

fn vpiece(t: VTile, q: u32) -> vec4f {
  if (q < 4u) { return subgroupShuffle(t.v0, q & 3u); }
  return subgroupShuffle(t.v1, q & 3u);
}
fn vtile(a: u32) -> VTile { return VTile(wts[a + lane4], wts[a + lane4 + 4u]); }
fn w0tile(w0: u32, row0: u32, i: u32, dim: u32) -> VTile {
  return VTile(w0_col(w0, row0 + lane4 * 4u, i, dim), w0_col(w0, row0 + 16u + lane4 * 4u, i, dim));
}
fn w0piece(t: VTile, q: u32) -> vec4f { return vpiece(t, q); }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) sg_lane: u32) {
  lane4 = sg_lane & 3u;
  run_chain(gid.x + gid.y * nwg.x * WG);
}
