// Every op's forward and gradient against PyTorch. The cases (shapes with size-1 dims, both-
// sided broadcasting, odd sizes, ranks 0-4) and their float64 oracle results come from
// scripts/make_fixtures.py; see that script for how each op maps to torch.
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm, expectClose, expectElementwiseClose, isFixtureTensorArg, loadFixture, type FixtureOpCase, type FixtureTensorArg } from './helpers.js';

type TensorArg = FixtureTensorArg;
type Case = FixtureOpCase;

const fx = loadFixture('ops.safetensors');
const cases: Case[] = JSON.parse(fx.metadata.cases!);

/**
 * 1e-5, relative to the largest magnitude in the expected tensor (and at least 1), for every
 * op, forward and gradient. (The fixture's own per-case `tol` is looser for transcendentals;
 * the kernels meet the strict bound, so it is not used.)
 */
const TOL = 1e-5;

const isTensorArg = isFixtureTensorArg;

beforeAll(async () => {
  await device();
});

describe('ops against PyTorch', () => {
  test('the fixture covers every op of the tensor API', () => {
    const ops = new Set(cases.map((c) => c.op));
    for (const op of ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'square', 'reciprocal', 'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'leakyRelu', 'elu', 'gelu', 'silu', 'softplus', 'pow', 'clamp', 'add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'where', 'sum', 'mean', 'max', 'min', 'logsumexp', 'var', 'reshape', 'permute', 'transpose', 'expand', 'squeeze', 'unsqueeze', 'slice', 'concat', 'stack', 'indexSelect', 'matmul', 'erfc', 'expm1', 'log1p', 'sign', 'step'])
      expect(ops.has(op), op).toBe(true);
  });

  test.each(cases.map((c) => [`${c.id} ${c.name}`, c] as const))('%s', async (_name, c) => {
    const made: ebm.Tensor[] = [];
    const inputs: [string, ebm.Tensor][] = [];
    const load = (a: TensorArg) => {
      const t = fx.get(a.tensor);
      if (a.grad) t.requiresGrad = true;
      made.push(t);
      inputs.push([a.tensor, t]);
      return t;
    };
    const args = c.args.map((a) => (isTensorArg(a) ? load(a) : typeof a === 'object' && a !== null && 'list' in a ? a.list.map(load) : a));
    const fn =
      c.call === 'method'
        ? (args[0] as unknown as Record<string, (...x: unknown[]) => ebm.Tensor>)[c.op]!.bind(args[0])
        : (ebm as unknown as Record<string, (...x: unknown[]) => ebm.Tensor>)[c.op]!;
    expect(fn, `${c.call} ${c.op}`).toBeTypeOf('function');
    const out = c.call === 'method' ? fn(...args.slice(1)) : fn(...args);
    expect(out.shape).toEqual(fx.shape(`${c.id}/out`));
    const forward = await out.data();
    expectClose(forward, fx.values(`${c.id}/out`), TOL, `${c.id} ${c.name} forward`);
    if (c.elementwise !== undefined) expectElementwiseClose(forward, fx.values(`${c.id}/out`), c.elementwise, `${c.id} ${c.name} forward`);
    if (fx.has(`${c.id}/gout`)) {
      out.backward(fx.get(`${c.id}/gout`));
      for (const [key, t] of inputs) {
        if (!fx.has(`${key}/grad`)) continue;
        expect(t.grad, `${key} has a gradient`).not.toBeNull();
        expect(t.grad!.shape).toEqual(fx.shape(`${key}/grad`));
        expectClose(await t.grad!.data(), fx.values(`${key}/grad`), TOL, `${c.id} ${c.name} grad of ${key}`);
      }
    }
  });
});
