// conv2d backward: the data and the weight gradient of the forward suite's convolutions, from
// a given output gradient. Only the backward passes are timed: ours records the forward once
// and runs backward from it each time (backward leaves the graph in place); tfjs runs the two
// kernels its own conv2d gradient calls; jax-js a jitted vjp of its conv (the primal output is
// unused, so its jit may drop the forward).
import type { Array as JaxArray } from '@jax-js/jax';
import type { Tensor } from '@tensorflow/tfjs';
import * as ebm from '../src/index.js';
import { CONV_SHAPES, convFlops, convName, oursConvInputs, tfjsConvInputs, type ConvShape } from './conv-shapes.js';
import { jaxConv, jaxConvInputs } from './conv2d.js';
import type { BenchCase, Suite } from './suite.js';

/** Takes a tensor's gradient away from it: the run's output, which the runner reads and frees. */
function takeGrad(t: ebm.Tensor): ebm.Tensor {
  const g = t.grad;
  if (!g) throw new Error('backward left no gradient');
  t.grad = null;
  return g;
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
          // Fresh gradients each run (the last run's were taken): no accumulating add.
          y.backward(dy);
          return [takeGrad(x), takeGrad(w)];
        },
        dispose: () => [y, x, w, b, dy].forEach((t) => t.dispose()),
      };
    },
    tfjs: (tf) => {
      const { x, w, b, dy, pad } = tfjsConvInputs(tf, s);
      const conv = { strides: s.stride, pad, dataFormat: 'NHWC' };
      return {
        run: () => [
          tf.engine().runKernel<Tensor>(tf.Conv2DBackpropInput, { dy, filter: w }, { ...conv, inputShape: x.shape }),
          tf.engine().runKernel<Tensor>(tf.Conv2DBackpropFilter, { x, dy }, { ...conv, filterShape: w.shape }),
        ],
        dispose: () => tf.dispose([x, w, b, dy]),
      };
    },
    jax: (jax) => {
      const { x, w, b, dy } = jaxConvInputs(jax, s);
      b.dispose();
      const conv = jaxConv(jax, s);
      const f = jax.jit((x: JaxArray, w: JaxArray, dy: JaxArray) => {
        const [y, pullback] = jax.vjp(conv, [x, w]);
        y.dispose();
        const grads = pullback(dy);
        pullback.dispose();
        return grads;
      });
      return {
        run: () => f(x.ref, w.ref, dy.ref),
        dispose: () => (x.dispose(), w.dispose(), dy.dispose(), f.dispose()),
      };
    },
  };
}

export function conv2dBackwardSuite(shapes: readonly ConvShape[] = CONV_SHAPES): Suite {
  return { name: 'conv2d-backward', missing: () => null, cases: () => shapes.map(conv2dBackwardCase) };
}
