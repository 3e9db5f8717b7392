// conv2d-gemm: each conv2d case's forward as the plain matmul of the same implicit GEMM,
// [batch * OH * OW, Cin * KH * KW] @ [Cin * KH * KW, Cout] (pixels as rows, as our forward
// runs it on CPU adapters), on every side. It is the yardstick for "conv2d at matmul speed":
// the conv2d suite's time over this one's is what the convolution costs beyond its arithmetic
// (packing the image, the taps' address arithmetic, NCHW stores), and the peers' ratios here say
// how much of a conv ratio is their matmul's.
import { CONV_SHAPES, convFlops, convName, convOutSize, type ConvShape } from './conv-shapes.js';
import { jaxMatmul, matmulName, oursMatmul, tfjsMatmul, type MatmulShape } from './matmul.js';
import type { BenchCase, Suite } from './suite.js';

/** The forward's implicit GEMM of a conv shape. */
export function convGemm(s: ConvShape): MatmulShape {
  return { m: s.batch * convOutSize(s) ** 2, k: s.inChannels * s.kernel * s.kernel, n: s.outChannels };
}

export function conv2dGemmSuite(shapes: readonly ConvShape[] = CONV_SHAPES): Suite {
  return {
    name: 'conv2d-gemm',
    missing: () => null,
    cases: () =>
      shapes.map((s): BenchCase => {
        const g = convGemm(s);
        return {
          name: `${convName(s).replace(/ k\d+ s\d+ p\d+$/, '')} ${matmulName(g)}`,
          flops: convFlops(s),
          ours: () => oursMatmul(g),
          tfjs: (tf) => tfjsMatmul(tf, g),
          jax: (jax) => jaxMatmul(jax, g),
        };
      }),
  };
}
