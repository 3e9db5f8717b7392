// conv2d backward: the data and the weight gradient of the forward suite's convolutions, from
// a given output gradient. Only the backward passes are timed: ours records the forward once
// and runs backward from it each time (backward leaves the graph in place); tfjs runs the two
// kernels its own conv2d gradient calls.
import type { Tensor } from '@tensorflow/tfjs';
import * as ebm from '../src/index.js';
import { CONV_SHAPES, convFlops, convName, oursConvInputs, tfjsConvInputs, type ConvShape } from './conv-shapes.js';
import type { BenchCase, Suite } from './suite.js';

function clearGrads(ts: readonly ebm.Tensor[]): void {
  for (const t of ts) {
    t.grad?.dispose();
    t.grad = null;
  }
}

function conv2dBackwardCase(s: ConvShape): BenchCase {
  return {
    name: `${convName(s)} dx+dw`,
    // Two passes, each as costly as the forward.
    flops: 2 * convFlops(s),
    ours: () => {
      const { x, w, b, dy } = oursConvInputs(s, true);
      const y = ebm.conv2d(x, w, b, { stride: s.stride, padding: s.padding });
      return {
        run: () => {
          // Fresh gradients each run: accumulating into the last run's would add an add.
          clearGrads([x, w]);
          y.backward(dy);
        },
        dispose: () => {
          clearGrads([x, w]);
          [y, x, w, b, dy].forEach((t) => t.dispose());
        },
      };
    },
    tfjs: (tf) => {
      const { x, w, b, dy, pad } = tfjsConvInputs(tf, s);
      const conv = { strides: s.stride, pad, dataFormat: 'NHWC' };
      return {
        run: () => {
          tf.engine().runKernel<Tensor>(tf.Conv2DBackpropInput, { dy, filter: w }, { ...conv, inputShape: x.shape }).dispose();
          tf.engine().runKernel<Tensor>(tf.Conv2DBackpropFilter, { x, dy }, { ...conv, filterShape: w.shape }).dispose();
        },
        dispose: () => tf.dispose([x, w, b, dy]),
      };
    },
  };
}

export function conv2dBackwardSuite(shapes: readonly ConvShape[] = CONV_SHAPES): Suite {
  return { name: 'conv2d-backward', missing: () => null, cases: () => shapes.map(conv2dBackwardCase) };
}
