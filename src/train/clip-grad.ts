// Gradient clipping by the global norm (PyTorch's torch.nn.utils.clip_grad_norm_): with
// N = sqrt(sum over every gradient element of g^2), each gradient becomes g * min(1, maxNorm /
// (N + 1e-6)). Image EBMs clip (IGEBM; the UvA tutorial clips at 0.1) because one sharp
// negative can give a gradient that throws the energy far off in one step. All on the GPU: no
// readback, the scale is a tensor. A NaN or inf gradient makes N, and so every gradient, NaN,
// which the trainers' finite check then catches as before.
import { keep, noGrad, tidy, Tensor } from '../tensor/index.js';
import { describe } from './samplers/options.js';

/**
 * Scales the gradients of `params` (tensors with .grad; those without are skipped) in place so
 * that their global L2 norm is at most maxNorm. Returns the norm before clipping, a GPU scalar
 * [] the caller owns (undefined when no parameter has a gradient).
 */
export function clipGradNorm_(params: Iterable<Tensor>, maxNorm: number): Tensor | undefined {
  const where = 'clipGradNorm_';
  if (typeof maxNorm !== 'number' || !Number.isFinite(maxNorm) || maxNorm <= 0) throw new Error(`${where}: maxNorm must be a finite number > 0, got ${describe(maxNorm)}`);
  if (params === null || typeof params !== 'object' || !(Symbol.iterator in params)) throw new Error(`${where}: params must be an iterable of tensors, got ${describe(params)}`);
  const list = [...params];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new Error(`${where}: params[${i}] is not a Tensor (got ${describe(p)})`);
  });
  const withGrad = list.filter((p) => p.grad);
  if (withGrad.length === 0) return undefined;
  return noGrad(() =>
    tidy(() => {
      let sq: Tensor | null = null;
      for (const p of withGrad) {
        const s = p.grad!.square().sum();
        sq = sq ? sq.add(s) : s;
      }
      const norm = sq!.sqrt();
      const scale = norm.add(1e-6).reciprocal().mul(maxNorm).minimum(1);
      for (const p of withGrad) {
        const g = p.grad!;
        const scaled = g.mul(scale);
        g.dispose();
        p.grad = keep(scaled);
      }
      return norm;
    }),
  );
}
