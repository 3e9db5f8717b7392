// Each activation's forward and derivative as tensor ops, one row per name of the activation
// table (src/kernels/activation-table.ts: names, WGSL codes, PyTorch names, parameters). The
// unary ops' gradient rules, linear's unfused path and its createGraph backward all read these
// rows, so the derivative is written once here (and once in WGSL, activate_grad, which
// test/activations.test.ts checks against it).
import { ACTIVATION_NAMES, ACTIVATION_TABLE, defaultActivationParam, type Activation, type ActivationRow } from '../kernels/activation-table.js';
import { add, gt, sub, where } from './ops/binary.js';
import type { Tensor } from './tensor.js';

export { ACTIVATION_NAMES, ACTIVATION_TABLE, defaultActivationParam, type Activation };

export interface ActivationOps {
  /** act(x). `params`: the row's parameters in table order, defaults filled in. */
  readonly forward: (x: Tensor, params: readonly number[]) => Tensor;
  /**
   * act'(x) in differentiable ops (so gradients of gradients work); y = act(x), given because
   * some derivatives are cheapest from the output (tanh, sigmoid, elu).
   */
  readonly derivative: (x: Tensor, y: Tensor, params: readonly number[]) => Tensor;
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export const ACTIVATION_OPS = {
  none: {
    forward: (x) => x,
    derivative: (x) => x.mul(0).add(1),
  },
  relu: {
    forward: (x) => x.relu(),
    // PyTorch's conventions: relu'(0) = 0, and relu'(NaN) = 1 (torch masks out x <= 0, which
    // NaN is not), hence 1 - [x <= 0] rather than [x > 0].
    derivative: (x) => x.le(0).neg().add(1),
  },
  leakyRelu: {
    forward: (x, [slope]) => x.leakyRelu(slope),
    derivative: (x, _y, [slope]) => x.step(0).mul(1 - slope!).add(slope!),
  },
  silu: {
    forward: (x) => x.silu(),
    derivative: (x) => {
      const s = x.sigmoid();
      return s.mul(add(1, x.mul(sub(1, s))));
    },
  },
  tanh: {
    forward: (x) => x.tanh(),
    derivative: (_x, y) => sub(1, y.square()),
  },
  gelu: {
    forward: (x) => x.gelu(),
    // d/dx x Φ(x) = Φ(x) + x φ(x); Φ through erfc keeps precision for x << 0.
    derivative: (x) => x.mul(-SQRT1_2).erfc().mul(0.5).add(x.mul(x.square().mul(-0.5).exp()).mul(INV_SQRT_2PI)),
  },
  sigmoid: {
    forward: (x) => x.sigmoid(),
    derivative: (_x, y) => y.mul(sub(1, y)),
  },
  elu: {
    forward: (x, [alpha]) => x.elu(alpha),
    // alpha e^x = y + alpha below 0.
    derivative: (x, y, [alpha]) => where(gt(x, 0), 1, y.add(alpha!)),
  },
  softplus: {
    forward: (x, [beta, threshold]) => x.softplus(beta, threshold),
    // Linear (slope 1) where beta x > threshold, sigmoid(beta x) below, as PyTorch.
    derivative: (x, _y, [beta, threshold]) => {
      const z = x.mul(beta!);
      return where(gt(z, threshold!), 1, z.sigmoid());
    },
  },
} as const satisfies Record<Activation, ActivationOps>;

/**
 * The row's parameters with defaults filled in: `given` are the leading ones (the unary op's
 * p0, p1, or the fused kernels' one parameter).
 */
export function activationParams(activation: Activation, ...given: readonly (number | undefined)[]): number[] {
  const row: ActivationRow = ACTIVATION_TABLE[activation];
  return row.params.map((p, i) => given[i] ?? p.default);
}

/** The name of a row's first parameter (the one the fused kernels take), never for a row without one. */
type FirstParamName<A extends Activation> = (typeof ACTIVATION_TABLE)[A]['params'] extends readonly [{ readonly name: infer N extends string }, ...unknown[]] ? N : never;

/** Each activation's first parameter as an option by its table name: { negativeSlope?, alpha?, beta? }. */
export type ActivationParamOptions = { [A in Activation as FirstParamName<A>]?: number };

/** Every first parameter's name, for validating options. */
const PARAM_OPTIONS = [...new Set(ACTIVATION_NAMES.flatMap((a): string[] => ((ACTIVATION_TABLE[a] as ActivationRow).params[0] ? [(ACTIVATION_TABLE[a] as ActivationRow).params[0]!.name] : [])))];

/**
 * The first parameter of `activation` from opts (by its table name), else its default; 0 for an
 * activation without one. Every parameter option given must be a number, whichever the
 * activation, and the activation's own must be non-zero where the table says so.
 */
export function resolveActivationParam(where: string, activation: Activation, opts: ActivationParamOptions): number {
  const given = opts as Record<string, unknown>;
  for (const name of PARAM_OPTIONS) {
    const v = given[name];
    if (v !== undefined && v !== null && (typeof v !== 'number' || Number.isNaN(v))) throw new Error(`${where}: ${name} must be a number, got ${String(v)}`);
  }
  const spec = (ACTIVATION_TABLE[activation] as ActivationRow).params[0];
  if (!spec) return 0;
  const v = (given[spec.name] as number | null | undefined) ?? spec.default;
  if (spec.nonZero && v === 0) throw new Error(`${where}: ${spec.name} must be non-zero for ${activation}`);
  return v;
}

/** The options that give `activation` its first parameter `param` (linear's, by the table's name: { activation: 'elu', alpha }). */
export function activationOptions(activation: Activation, param?: number): { activation: Activation } & ActivationParamOptions {
  const spec = (ACTIVATION_TABLE[activation] as ActivationRow).params[0];
  return spec && param !== undefined ? { activation, [spec.name]: param } : { activation };
}

/** act(x) as separate (unfused) ops; `param` is the activation's first parameter (leakyRelu's negative slope, elu's alpha, softplus's beta). */
export function applyActivation(x: Tensor, activation: Activation, param?: number): Tensor {
  if (!ACTIVATION_NAMES.includes(activation)) throw new Error(`applyActivation: unknown activation '${String(activation)}' (valid: ${ACTIVATION_NAMES.join(', ')})`);
  return ACTIVATION_OPS[activation].forward(x, activationParams(activation, param));
}
