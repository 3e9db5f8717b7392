// preambles: subgroups.wgsl+activations.wgsl+conv2d-common.wgsl
// The packed GEMM of conv2d forward and dgrad (conv2d.wgsl's conv_packed) for software adapters
// with subgroups of at least 8 lanes (lavapipe: one AVX2 register). All lanes of a workgroup
// compute the same TM GEMM rows (output channels, or input channels in dgrad) for different
// pixels, so in conv_packed every lane loads the same weight vec4s, and lavapipe does not
// broadcast a load whose address is uniform: it costs as much as TP pixel loads would. Here
// the TM x 4 weights of a channel group (TM vec4s over four rows each) are loaded TM / 8 per
// lane, and subgroupShuffle hands them round (a register permute): per channel group a lane
// loads TP + TM / 8 vec4s for 4 TM TP multiply-adds, against TP + TM in conv_packed.
// TM is 8 or 16 and TP * TM / 4 <= 16 (the wrapper picks them).

@compute @workgroup_size(WG)
fn conv_subgroup(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let g = pass_grid(wid.z);
  let c4 = (params.pack_c + 3u) / 4u;
  let wp = params.pack_wp;
  var pb = pixel_block(g, ((params.wg_x0 + wid.x) * WG + lid) * TP);
  let groups = TM / 4u;
  let m0 = wid.y * TM;
  let row_len = params.tap_max_h * params.tap_max_w * c4 * 4u;
  let last_group = (g.rows + 3u) / 4u - 1u;
  // Lane l loads, for each j < TM / 8, row group 2j + l / 4's weights of channel l % 4.
  let l8 = lane % 8u;
  var wrow: array<u32, 2>;
  for (var j = 0u; j < TM / 8u; j++) {
    wrow[j] = (wid.z * (last_group + 1u) + min(m0 / 4u + 2u * j + l8 / 4u, last_group)) * row_len + l8 % 4u;
  }

  var acc: array<vec4f, 16>;
  for (var th = 0u; th < g.taps_h; th++) {
    for (var tw = 0u; tw < g.taps_w; tw++) {
      let xt = (th * g.tap_dil_h * wp + tw * g.tap_dil_w) * c4;
      let wt = (th * params.tap_max_w + tw) * c4 * 4u;
      for (var c = 0u; c < c4; c++) {
        var xv: array<vec4f, 8>;
        for (var k = 0u; k < TP; k++) { xv[k] = a4[pb.xoff[k] + xt + c]; }
        for (var j = 0u; j < TM / 8u; j++) {
          let mine = b4[wrow[j] + wt + 4u * c];
          for (var h = 0u; h < 2u; h++) {
            let q = 2u * j + h;
            let w0 = subgroupShuffle(mine, 4u * h);
            let w1 = subgroupShuffle(mine, 4u * h + 1u);
            let w2 = subgroupShuffle(mine, 4u * h + 2u);
            let w3 = subgroupShuffle(mine, 4u * h + 3u);
            for (var k = 0u; k < TP; k++) {
              acc[k * groups + q] += xv[k].x * w0 + xv[k].y * w1 + xv[k].z * w2 + xv[k].w * w3;
            }
          }
        }
      }
    }
  }
  store_block(g, &pb, &acc, m0);
}
