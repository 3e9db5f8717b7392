// Preamble of conv2d-direct.wgsl, conv2d-direct-dgrad.wgsl and conv2d-direct-wgrad.wgsl: the
// convolution's geometry as the direct kernels read it (src/kernels/conv2d.ts's directParams).
// `lanes` is the forward's stride between an invocation's pixel blocks and the weight
// gradient's output rows per chunk; the data gradient ignores it.
struct Params {
  batch: u32,
  in_c: u32,
  in_h: u32,
  in_w: u32,
  out_c: u32,
  out_h: u32,
  out_w: u32,
  k_h: u32,
  k_w: u32,
  stride_h: u32,
  stride_w: u32,
  pad_h: u32,
  pad_w: u32,
  dil_h: u32,
  dil_w: u32,
  lanes: u32,
}

// Lanes per workgroup, and the weight's shape as constants, so that the tap loops unroll and
// registers holding weights or taps are indexed statically (the wrapper checks the sizes).
override WG: u32 = 64u;
override CIN: u32 = 1u;
override KH: u32 = 3u;
override KW: u32 = 3u;
