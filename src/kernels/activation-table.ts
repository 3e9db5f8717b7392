// The activations: one row each. This is the one list of their names in src/ and demo/; every
// layer reads it. It is plain data with no imports, so the kernels (which know nothing of
// tensors) can type their epilogues with it, and src/tensor/activations.ts adds each row's
// forward and derivative as tensor ops, keyed by these names (a missing row fails to compile).
//
// Adding an activation: a row here; its forward and derivative in src/tensor/activations.ts and
// its module class in ACTIVATION_MODULES (src/nn/layers/activation.ts), both of which fail to
// compile without it; its unary op (OP_<name> in shaders/unary.wgsl, a method in
// src/tensor/methods.ts; the grad rule comes from the table); its ACT_<name> code and cases in
// activate / activate_grad of shaders/activations.wgsl. test/activations.test.ts checks the
// shader against this table both ways and runs the new row through every path.

/** A parameter of an activation, in the order the unary op takes them (p0, p1). */
export interface ActivationParam {
  /** The camelCase name: LinearOptions field, module field and method argument (negativeSlope). */
  readonly name: string;
  /** PyTorch's argument name (negative_slope). */
  readonly torchName: string;
  /** PyTorch's default. */
  readonly default: number;
  /** The parameter must not be 0 (softplus divides by beta). */
  readonly nonZero?: boolean;
  /**
   * The fused kernels take an activation's first parameter at run time; a later one is a
   * constant of shaders/activations.wgsl (this name) equal to the default, so only that value
   * fuses (softplus's threshold).
   */
  readonly wgslConst?: string;
}

export interface ActivationRow {
  /** The code naming the activation in shaders/activations.wgsl (`const ACT_<name> = Nu;`). */
  readonly wgsl: string;
  /** The torch.nn module class (ReLU, LeakyReLU, ...); the identity for 'none'. */
  readonly torchModule: string;
  /** The torch.nn.functional name (leaky_relu): the spelling of configuration files and the CLI. */
  readonly functional: string;
  /** Other spellings a model option or a checkpoint's metadata may use (swish). */
  readonly aliases: readonly string[];
  readonly params: readonly ActivationParam[];
}

/** The rows, in the order of their WGSL codes (error messages list them in this order). */
export const ACTIVATION_TABLE = {
  none: { wgsl: 'ACT_none', torchModule: 'Identity', functional: 'identity', aliases: [], params: [] },
  relu: { wgsl: 'ACT_relu', torchModule: 'ReLU', functional: 'relu', aliases: [], params: [] },
  leakyRelu: {
    wgsl: 'ACT_leakyRelu',
    torchModule: 'LeakyReLU',
    functional: 'leaky_relu',
    aliases: [],
    params: [{ name: 'negativeSlope', torchName: 'negative_slope', default: 0.01 }],
  },
  silu: { wgsl: 'ACT_silu', torchModule: 'SiLU', functional: 'silu', aliases: ['swish'], params: [] },
  tanh: { wgsl: 'ACT_tanh', torchModule: 'Tanh', functional: 'tanh', aliases: [], params: [] },
  // Exact GELU, x Φ(x) (torch's approximate='none'); the tanh approximation is not a row.
  gelu: { wgsl: 'ACT_gelu', torchModule: 'GELU', functional: 'gelu', aliases: [], params: [] },
  sigmoid: { wgsl: 'ACT_sigmoid', torchModule: 'Sigmoid', functional: 'sigmoid', aliases: [], params: [] },
  elu: { wgsl: 'ACT_elu', torchModule: 'ELU', functional: 'elu', aliases: [], params: [{ name: 'alpha', torchName: 'alpha', default: 1 }] },
  softplus: {
    wgsl: 'ACT_softplus',
    torchModule: 'Softplus',
    functional: 'softplus',
    aliases: [],
    params: [
      { name: 'beta', torchName: 'beta', default: 1, nonZero: true },
      { name: 'threshold', torchName: 'threshold', default: 20, wgslConst: 'SOFTPLUS_THRESHOLD' },
    ],
  },
} as const satisfies Record<string, ActivationRow>;

/** An activation's name ('none': the identity, a plain linear layer). */
export type Activation = keyof typeof ACTIVATION_TABLE;

/** An activation proper: every row but 'none'. */
export type NonlinearActivation = Exclude<Activation, 'none'>;

/** Every activation, 'none' first, in table order. */
export const ACTIVATION_NAMES = Object.keys(ACTIVATION_TABLE) as Activation[];

/** The activations proper (every row but 'none'), in table order. */
export const NONLINEAR_ACTIVATIONS = ACTIVATION_NAMES.filter((a): a is NonlinearActivation => a !== 'none');

/** A row's other spellings: its functional name and aliases, as a literal union. */
type Spellings<A extends Activation> = A | (typeof ACTIVATION_TABLE)[A]['functional'] | (typeof ACTIVATION_TABLE)[A]['aliases'][number];

/** Every spelling of an activation proper a model option accepts: names, functional names, aliases. */
export type ActivationSpelling = { [A in NonlinearActivation]: Spellings<A> }[NonlinearActivation];

/** The accepted spellings, each row's name first, then its functional name and aliases. */
export const ACTIVATION_SPELLINGS: readonly ActivationSpelling[] = [
  ...new Set(NONLINEAR_ACTIVATIONS.flatMap((a): string[] => [a, ACTIVATION_TABLE[a].functional, ...ACTIVATION_TABLE[a].aliases])),
] as ActivationSpelling[];

/** The activation (not 'none') a spelling names, or null: 'leaky_relu' and 'leakyRelu' give 'leakyRelu'. */
export function activationFromSpelling(spelling: unknown): NonlinearActivation | null {
  if (typeof spelling !== 'string') return null;
  for (const a of NONLINEAR_ACTIVATIONS) {
    const row: ActivationRow = ACTIVATION_TABLE[a];
    if (a === spelling || row.functional === spelling || row.aliases.includes(spelling)) return a;
  }
  return null;
}

/** The activation's first parameter's default (what the fused kernels take when none is given), 0 without one. */
export function defaultActivationParam(activation: Activation): number {
  const row: ActivationRow = ACTIVATION_TABLE[activation];
  return row.params[0]?.default ?? 0;
}

/** Whether `name` is an activation's name (exactly, 'none' included). */
export function isActivation(name: unknown): name is Activation {
  return typeof name === 'string' && Object.hasOwn(ACTIVATION_TABLE, name);
}
