// preambles: philox.wgsl+activations.wgsl+langevin-mlp.wgsl
// The fused Langevin MLP sampler (langevin-mlp.wgsl) without subgroups, the standard GPU way:
// the workgroup loads each chunk of matrix tiles (up to CHUNK tiles of 32 vec4s, 8 KiB) into
// workgroup memory between two barriers, every invocation reading it from there. Vectors (bias,
// w_out) and layer 0's weights (dim <= 16 columns) are read straight from storage at addresses
// shared by the whole workgroup (a broadcast from the cache on a GPU). Runs on any adapter;
// on lavapipe a workgroup-memory load costs more than a storage load, so the subgroup
// schedules are chosen there.

const CHUNK = 16u;
var<workgroup> wmem: array<vec4f, 512>;  // CHUNK * 32
var<private> lid: u32;

// Loads tiles s = 0 .. n - 1 (tile s's piece q, column k: wts[a0 + s step + q qs + k ks]) into
// wmem[s * 32 + q * 4 + k], all invocations together.
fn stage(a0: u32, step: u32, qs: u32, ks: u32, n: u32) {
  for (var e = lid; e < n * 32u; e += WG) {
    let s = e >> 5u;
    let q = (e >> 2u) & 7u;
    let k = e & 3u;
    wmem[e] = wts[a0 + s * step + q * qs + k * ks];
  }
  workgroupBarrier();
}

// Nobody overwrites the chunk until every invocation is done with it.
fn release() { workgroupBarrier(); }

// A tile is its place in wmem.
fn tile(a: u32, qs: u32, ks: u32, slot: u32) -> u32 { return slot * 32u; }

fn mpiece(t: u32, q: u32) -> mat4x4f {
  let b = t + q * 4u;
  return mat4x4f(wmem[b], wmem[b + 1u], wmem[b + 2u], wmem[b + 3u]);
}

// Vector pieces: read where they are used.
fn vtile(a: u32) -> u32 { return a; }
fn vpiece(t: u32, q: u32) -> vec4f { return wts[t + q]; }
fn w0tile(w0: u32, row0: u32, i: u32, dim: u32) -> vec4u { return vec4u(w0, row0, i, dim); }
fn w0piece(t: vec4u, q: u32) -> vec4f { return w0_col(t.x, t.y + q * 4u, t.z, t.w); }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  lid = li;
  run_chain(gid.x + gid.y * nwg.x * WG);
}
