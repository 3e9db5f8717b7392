// conv2d forward with bias, NCHW. tfjs runs the same sizes in its native NHWC layout through
// its fused conv (bias in the same kernel), the fastest path it has; jax-js a jitted
// lax.convGeneralDilated plus the bias (NCHW / OIHW, as ours), which its jit may fuse.
import type { Array as JaxArray } from '@jax-js/jax';
import * as ebm from '../src/index.js';
import { CONV_SHAPES, convFlops, convName, convOutSize, oursConvInputs, tfjsConvInputs, type ConvShape } from './conv-shapes.js';
import type { Jax } from './jax-peer.js';
import type { BenchCase, Suite } from './suite.js';

/** jax-js inputs of the same shapes and scales as ours: x, w (OIHW), b, dy. */
export function jaxConvInputs(jax: Jax, s: ConvShape) {
  const { random } = jax;
  const o = convOutSize(s);
  const std = 1 / Math.sqrt(s.inChannels * s.kernel * s.kernel);
  return {
    x: random.normal(random.key(1), [s.batch, s.inChannels, s.size, s.size]),
    w: random.normal(random.key(2), [s.outChannels, s.inChannels, s.kernel, s.kernel]).mul(std),
    b: random.normal(random.key(3), [s.outChannels]).mul(std),
    dy: random.normal(random.key(4), [s.batch, s.outChannels, o, o]),
  };
}

/** lax.conv with PyTorch's symmetric padding. */
export const jaxConv = (jax: Jax, s: ConvShape) => (x: JaxArray, w: JaxArray) =>
  jax.lax.convGeneralDilated(x, w, [s.stride, s.stride], [
    [s.padding, s.padding],
    [s.padding, s.padding],
  ]);

function conv2dCase(s: ConvShape): BenchCase {
  return {
    name: convName(s),
    flops: convFlops(s),
    ours: () => {
      const { x, w, b, dy } = oursConvInputs(s);
      dy.dispose();
      return {
        run: () => ebm.conv2d(x, w, b, { stride: s.stride, padding: s.padding }),
        dispose: () => [x, w, b].forEach((t) => t.dispose()),
      };
    },
    tfjs: (tf) => {
      const { x, w, b, dy, pad } = tfjsConvInputs(tf, s);
      dy.dispose();
      return {
        run: () => tf.fused.conv2d({ x, filter: w, bias: b, strides: s.stride, pad }),
        dispose: () => tf.dispose([x, w, b]),
      };
    },
    jax: (jax) => {
      const { x, w, b, dy } = jaxConvInputs(jax, s);
      dy.dispose();
      const conv = jaxConv(jax, s);
      const f = jax.jit((x: JaxArray, w: JaxArray, b: JaxArray) => conv(x, w).add(b.reshape([1, s.outChannels, 1, 1])));
      return {
        run: () => f(x.ref, w.ref, b.ref),
        dispose: () => (x.dispose(), w.dispose(), b.dispose(), f.dispose()),
      };
    },
  };
}

export function conv2dSuite(shapes: readonly ConvShape[] = CONV_SHAPES): Suite {
  return { name: 'conv2d', missing: () => null, cases: () => shapes.map(conv2dCase) };
}
