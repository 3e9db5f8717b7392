// Op and activation names are literal unions: a misspelt name does not compile. The
// `@ts-expect-error` lines below are checked by `tsc -p tsconfig.json --noEmit` (part of
// `npm test`, which includes test/): each must be an error, or tsc fails with "Unused
// '@ts-expect-error' directive". The function holding them is never called; the runtime test
// checks that the unions name exactly the ops that exist.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { binary, type BinaryOpName } from '../src/tensor/ops/binary.js';
import type { ReduceOpName } from '../src/tensor/ops/reduce.js';
import { unary, type UnaryOpName } from '../src/tensor/ops/unary.js';
import type { Activation } from '../src/kernels/activation-table.js';

export function compileTimeChecks(x: Tensor): void {
  unary('silu', x);
  // @ts-expect-error: 'sillu' is not a unary op
  unary('sillu', x);
  binary('add', x, 1);
  // @ts-expect-error: 'ad' is not a binary op
  binary('ad', x, 1);
  const sum: ReduceOpName = 'sum';
  // @ts-expect-error: 'summ' is not a reduction
  const summ: ReduceOpName = 'summ';
  const relu: Activation = 'leakyRelu';
  // @ts-expect-error: activations are camelCase (leaky_relu is the CLI's spelling, not an Activation)
  const snake: Activation = 'leaky_relu';
  ebm.linear(x, x, null, { activation: 'elu', alpha: 0.5 });
  // @ts-expect-error: 'swish' is a model option's alias, not one of linear's activations
  ebm.linear(x, x, null, { activation: 'swish' });
  // @ts-expect-error: elu's parameter is alpha; linear has no option 'slope'
  ebm.linear(x, x, null, { activation: 'elu', slope: 0.5 });
  new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [4], activation: 'leaky_relu' });
  // @ts-expect-error: 'swishy' is no activation's spelling
  new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [4], activation: 'swishy' });
  void [sum, summ, relu, snake];
}

/** Exact equality of two types (true only if each extends the other). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(): T | undefined => undefined;

describe('op name unions', () => {
  beforeAll(async () => {
    await device();
  });

  it('name the ops registered on the tape, no more', () => {
    // The lists below are checked against the unions at compile time (Equals), and against the
    // tape's registry at run time, so the union, the list and the registry are one set.
    const unaryOps = ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'square', 'reciprocal', 'sin', 'cos', 'relu', 'leakyRelu', 'silu', 'tanh', 'gelu', 'sigmoid', 'elu', 'softplus', 'clamp', 'erf', 'erfc', 'expm1', 'log1p', 'sign', 'step'] as const;
    const binaryOps = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
    const reduceOps = ['sum', 'mean', 'max', 'min', 'logsumexp'] as const;
    assertType<Equals<(typeof unaryOps)[number], UnaryOpName>>();
    assertType<Equals<(typeof binaryOps)[number], BinaryOpName>>();
    assertType<Equals<(typeof reduceOps)[number], ReduceOpName>>();
    const registered = ebm.registeredOps();
    for (const op of [...unaryOps, ...binaryOps, ...reduceOps]) expect(registered, op).toContain(op);
  });

  it('a misspelt name that gets past the types (a cast) is a clear error at run time', () => {
    const x = ebm.zeros([2]);
    expect(() => unary('sillu' as UnaryOpName, x)).toThrow(/^unary: unknown op 'sillu'/);
    expect(() => binary('ad' as BinaryOpName, x, 1)).toThrow(/^binary: unknown op 'ad'/);
    x.dispose();
  });
});
