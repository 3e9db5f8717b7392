// conv2d forward with bias, NCHW. tfjs runs the same sizes in its native NHWC layout through
// its fused conv (bias in the same kernel), the fastest path it has.
import * as ebm from '../src/index.js';
import { CONV_SHAPES, convFlops, convName, oursConvInputs, tfjsConvInputs, type ConvShape } from './conv-shapes.js';
import type { BenchCase, Suite } from './suite.js';

function conv2dCase(s: ConvShape): BenchCase {
  return {
    name: convName(s),
    flops: convFlops(s),
    ours: () => {
      const { x, w, b, dy } = oursConvInputs(s);
      dy.dispose();
      return {
        run: () => ebm.conv2d(x, w, b, { stride: s.stride, padding: s.padding }).dispose(),
        dispose: () => [x, w, b].forEach((t) => t.dispose()),
      };
    },
    tfjs: (tf) => {
      const { x, w, b, dy, pad } = tfjsConvInputs(tf, s);
      dy.dispose();
      return {
        run: () => tf.fused.conv2d({ x, filter: w, bias: b, strides: s.stride, pad }).dispose(),
        dispose: () => tf.dispose([x, w, b]),
      };
    },
  };
}

export function conv2dSuite(shapes: readonly ConvShape[] = CONV_SHAPES): Suite {
  return { name: 'conv2d', missing: () => null, cases: () => shapes.map(conv2dCase) };
}
