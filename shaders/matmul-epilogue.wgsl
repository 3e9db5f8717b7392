// Preamble (after activations.wgsl): the fused epilogue of the f32 matmul kernels,
// C = act(A B + bias), optionally saving the pre-activation Z = A B + bias for the backward
// pass, and the raw product A B (a plain-ops chain h.matmul(W).add(b).silu() folded into one
// dispatch writes each of its intermediates that is still alive: src/tensor/fusion/). With the
// default overrides it folds away to a plain store.
override ACT: u32 = 0u;
override HAS_BIAS: bool = false;
override SAVE_Z: bool = false;
override SAVE_RAW: bool = false;
// The activation's first parameter (leakyRelu's negative slope, elu's alpha, softplus's beta).
override ACT_PARAM: f32 = 0.0;

// bias[n] is added to column n. z_out and raw_out mirror C; each is a placeholder when unused.
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> z_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> raw_out: array<f32>;

fn epilogue(v: f32, col: u32, index: u32) -> f32 {
  if (SAVE_RAW) { raw_out[index] = v; }
  var zv = v;
  if (HAS_BIAS) { zv += bias[col]; }
  if (SAVE_Z) { z_out[index] = zv; }
  return activate(zv, ACT, ACT_PARAM);
}

/** Four consecutive columns col0.. of one row, stored at elements index0... */
fn epilogue4(v: vec4f, col0: u32, index0: u32) -> vec4f {
  return vec4f(epilogue(v.x, col0, index0), epilogue(v.y, col0 + 1u, index0 + 1u), epilogue(v.z, col0 + 2u, index0 + 2u), epilogue(v.w, col0 + 3u, index0 + 3u));
}
