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

  let runs = tap_runs(g, c4);
  var acc: array<vec4f, 16>;
  for (var th = 0u; th < g.taps_h; th++) {
    for (var tw = 0u; tw < g.taps_w; tw += runs.y) {
      let xt = (th * g.tap_dil_h * wp + tw * g.tap_dil_w) * c4;
      let wt = (th * params.tap_max_w + tw) * c4 * 4u;
      for (var c = 0u; c < runs.x; c++) {
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

/**
 * fwd and dgrad with pixels as the GEMM's rows (matmul-subgroup.wgsl's `nn` with A the implicit
 * im2col matrix): a workgroup of WG lanes takes 8 pixels (workgroup_id.x) and WG groups of 4
 * channel rows (output channels in fwd, input channels in dgrad; workgroup_id.y). Each lane
 * loads one of the 8 pixels' image vec4s (4 reduction channels at a tap) and subgroupShuffle
 * hands them round; its own weights are the packed weight's 4 vec4s of that channel group.
 * Per 4 reduction channels a lane loads 5 vec4s for 128 multiply-adds, and the weights it
 * streams are small enough to stay in cache, where conv_subgroup (channel rows, pixels per
 * lane) streams the image through every lane: on lavapipe this orientation ran the same GEMMs
 * about twice as fast (a plain matmul likewise: [6272, 288] x [288, 64] 26 ms against 52 ms for
 * its transpose). Needs TP = 1 (pixel_block's one pixel per lane).
 */
@compute @workgroup_size(WG)
fn conv_pixel_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let g = pass_grid(wid.z);
  let c4 = (params.pack_c + 3u) / 4u;
  let wp = params.pack_wp;
  let p0 = (params.wg_x0 + wid.x) * 8u;
  // The pixel this lane loads for its subgroup, and where the 8 pixels' results go.
  let xoff = pixel_block(g, p0 + lane % 8u).xoff[0];
  let groups = (g.rows + 3u) / 4u;
  let cg = wid.y * WG + lid;
  let row_len = params.tap_max_h * params.tap_max_w * c4 * 4u;
  let wrow = (wid.z * groups + min(cg, groups - 1u)) * row_len;
  // Where taps along a row are one pixel apart (tap_dil_w = 1), a row's taps and channels are
  // consecutive in both packed operands: one run of taps_w * c4 vec4s (see tap_runs).
  let runs = tap_runs(g, c4);
  var acc: array<vec4f, 8>;
  for (var th = 0u; th < g.taps_h; th++) {
    for (var tw = 0u; tw < g.taps_w; tw += runs.y) {
      let xt = xoff + (th * g.tap_dil_h * wp + tw * g.tap_dil_w) * c4;
      let wt = wrow + (th * params.tap_max_w + tw) * c4 * 4u;
      for (var c = 0u; c < runs.x; c++) {
        let mine = a4[xt + c];
        let wb = wt + 4u * c;
        let w0 = b4[wb];
        let w1 = b4[wb + 1u];
        let w2 = b4[wb + 2u];
        let w3 = b4[wb + 3u];
        for (var r = 0u; r < 8u; r++) {
          let xr = subgroupShuffle(mine, r);
          acc[r] += xr.x * w0 + xr.y * w1 + xr.z * w2 + xr.w * w3;
        }
      }
    }
  }
  if (cg >= groups) { return; }
  let plane = out_plane(g);
  for (var r = 0u; r < 8u; r++) {
    let yoff = pixel_block(g, p0 + r).yoff[0];
    if (yoff == NONE) { continue; }
    for (var l = 0u; l < 4u; l++) {
      let row = cg * 4u + l;
      let index = yoff + row * plane;
      if (row < g.rows) {
        if (MODE == MODE_fwd) {
          out[index] = finish(acc[r][l], row, index);
        } else {
          out[index] = acc[r][l];
        }
      }
    }
  }
}

/**
 * wgrad as matmul-subgroup.wgsl's `tn` GEMM, dW[o, (tap, c)] = sum_p dy[p, o] x[p + tap, c]
 * over a chunk of output pixels p (workgroup_id.z; the wrapper sums the chunks' partial
 * blocks). A lane owns one column group (a tap and 4 input channels, read as one vec4 of the
 * packed image at the pixel's tap offset: the im2col matrix is never written) and 8 output
 * channels, shared by its workgroup; dy comes packed [N, OH, OW, O/4]. Lanes 2j and 2j + 1
 * load dy's channels o..o+3 and o+4..o+7 of pixel p0 + j, and shuffles hand them round: per 4
 * pixels a lane loads 4 x vec4s and one dy vec4 for 128 multiply-adds.
 */
@compute @workgroup_size(WG)
fn wgrad_subgroup(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let c4 = (params.in_c + 3u) / 4u;
  let o4 = (params.out_c + 3u) / 4u;
  let kk = params.k_h * params.k_w;
  let n4 = kk * c4;
  let col4 = (params.wg_x0 + wid.x) * WG + lid;
  let cg = min(col4, n4 - 1u);
  let t = cg / c4;
  let c = cg % c4;
  let toff = ((t / params.k_w) * params.dil_h * params.pack_wp + (t % params.k_w) * params.dil_w) * c4 + c;
  let row0 = wid.y * 8u;
  let og = min(row0 / 4u + lane % 2u, o4 - 1u);
  let a_k = (lane % 8u) / 2u;
  let row_begin = wid.z * params.rows_per_chunk;
  let row_end = min(row_begin + params.rows_per_chunk, params.batch * params.out_h);
  let k_end = row_end * params.out_w;
  let x_step = params.stride_w * c4;
  // The pixel walk: output row `row` (n, oh) and column ow of pixel k.
  var row = row_begin;
  var ow = 0u;
  var rbase = ((row / params.out_h) * params.pack_hp + (row % params.out_h) * params.stride_h) * params.pack_wp * c4 + toff;
  var acc: array<vec4f, 8>;
  for (var k0 = row_begin * params.out_w; k0 < k_end; k0 += 4u) {
    let ka = k0 + a_k;
    let mine = select(vec4f(0.0), b4[min(ka, k_end - 1u) * o4 + og], ka < k_end);
    for (var j = 0u; j < 4u; j++) {
      // Past the chunk's end dy is zero; x is read at a safe index.
      let bv = a4[select(0u, rbase + ow * x_step, k0 + j < k_end)];
      let lo = subgroupShuffle(mine, 2u * j);
      let hi = subgroupShuffle(mine, 2u * j + 1u);
      acc[0] += lo.x * bv;
      acc[1] += lo.y * bv;
      acc[2] += lo.z * bv;
      acc[3] += lo.w * bv;
      acc[4] += hi.x * bv;
      acc[5] += hi.y * bv;
      acc[6] += hi.z * bv;
      acc[7] += hi.w * bv;
      ow++;
      if (ow == params.out_w) {
        ow = 0u;
        row++;
        rbase = ((row / params.out_h) * params.pack_hp + (row % params.out_h) * params.stride_h) * params.pack_wp * c4 + toff;
      }
    }
  }
  if (col4 >= n4) { return; }
  // Partial block z of dw: [o, c, kh, kw].
  for (var r = 0u; r < 8u; r++) {
    let o = row0 + r;
    if (o >= params.out_c) { break; }
    for (var l = 0u; l < 4u; l++) {
      let ch = c * 4u + l;
      if (ch < params.in_c) { out[((wid.z * params.out_c + o) * params.in_c + ch) * kk + t] = acc[r][l]; }
    }
  }
}
