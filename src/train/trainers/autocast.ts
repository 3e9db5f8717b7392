// Runs a model's Linear layers with f16 matmuls for the duration of a call: the weights are
// cast to f16 ONCE per call (on the tape, so gradients reach the f32 master weights through
// the cast), every input is cast as it enters a layer, and ebm.matmul multiplies the two f16
// operands with f32 accumulation and an f32 result; the bias and the activation follow in f32.
// (The fused ebm.linear epilogue is f32-only, so the mixed path is matmul + add + activation.)
// The layers are patched per instance and restored afterwards; nothing of the model changes.
import { Linear } from '../../nn/layers/linear.js';
import type { Module } from '../../nn/module.js';
import { type Activation, applyActivation, matmulT, Tensor } from '../../tensor/index.js';


/** The Linear layers of `model` (itself included), each once. */
export function linearLayers(model: Module): Linear[] {
  return model.modules().filter((m): m is Linear => m instanceof Linear);
}

/**
 * Calls fn with model's Linear layers computing act(x Wᵀ + b) as f16(x) @ f16(W)ᵀ (f32
 * accumulation) + b. The f16 weights are made now, in the caller's tidy scope.
 */
export function withF16Matmuls<T>(model: Module, fn: () => T): T {
  const layers = linearLayers(model);
  const weights = layers.map((m) => m.param('weight')!.to('f16'));
  layers.forEach((m, i) => {
    const w16 = weights[i]!;
    const forwardActivated = (x: Tensor, activation: Activation = 'none', negativeSlope?: number): Tensor => {
      if (!(x instanceof Tensor) || x.rank < 1 || x.shape[x.rank - 1] !== m.inFeatures)
        throw new Error(`Linear(in_features=${m.inFeatures}, out_features=${m.outFeatures}): expected input of shape [..., ${m.inFeatures}], got ${x instanceof Tensor ? `[${x.shape.join(', ')}]` : typeof x}`);
      const x2 = x.reshape([-1, m.inFeatures]).to('f16');
      let y = matmulT(x2, w16, false, true);
      const b = m.param('bias');
      if (b) y = y.add(b.dtype === 'f32' ? b : b.to('f32'));
      y = applyActivation(y, activation, negativeSlope);
      return y.reshape([...x.shape.slice(0, -1), m.outFeatures]);
    };
    Object.defineProperty(m, 'forwardActivated', { value: forwardActivated, configurable: true, writable: true, enumerable: false });
  });
  try {
    return fn();
  } finally {
    for (const m of layers) delete (m as unknown as Record<string, unknown>).forwardActivated;
  }
}
