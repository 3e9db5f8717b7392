// spectralNorm(module): torch.nn.utils.spectral_norm as a Module parametrization. The weight
// parameter moves to `${name}_orig`, the power-iteration vectors live in buffers `${name}_u`
// and `${name}_v` (PyTorch's state-dict keys and order), and every forward reads
// W_orig / sigma through the module's param(name): in training mode one ebm.spectralNorm call
// runs nPowerIterations rounds of the power iteration first (updating u and v in place), in
// eval mode none. spectralNorm(weight, u, v, opts) still reaches the tensor op.
import {
  noGrad,
  randn,
  spectralNorm as spectralNormOp,
  tidy,
  Tensor,
  type SpectralNormOptions,
  type SpectralNormResult,
} from '../tensor/index.js';
import { fmt } from '../tensor/shape.js';
import { Module, type Parametrization } from './module.js';
import { Parameter } from './parameter.js';
import { deriveSeed } from './init.js';

export interface SpectralNormModuleOptions {
  /** Power iterations per training-mode forward (default 1). */
  nPowerIterations?: number;
  /** The floor of the norms divided by (default 1e-12). */
  eps?: number;
  /** The parameter to normalise (default 'weight'). */
  name?: string;
  /**
   * The dim of the weight that indexes outputs; only 0 (what torch picks for Linear and Conv2d)
   * is supported.
   */
  dim?: number;
  /** Seeds the random initial u and v; without one they come from the global generator. */
  seed?: number;
}

/** The parametrization spectralNorm installs (torch's SpectralNorm hook object). */
export class SpectralNorm implements Parametrization {
  constructor(
    readonly nPowerIterations: number,
    readonly eps: number,
  ) {}

  /** W_orig / sigma for this forward; in training mode u and v are updated in place first. */
  compute(module: Module, name: string): Tensor {
    const w = module.getParameter(`${name}_orig`);
    const u = module.getBuffer(`${name}_u`);
    const v = module.getBuffer(`${name}_v`);
    const opts = { nPowerIterations: this.nPowerIterations, eps: this.eps, training: module.training };
    if (w.dtype === 'f32' && u.dtype === 'f32' && v.dtype === 'f32') {
      const { weight, sigma } = spectralNormOp(w, u, v, opts);
      // Off the tape, nothing refers to sigma any more.
      if (!weight.node) sigma.dispose();
      return weight;
    }
    // f16 state (toDtype('f16')): the kernel takes f32, so it runs on f32 copies of u and v
    // (written back in training) and on W_orig cast to f32, a recorded cast, so gradients
    // still reach the f16 parameter.
    const [u32, v32] = noGrad(() => [u.to('f32'), v.to('f32')]);
    try {
      const { weight, sigma } = spectralNormOp(w.to('f32'), u32, v32, opts);
      if (!weight.node) sigma.dispose();
      if (module.training)
        noGrad(() =>
          tidy(() => {
            u.assign(u32.to(u.dtype));
            v.assign(v32.to(v.dtype));
          }),
        );
      return weight;
    } finally {
      if (u32 !== u) u32.dispose();
      if (v32 !== v) v32.dispose();
    }
  }

  original(module: Module, name: string): Parameter {
    return module.getParameter(`${name}_orig`);
  }

  /** torch's remove_spectral_norm: `name` becomes a plain parameter holding W_orig / sigma (no iteration). */
  remove(module: Module, name: string): void {
    const weight = noGrad(() => {
      const w = module.getParameter(`${name}_orig`);
      const f32 = (t: Tensor) => (t.dtype === 'f32' ? t.clone() : t.to('f32'));
      return tidy(() => {
        const { weight: wn } = spectralNormOp(w.dtype === 'f32' ? w : w.to('f32'), f32(module.getBuffer(`${name}_u`)), f32(module.getBuffer(`${name}_v`)), {
          eps: this.eps,
          training: false,
        });
        return wn.dtype === w.dtype ? wn : wn.to(w.dtype);
      });
    });
    module.unregisterParametrization(name);
    for (const key of [`${name}_orig`, `${name}_u`, `${name}_v`]) (module.unregister(key) as Tensor | null)?.dispose();
    module.registerParameter(name, Parameter.adopt(weight));
  }

  describe(): string {
    return `spectral_norm(n_power_iterations=${this.nPowerIterations}, eps=${this.eps})`;
  }
}

function checkOptions(opts: SpectralNormModuleOptions): Required<Omit<SpectralNormModuleOptions, 'seed'>> & { seed?: number } {
  if (opts === null || typeof opts !== 'object') throw new Error(`spectralNorm: options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const { nPowerIterations = 1, eps = 1e-12, name = 'weight', dim = 0, seed } = opts;
  if (!Number.isInteger(nPowerIterations) || nPowerIterations < 1)
    throw new Error(`spectralNorm: expected nPowerIterations to be a positive integer (as in PyTorch), got ${String(nPowerIterations)}`);
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) throw new Error(`spectralNorm: eps must be a finite number >= 0, got ${String(eps)}`);
  if (typeof name !== 'string' || name === '' || name.includes('.')) throw new Error(`spectralNorm: name must be a parameter name without dots, got ${JSON.stringify(name)}`);
  if (dim !== 0) throw new Error(`spectralNorm: only dim = 0 (the output dim of Linear and Conv2d weights) is supported, got ${String(dim)}`);
  return { nPowerIterations, eps, name, dim, seed };
}

/** u / max(|u|, eps), like F.normalize(dim=0). */
function normalize(t: Tensor, eps: number): Tensor {
  return t.div(t.square().sum().sqrt().maximum(eps));
}

function applySpectralNorm<M extends Module>(module: M, opts: SpectralNormModuleOptions): M {
  const { nPowerIterations, eps, name, seed } = checkOptions(opts);
  const cls = module.constructor.name;
  const existing = module.parametrizations.get(name);
  if (existing instanceof SpectralNorm) throw new Error(`spectralNorm: cannot register two spectral_norm hooks on the same parameter ${name} of ${cls}`);
  if (existing) throw new Error(`spectralNorm: parameter ${name} of ${cls} is already parametrized`);
  if (module.registeredAs(name) !== 'parameter') throw new Error(`spectralNorm: ${cls} has no parameter '${name}'`);
  const weight = module.rawParameter(name);
  if (!weight) throw new Error(`spectralNorm: cannot be applied as parameter '${name}' of ${cls} is null`);
  for (const key of [`${name}_orig`, `${name}_u`, `${name}_v`]) {
    const kind = module.registeredAs(key);
    if (kind) throw new Error(`spectralNorm: ${cls} already has a ${kind} named '${key}'`);
  }
  if (weight.rank < 2 || weight.size === 0)
    throw new Error(`spectralNorm: parameter '${name}' of ${cls} must have rank >= 2 and no zero dims (it is read as [shape[0], product of the rest]), got ${fmt(weight.shape)}`);
  const h = weight.shape[0]!;
  const w = weight.size / h;
  // torch: u = normalize(N(0, 1) of size h), v = normalize(N(0, 1) of size w), in the weight's dtype.
  const [u, v] = noGrad(() =>
    tidy(() => {
      const make = (n: number, s: number | undefined) => {
        const t = normalize(randn([n], { seed: s, device: weight.device }), eps);
        return t.dtype === weight.dtype ? t : t.to(weight.dtype);
      };
      return [make(h, seed), make(w, deriveSeed(seed, 1))];
    }),
  );
  module.unregister(name);
  module.registerParameter(`${name}_orig`, weight);
  module.registerBuffer(`${name}_u`, u!);
  module.registerBuffer(`${name}_v`, v!);
  module.registerParametrization(name, new SpectralNorm(nPowerIterations, eps));
  return module;
}

/**
 * torch.nn.utils.spectral_norm: reparametrizes `module`'s weight (or opts.name) as
 * W_orig / sigma(W_orig), with sigma from a power iteration on persistent u and v. The state
 * dict then holds `weight_orig`, `weight_u` and `weight_v` in PyTorch's order; training-mode
 * forwards run nPowerIterations rounds, eval-mode forwards none. Returns the module.
 *
 * spectralNorm(weight, u, v, opts) is the tensor op (ebm.spectralNorm): one call, returning
 * { weight: W / sigma, sigma }.
 */
export function spectralNorm<M extends Module>(module: M, opts?: SpectralNormModuleOptions): M;
export function spectralNorm(weight: Tensor, u: Tensor, v: Tensor, opts?: SpectralNormOptions): SpectralNormResult;
export function spectralNorm(...args: unknown[]): unknown {
  if (args[0] instanceof Module) return applySpectralNorm(args[0], (args[1] ?? {}) as SpectralNormModuleOptions);
  return (spectralNormOp as (...a: unknown[]) => SpectralNormResult)(...args);
}

/** torch.nn.utils.remove_spectral_norm: `name` becomes a plain parameter again (appended last, as in torch). */
export function removeSpectralNorm<M extends Module>(module: M, name = 'weight'): M {
  if (!(module instanceof Module)) throw new Error(`removeSpectralNorm: expected a Module, got ${module === null ? 'null' : typeof module}`);
  const p = module.parametrizations.get(name);
  if (!(p instanceof SpectralNorm)) throw new Error(`removeSpectralNorm: spectral_norm of '${name}' not found in ${module.constructor.name}`);
  p.remove(module, name);
  return module;
}
