// Every activation of the table (src/kernels/activation-table.ts, src/tensor/activations.ts)
// through every path that computes it, checked against each other:
//   the unary op (x.silu()) against a float64 reference written here;
//   the fused linear epilogue and its fused activation-gradient kernel (WGSL activate /
//   activate_grad) against the unary op and the table's derivative, on the same inputs
//   (an identity weight makes the pre-activation exactly x, kinks included);
//   fused linear against matmul + bias + the unfused activation, forward and backward, and its
//   createGraph backward (the table's derivative in tensor ops) against the fused backward;
//   the fused Langevin MLP sampler against the general path;
//   linear under an f16 autocast scope (MixedPrecisionEBMTrainer's path) against f32 linear.
// And the table against the WGSL source, both ways, without a GPU.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, expectClose } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { ACTIVATION_TABLE, NONLINEAR_ACTIVATIONS, type Activation, type ActivationRow } from '../src/kernels/activation-table.js';
import { ACTIVATION_OPS } from '../src/tensor/activations.js';
import { ACTIVATION_MODULES } from '../src/nn/layers/activation.js';
import { langevinMlpUsable } from '../src/kernels/langevin-mlp.js';
import { LangevinDynamics } from '../src/train/index.js';
import { ACTIVATIONS as CLI_ACTIVATIONS } from '../src/cli/config.js';
import { ACTIVATIONS as DEMO_ACTIVATIONS, normalizeActivation } from '../demo/checkpoint.js';

const ROWS = ACTIVATION_TABLE as Record<Activation, ActivationRow>;
const shaderSource = (file: string) => readFileSync(join(import.meta.dirname, '..', 'shaders', file), 'utf8');

/** The body of `fn name(` in a WGSL source: from its header to the first line that is just '}'. */
function wgslFunction(source: string, name: string): string {
  const start = source.indexOf(`fn ${name}(`);
  if (start < 0) throw new Error(`no fn ${name} in the shader`);
  const end = source.indexOf('\n}\n', start);
  return source.slice(start, end);
}

describe('the activation table and shaders/activations.wgsl agree (read from the source)', () => {
  const src = shaderSource('activations.wgsl');
  const consts = new Map([...src.matchAll(/^const\s+(ACT_\w+)\s*=\s*(\d+)u\s*;/gm)].map((m) => [m[1]!, Number(m[2])]));

  it('every row has its ACT_ constant, and every ACT_ constant is a row; the codes are distinct', () => {
    const rowCodes = Object.values(ROWS).map((r) => r.wgsl);
    expect([...consts.keys()].sort()).toEqual([...rowCodes].sort());
    expect(new Set(consts.values()).size).toBe(consts.size);
    // 'none' is the switch's default (the identity), so it must be the code the overrides default to.
    expect(consts.get(ROWS.none.wgsl)).toBe(0);
  });

  it('every row but none has a case in activate and in activate_grad, and neither has a case for a code not in the table', () => {
    for (const fn of ['activate', 'activate_grad']) {
      const body = wgslFunction(src, fn);
      const cases = [...body.matchAll(/case\s+(ACT_\w+)\s*:/g)].map((m) => m[1]!);
      expect(cases.sort(), fn).toEqual(NONLINEAR_ACTIVATIONS.map((a) => ROWS[a].wgsl).sort());
    }
  });

  it('a parameter the fused kernels hold as a constant has the table default there (softplus threshold 20)', () => {
    const fixed = Object.values(ROWS).flatMap((r) => r.params.filter((p) => p.wgslConst));
    expect(fixed.length).toBeGreaterThan(0);
    for (const p of fixed) {
      const m = src.match(new RegExp(`^const\\s+${p.wgslConst}\\s*=\\s*([-\\d.]+)\\s*;`, 'm'));
      expect(m, `const ${p.wgslConst}`).not.toBeNull();
      expect(Number(m![1])).toBe(p.default);
    }
  });

  it('every activation is a unary op (OP_<name> in unary.wgsl, registered on the tape) and a module named as in PyTorch', () => {
    const unary = shaderSource('unary.wgsl');
    const ops = ebm.registeredOps();
    for (const a of NONLINEAR_ACTIVATIONS) {
      expect(unary, a).toMatch(new RegExp(`^const OP_${a} = \\d+u;`, 'm'));
      expect(ops, a).toContain(a);
      expect(ACTIVATION_MODULES[a].name, a).toBe(ROWS[a].torchModule);
    }
  });

  it('the CLI, the demo and the models accept the spellings the table gives (PyTorch functional names and aliases)', () => {
    expect(CLI_ACTIVATIONS).toEqual(NONLINEAR_ACTIVATIONS.map((a) => ROWS[a].functional));
    expect(DEMO_ACTIVATIONS).toEqual(NONLINEAR_ACTIVATIONS);
    for (const a of NONLINEAR_ACTIVATIONS)
      for (const spelling of [a, ROWS[a].functional, ...ROWS[a].aliases]) {
        expect(normalizeActivation(spelling), spelling).toBe(a);
        const m = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [4], activation: spelling as ebm.ActivationName });
        expect(m.activation.constructor, spelling).toBe(ACTIVATION_MODULES[a]);
      }
    expect(normalizeActivation('none')).toBeNull();
    expect(normalizeActivation('swishy')).toBeNull();
  });
});

// ---- the float64 reference ----

/** erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7), enough for f32 results. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return x < 0 ? -y : y;
}
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const phi = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
const Phi = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));

/** [act(x), act'(x)] in float64, PyTorch's conventions at the kinks (relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha). */
const REFERENCE: Record<Activation, (x: number, p: readonly number[]) => [number, number]> = {
  none: (x) => [x, 1],
  relu: (x) => [Math.max(x, 0), x > 0 ? 1 : 0],
  leakyRelu: (x, [s]) => [x > 0 ? x : s! * x, x > 0 ? 1 : s!],
  silu: (x) => [x * sig(x), sig(x) * (1 + x * (1 - sig(x)))],
  tanh: (x) => [Math.tanh(x), 1 - Math.tanh(x) ** 2],
  gelu: (x) => [x * Phi(x), Phi(x) + x * phi(x)],
  sigmoid: (x) => [sig(x), sig(x) * (1 - sig(x))],
  elu: (x, [a]) => [x > 0 ? x : a! * Math.expm1(x), x > 0 ? 1 : a! * Math.exp(x)],
  softplus: (x, [b, t]) => (b! * x > t! ? [x, 1] : [Math.log1p(Math.exp(b! * x)) / b!, sig(b! * x)]),
};

/**
 * Inputs: both tails, both sides of 0 and 0 itself (the kinks, where the conventions above are
 * PyTorch's), and both sides of softplus's threshold for beta 1 (20) and beta 2 (10). 24 values,
 * so they fill [6, 4] (vec4-aligned).
 */
const XS = [-25, -6, -3, -1.5, -1, -0.5, -0.1, -1e-3, 0, 1e-3, 0.1, 0.5, 1, 1.5, 2.5, 3, 6, 9.5, 10.5, 19, 21, 25, -2, 4];

/** Each row with its default parameters, and each parameterised row with a non-default first one too. */
const CASES: { name: string; activation: Activation; param?: number }[] = [
  ...(Object.keys(ROWS) as Activation[]).map((activation) => ({ name: activation, activation })),
  { name: 'leakyRelu(0.2)', activation: 'leakyRelu', param: 0.2 },
  { name: 'elu(0.5)', activation: 'elu', param: 0.5 },
  { name: 'softplus(beta 2)', activation: 'softplus', param: 2 },
];

const paramsOf = (c: (typeof CASES)[number]) => ebm.activationParams(c.activation, c.param);
const opts = (c: (typeof CASES)[number]) => ebm.activationOptions(c.activation, c.param);
/** A fixed, sign-varied output gradient, so a wrong derivative cannot hide behind g = 1. */
const gradOut = (n: number) => Float32Array.from({ length: n }, (_, i) => 0.5 + ((i * 7) % 5) * 0.25 * (i % 2 ? -1 : 1));

/** The activation's module, with `param` as its first constructor argument when given (LeakyReLU(0.2), ELU(0.5), Softplus(2)). */
function moduleFor(activation: Exclude<Activation, 'none'>, param: number | undefined): ebm.Module {
  const cls = ACTIVATION_MODULES[activation] as new (...args: number[]) => ebm.Module;
  return param === undefined ? new cls() : new cls(param);
}

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});

// Tolerances (|error| <= tol * max |expected| of the tensor, expectClose):
//   1e-6: one activation evaluated in f32 against float64 (or two f32 evaluations of the same
//         formula); the reference's erf is good to 1.5e-7.
//   1e-5: a matmul of 8 products first (f32 accumulation in different orders), as linear.test.ts.
const TOL_ELEMENTWISE = 1e-6;
const TOL_MATMUL = 1e-5;

describe.each(CASES)('$name', (c) => {
  const n = XS.length;
  const ref = XS.map((x) => REFERENCE[c.activation](x, paramsOf(c)));
  const g = gradOut(n);

  it('unary op and its gradient (the table forward and derivative) match the float64 reference', async () => {
    const x = ebm.tensor(Float32Array.from(XS), [n], { requiresGrad: true });
    const y = ACTIVATION_OPS[c.activation].forward(x, paramsOf(c));
    expectClose(await y.data(), ref.map((r) => r[0]), TOL_ELEMENTWISE, `${c.name} forward`);
    y.backward(ebm.tensor(g, [n]));
    expectClose(await x.grad!.data(), ref.map((r, i) => r[1] * g[i]!), TOL_ELEMENTWISE, `${c.name} derivative`);
  });

  it('fused linear (WGSL activate / activate_grad) matches the unary op on the same pre-activations, kinks included', async () => {
    // W = I: z = x I is exact, so the fused epilogue sees exactly XS.
    const eye = ebm.eye(4);
    const x = ebm.tensor(Float32Array.from(XS), [n / 4, 4], { requiresGrad: true });
    const y = ebm.linear(x, eye, null, opts(c));
    const xu = ebm.tensor(Float32Array.from(XS), [n / 4, 4], { requiresGrad: true });
    const yu = ebm.applyActivation(xu, c.activation, c.param);
    expectClose(await y.data(), await yu.data(), TOL_ELEMENTWISE, `${c.name} fused forward`);
    const gt = ebm.tensor(g, [n / 4, 4]);
    y.backward(gt);
    yu.backward(gt);
    expectClose(await x.grad!.data(), await xu.grad!.data(), TOL_ELEMENTWISE, `${c.name} fused activation gradient`);
  });

  it('fused linear forward and backward match matmul + bias + the unfused activation; its createGraph backward matches too', async () => {
    const [m, k, o] = [12, 8, 8];
    const mk = (shape: number[], seed: number, scale: number) => ebm.randn(shape, { seed }).mul(scale);
    const x = mk([m, k], 1, 1.5).requiresGrad_();
    const w = mk([o, k], 2, 0.6).requiresGrad_();
    const b = mk([o], 3, 0.5).requiresGrad_();
    const g2 = mk([m, o], 4, 1);
    const y = ebm.linear(x, w, b, opts(c));
    const [xu, wu, bu] = [x, w, b].map((t) => t.detach().requiresGrad_());
    const yu = ebm.applyActivation(ebm.matmulT(xu!, wu!, false, true).add(bu!), c.activation, c.param);
    expectClose(await y.data(), await yu.data(), TOL_MATMUL, `${c.name} forward`);
    y.backward(g2);
    yu.backward(g2);
    for (const [fused, unfused, what] of [[x, xu, 'x'], [w, wu, 'weight'], [b, bu, 'bias']] as const)
      expectClose(await fused.grad!.data(), await unfused!.grad!.data(), TOL_MATMUL, `${c.name} grad ${what}`);
    // createGraph: linear's backward in differentiable ops (the table's derivative).
    const gx = ebm.grad((v: Tensor) => ebm.linear(v, w.detach(), b.detach(), opts(c)).mul(g2).sum(), { createGraph: true })(x.detach());
    expectClose(await gx.data(), await x.grad!.data(), TOL_MATMUL, `${c.name} createGraph grad x`);
  });

  it('linear in an f16 autocast scope matches f32 linear on f16-exact operands', async () => {
    // Operands that f16 holds exactly: the f16 products are then exact in f32, and only the
    // order of the f32 accumulation differs from the f32 kernel.
    const f16exact = (shape: number[], seed: number, scale: number) => ebm.noGrad(() => ebm.randn(shape, { seed }).mul(scale).to('f16').to('f32'));
    const x = f16exact([12, 8], 5, 1.5).requiresGrad_();
    const w = f16exact([8, 8], 6, 0.6).requiresGrad_();
    const b = f16exact([8], 7, 0.5).requiresGrad_();
    const y16 = ebm.autocast({ dtype: 'f16' }, () => ebm.linear(x, w, b, opts(c)));
    const [x32, w32, b32] = [x, w, b].map((t) => t.detach().requiresGrad_());
    const y32 = ebm.linear(x32!, w32!, b32!, opts(c));
    expectClose(await y16.data(), await y32.data(), TOL_MATMUL, `${c.name} autocast forward`);
    const g2 = ebm.randn([12, 8], { seed: 8 });
    y16.backward(g2);
    y32.backward(g2);
    // The backward matmuls take the f16 operands with an f32 output gradient; whatever the
    // kernel does with the mixed pair, the result may round the gradient to f16 once (2^-11
    // relative): 2e-3 of scale allows that on sums of 8-12 products.
    for (const [a, b2, what] of [[x, x32, 'x'], [w, w32, 'weight'], [b, b32, 'bias']] as const)
      expectClose(await a.grad!.data(), await b2!.grad!.data(), 2e-3, `${c.name} autocast grad ${what}`);
  });

  it('the fused Langevin MLP sampler runs the same chains as the general path', async (ctx) => {
    if (!langevinMlpUsable(rt)) ctx.skip('this device has no subgroups of 8 or more lanes: the fused Langevin MLP kernel cannot run here');
    const act = c.activation === 'none' ? null : moduleFor(c.activation, c.param);
    // 'none' is a network of plain Linears (NeuralEnergyFunction over a Sequential without activations).
    const energy = act
      ? new ebm.MLPEnergyModel({ inputDim: 3, hiddenDims: [16, 16], activation: act, seed: 21 })
      : new ebm.NeuralEnergyFunction(new ebm.Sequential(new ebm.Linear(3, 16, { seed: 22 }), new ebm.Linear(16, 1, { seed: 23 })));
    const x0 = ebm.randn([24, 3], { seed: 24 });
    const fused = new LangevinDynamics(energy, { stepSize: 0.02 });
    expect(fused.fusedSupport()).toEqual({ fused: true });
    const a = fused.sample({ x: x0, nSteps: 4, seed: 5 });
    const b = new LangevinDynamics(energy, { stepSize: 0.02, fused: false }).sample({ x: x0, nSteps: 4, seed: 5 });
    // As test/fused-sampler.test.ts: the chains agree to f32 round-off (1e-4 of max(1, |x|)).
    expectClose(await a.data(), await b.data(), 1e-4, `${c.name} fused chains`);
    for (const t of [x0, a, b]) t.dispose();
  });
});
