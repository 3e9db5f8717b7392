// g * act'(x) in one dispatch (shaders/activation-grad.wgsl, as linear's backward uses): the
// activations' unary-op backward when no graph is recorded, instead of a chain of elementwise
// ops per activation (silu's derivative alone is five).
import { activationGradKernel } from '../../kernels/elementwise.js';
import type { Activation } from '../../kernels/activation-table.js';
import { Tensor } from '../tensor.js';

/** g * act'(x) for x the activation's input and g the gradient of its output (same shape, f32); p0 its first parameter. */
export function activationGrad(activation: Activation, p0: number, g: Tensor, x: Tensor): Tensor {
  const out = Tensor.empty(g.device, g.shape, `${activation}.grad`);
  if (out.size) activationGradKernel(g.device, activation, p0, g.buffer, x.buffer, out.buffer, out.size);
  return out;
}
