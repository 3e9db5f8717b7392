// The networks, the Langevin step and Adam written in jax-js, the way its users write them:
// pure functions of their parameters, `grad` / `valueAndGrad`, the step `jit`ted once and called
// per step. jax-js moves arrays into calls: a parameter list is passed as `tree.ref(params)` to
// keep it, and any array used twice inside a function is taken with `.ref` the first time.
import type { Array as JaxArray } from '@jax-js/jax';
import type { Jax } from './jax-peer.js';

/** A layer's [W, b] with PyTorch's default init bounds, U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
export function jaxLayer(jax: Jax, wShape: number[], fanIn: number, out: number, seed: number): JaxArray[] {
  const { random } = jax;
  const bound = 1 / Math.sqrt(fanIn);
  return [
    random.uniform(random.key(seed), wShape, { minval: -bound, maxval: bound }),
    random.uniform(random.key(seed + 1), [out], { minval: -bound, maxval: bound }),
  ];
}

/** An MLP's parameters, W as [in, out] (so h @ W): [W1, b1, W2, b2, ...]. */
export function jaxMlpParams(jax: Jax, widths: readonly number[], seed: number): JaxArray[] {
  return widths.slice(1).flatMap((out, i) => jaxLayer(jax, [widths[i]!, out], widths[i]!, out, seed + 2 * i));
}

/** h -> silu(h W + b) for every layer but the last, which has no activation. */
export function jaxMlp(jax: Jax, params: readonly JaxArray[], x: JaxArray): JaxArray {
  const { numpy: np, nn } = jax;
  let h = x;
  for (let i = 0; i < params.length; i += 2) {
    const z = np.matmul(h, params[i]!).add(params[i + 1]!);
    h = i + 2 < params.length ? nn.silu(z) : z;
  }
  return h;
}

/**
 * One jitted Langevin step for an energy E(params, x) of shape [batch]:
 * x <- x - h dE/dx + sigma eps, eps ~ N(0, I) from the key (sigma = noiseScale sqrt(2h)),
 * then clipped to the box `clamp` when one is given (the image chains).
 */
export function jaxLangevinStep(jax: Jax, energy: (params: JaxArray[], x: JaxArray) => JaxArray, h: number, sigma: number, clamp?: { min: number; max: number }) {
  const { random, numpy: np } = jax;
  const energySum = (x: JaxArray, params: JaxArray[]) => energy(params, x).sum();
  return jax.jit((x: JaxArray, params: JaxArray[], key: JaxArray) => {
    const g = jax.grad(energySum)(x.ref, params);
    const eps = random.normal(key, x.shape);
    const next = x.sub(g.mul(h)).add(eps.mul(sigma));
    return clamp ? np.clip(next, clamp.min, clamp.max) : next;
  });
}

/** Runs `steps` jitted Langevin steps from x (consumed); keys from consecutive seeds. */
export function jaxChain(jax: Jax, step: ReturnType<typeof jaxLangevinStep>, x: JaxArray, params: readonly JaxArray[], steps: number, seed: number): JaxArray {
  for (let t = 0; t < steps; t++) x = step(x, jax.tree.ref([...params]), jax.random.key(seed + t));
  return x;
}

export interface JaxAdamState {
  params: JaxArray[];
  m: JaxArray[];
  v: JaxArray[];
  t: number;
}

export const ADAM = { b1: 0.9, b2: 0.999, eps: 1e-8 } as const;

export function jaxAdamState(jax: Jax, params: JaxArray[]): JaxAdamState {
  const zeros = () => params.map((p) => jax.numpy.zerosLike(p.ref));
  return { params, m: zeros(), v: zeros(), t: 0 };
}

export interface JaxAdamStep {
  /** One step: updates `s` in place (the old arrays are consumed) and returns the loss. */
  apply(s: JaxAdamState, data: JaxArray[]): JaxArray;
  dispose(): void;
}

export interface JaxAdamOptions {
  /** Adam's (beta1, beta2); default ADAM's (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Clip the gradients to this global L2 norm first (PyTorch's clip_grad_norm_); default none. */
  maxGradNorm?: number;
}

/**
 * A jitted training step: the loss's value and gradient, optionally clipped to a global norm
 * (g * min(1, maxNorm / (N + 1e-6)), PyTorch's clip_grad_norm_), then Adam (PyTorch's formula,
 * the bias corrections passed in as scalars so one compiled step serves every t).
 */
export function jaxAdamStep(jax: Jax, loss: (params: JaxArray[], data: JaxArray[]) => JaxArray, lr: number, opts: JaxAdamOptions = {}): JaxAdamStep {
  const { numpy: np } = jax;
  const { eps } = ADAM;
  const [b1, b2] = opts.betas ?? [ADAM.b1, ADAM.b2];
  const maxNorm = opts.maxGradNorm;
  const clip = (grads: JaxArray[]): JaxArray[] => {
    if (maxNorm === undefined) return grads;
    const norm = np.sqrt(grads.map((g) => np.sum(np.square(g.ref))).reduce((a, b) => a.add(b)));
    const scale = np.minimum(np.divide(maxNorm, norm.add(1e-6)), 1);
    const out = grads.map((g) => g.mul(scale.ref));
    scale.dispose();
    return out;
  };
  const step = jax.jit((params: JaxArray[], m: JaxArray[], v: JaxArray[], c1: JaxArray, c2: JaxArray, data: JaxArray[]): JaxArray[][] => {
    const [value, raw] = jax.valueAndGrad(loss)(params.map((p) => p.ref), data);
    const grads = clip(raw);
    const m2 = m.map((mi, i) => mi.mul(b1).add(grads[i]!.ref.mul(1 - b1)));
    const v2 = v.map((vi, i) => vi.mul(b2).add(np.square(grads[i]!).mul(1 - b2)));
    const p2 = params.map((p, i) => {
      const mHat = m2[i]!.ref.mul(c1.ref);
      const vHat = v2[i]!.ref.mul(c2.ref);
      return p.sub(mHat.mul(lr).div(np.sqrt(vHat).add(eps)));
    });
    c1.dispose();
    c2.dispose();
    return [[value], p2, m2, v2];
  });
  return {
    apply(s, data) {
      s.t++;
      const c1 = np.array(1 / (1 - b1 ** s.t));
      const c2 = np.array(1 / (1 - b2 ** s.t));
      const [[value], params, m, v] = step(s.params, s.m, s.v, c1, c2, data) as [[JaxArray], JaxArray[], JaxArray[], JaxArray[]];
      Object.assign(s, { params, m, v });
      return value;
    },
    dispose: () => step.dispose(),
  };
}
