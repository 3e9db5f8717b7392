// spectralNorm: torch.nn.utils.spectral_norm's weight computation. One kernel call runs the
// power iteration (updating u and v in place in training), sigma = uᵀ W v and W / sigma; its
// two outputs get a tape node each:
//   sigma            ('spectralNormSigma'): d sigma / dW = u vᵀ, with u and v constants (PyTorch
//                     computes them under no_grad);
//   weight = W / sigma ('spectralNorm'):      the division's rule, whose sigma gradient the engine
//                     carries on to W through sigma's node.
// Both rules are tensor ops, so gradients of gradients work.
import type { Runtime } from '../../kernels/runtime.js';
import { spectralNormKernel } from '../../kernels/spectral-norm.js';
import { fmt } from '../shape.js';
import { checkInputs, defineOp, runOp } from '../tape.js';
import { Tensor } from '../tensor.js';

export interface SpectralNormOptions {
  /** Power iterations per call in training (PyTorch's n_power_iterations). Default 1. */
  nPowerIterations?: number;
  /** The floor of the norm that F.normalize divides by. Default 1e-12. */
  eps?: number;
  /** Iterate and update u, v in place (true, the default), or only read them (eval). */
  training?: boolean;
}

export interface SpectralNormResult {
  /** W / sigma, of the weight's shape. */
  weight: Tensor;
  /** 0-d: uᵀ W v, W read as [shape[0], the product of the rest]. */
  sigma: Tensor;
}

interface SigmaAttrs {
  /** The u and v that sigma was computed with (copies: the caller's are updated again by later calls). */
  u: Tensor;
  v: Tensor;
}

const sigmaDef = defineOp<SigmaAttrs>({
  name: 'spectralNormSigma',
  backward: ({ inputs, attrs }, g) => {
    const w = inputs[0]!;
    return [attrs.u.reshape([w.shape[0]!, 1]).mul(g).mul(attrs.v.reshape([1, attrs.v.size])).reshape(w.shape)];
  },
});

// W / sigma: the division's rule; sigma's share goes on through sigma's own node.
const weightDef = defineOp<Record<string, never>>({
  name: 'spectralNorm',
  backward: ({ inputs, output, needs }, g) => {
    const gw = g.div(inputs[1]!);
    return [gw, needs[1] ? gw.mul(output).sum().neg() : null];
  },
});

const OP = 'spectralNorm';

function checkOptions(opts: SpectralNormOptions): Required<SpectralNormOptions> {
  if (opts === null || typeof opts !== 'object') throw new Error(`${OP}: opts must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const { nPowerIterations = 1, eps = 1e-12, training = true } = opts;
  if (!Number.isInteger(nPowerIterations) || nPowerIterations < 1)
    throw new Error(`${OP}: nPowerIterations must be a positive integer (as in PyTorch), got ${String(nPowerIterations)}`);
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new Error(`${OP}: eps must be a finite number >= 0, got ${String(eps)}`);
  if (typeof training !== 'boolean') throw new Error(`${OP}: training must be a boolean, got ${typeof training}`);
  return { nPowerIterations, eps, training };
}

/** Validates the tensors and returns their device. */
function checkArgs(weight: Tensor, u: Tensor, v: Tensor): Runtime {
  for (const [name, t] of [['weight', weight], ['u', u], ['v', v]] as const)
    if (!(t instanceof Tensor)) throw new Error(`${OP}: ${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  const rt = checkInputs(OP, [weight, u, v]);
  if (weight.rank < 2 || weight.size === 0)
    throw new Error(`${OP}: weight must have rank >= 2 and no zero dims (it is read as [shape[0], product of the rest]), got ${fmt(weight.shape)}`);
  const m = weight.shape[0]!;
  const k = weight.size / m;
  if (u.rank !== 1 || u.shape[0] !== m) throw new Error(`${OP}: u must have shape [${m}] (weight.shape[0] of weight ${fmt(weight.shape)}), got ${fmt(u.shape)}`);
  if (v.rank !== 1 || v.shape[0] !== k)
    throw new Error(`${OP}: v must have shape [${k}] (the product of weight.shape[1:] of weight ${fmt(weight.shape)}), got ${fmt(v.shape)}`);
  for (const [name, t] of [['u', u], ['v', v]] as const)
    if (t.requiresGrad)
      throw new Error(`${OP}: ${name} requires grad, but u and v are power-iteration buffers (PyTorch's weight_u, weight_v): no gradient flows to them and training updates them in place; pass ${name}.detach()`);
  // u and v are bound writable, so none of the three may share a GPU buffer.
  const pairs = [['weight', weight, 'u', u], ['weight', weight, 'v', v], ['u', u, 'v', v]] as const;
  for (const [a, ta, b, tb] of pairs)
    if (ta.storage === tb.storage) throw new Error(`${OP}: ${a} and ${b} share storage; u and v are updated in place, so weight, u and v must be separate tensors`);
  return rt;
}

/**
 * torch.nn.utils.spectral_norm's weight: in training, nPowerIterations rounds of
 * v = normalize(Wᵀ u), u = normalize(W v) written back into u and v; then sigma = uᵀ W v and
 * weight = W / sigma. W of any rank >= 2 is read as the matrix [shape[0], product of the rest].
 */
export function spectralNorm(weight: Tensor, u: Tensor, v: Tensor, opts: SpectralNormOptions = {}): SpectralNormResult {
  const { nPowerIterations, eps, training } = checkOptions(opts);
  const rt = checkArgs(weight, u, v);
  const m = weight.shape[0]!;
  const k = weight.size / m;
  const uUsed = Tensor.empty(rt, [m], 'spectralNorm u');
  const vUsed = Tensor.empty(rt, [k], 'spectralNorm v');
  const s = Tensor.empty(rt, [], 'spectralNorm sigma');
  const normalized = Tensor.empty(rt, weight.shape, 'spectralNorm');
  try {
    const sigma = runOp(sigmaDef, [weight], { u: uUsed, v: vUsed }, () => {
      const bufs = { w: weight.buffer, u: u.buffer, v: v.buffer, wSn: normalized.buffer, sigma: s.buffer, uUsed: uUsed.buffer, vUsed: vUsed.buffer };
      spectralNormKernel(rt, bufs, m, k, training ? nPowerIterations : 0, eps);
      return s;
    });
    const out = runOp(weightDef, [weight, sigma], {}, () => normalized);
    // Without a tape node nothing will read the copies of u and v.
    if (!sigma.node) {
      uUsed.dispose();
      vUsed.dispose();
    }
    return { weight: out, sigma };
  } catch (e) {
    // A failed call leaves nothing behind.
    for (const t of [uUsed, vUsed, s, normalized]) t.dispose();
    throw e;
  }
}
