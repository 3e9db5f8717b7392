// The fused linear layer, y = act(x Wᵀ + b), against PyTorch (scripts/make_linear_fixtures.py):
// forward, gradients and a double backward, for every activation, on every matmul schedule,
// and its dispatch counts.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { device, ebm, expectClose, loadFixture } from './helpers.js';

const fx = loadFixture('linear.safetensors');
/** `kinks`: how many pre-activations lie exactly on the activation's kink (the lattice cases). */
const cases: { id: string; activation: ebm.Activation; slope: number; bias: boolean; x: number[]; out: number; kinks?: number }[] = JSON.parse(fx.metadata.cases!);
const TOL = 1e-5;

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});
afterEach(() => {
  delete rt.tuning.matmul;
});

describe.each(['auto', 'register', 'tiled', 'scalar'] as const)('linear, %s schedule', (schedule) => {
  test.each(cases.map((c) => [`${c.activation} x${JSON.stringify(c.x)} -> ${c.out}${c.bias ? '' : ' (no bias)'}${c.kinks ? `, ${c.kinks} pre-activations exactly at the kink` : ''}`, c] as const))('%s', async (_n, c) => {
    rt.tuning.matmul = schedule;
    const x = fx.get(`${c.id}/x`).requiresGrad_();
    const w = fx.get(`${c.id}/w`).requiresGrad_();
    const b = c.bias ? fx.get(`${c.id}/b`).requiresGrad_() : undefined;
    const y = ebm.linear(x, w, b, { activation: c.activation, negativeSlope: c.slope });
    expect(y.shape).toEqual(fx.shape(`${c.id}/y`));
    expectClose(await y.data(), fx.values(`${c.id}/y`), TOL, `${c.id} y`);
    y.backward(fx.get(`${c.id}/g`));
    expectClose(await x.grad!.data(), fx.values(`${c.id}/gx`), TOL, `${c.id} grad x`);
    expectClose(await w.grad!.data(), fx.values(`${c.id}/gw`), TOL, `${c.id} grad weight`);
    if (b) expectClose(await b.grad!.data(), fx.values(`${c.id}/gb`), TOL, `${c.id} grad bias`);
  });
});

test.each(cases.filter((c) => c.bias && c.x.length === 2).map((c) => [c.activation, c] as const))('double backward through linear (%s) matches torch', async (_n, c) => {
  const x = fx.get(`${c.id}/x`);
  const w = fx.get(`${c.id}/w`);
  const b = fx.get(`${c.id}/b`);
  const g = fx.get(`${c.id}/g`);
  const v = fx.get(`${c.id}/v`);
  const gradX = ebm.grad((xx: ebm.Tensor) => ebm.linear(xx, w, b, { activation: c.activation, negativeSlope: c.slope }).mul(g).sum(), { createGraph: true });
  const hvp = ebm.grad((xx: ebm.Tensor) => gradX(xx).mul(v).sum())(x);
  expectClose(await hvp.data(), fx.values(`${c.id}/hvp_x`), TOL, `${c.id} hvp`);
});

test('forward is one dispatch, backward four (activation gradient, dx, dW, bias)', () => {
  const x = ebm.randn([256, 128], { seed: 1, requiresGrad: true });
  const w = ebm.randn([128, 128], { seed: 2, requiresGrad: true });
  const b = ebm.randn([128], { seed: 3, requiresGrad: true });
  const g = ebm.randn([256, 128], { seed: 4 });
  const d0 = rt.stats.dispatches;
  const y = ebm.linear(x, w, b, { activation: 'silu' });
  expect(rt.stats.dispatches - d0).toBe(1);
  const d1 = rt.stats.dispatches;
  y.backward(g);
  expect(rt.stats.dispatches - d1).toBe(4);
});

test('bad input names linear, the argument and the shapes', () => {
  const x = ebm.zeros([4, 3]);
  const w = ebm.zeros([5, 3]);
  expect(() => ebm.linear(x, ebm.zeros([5, 4]))).toThrow(/^linear: x of shape \[4, 3\] does not end in the weight's in_features 4 \(weight \[5, 4\]\)/);
  expect(() => ebm.linear(x, ebm.zeros([3]))).toThrow(/^linear: weight must be \[out, in\], got shape \[3\]/);
  expect(() => ebm.linear(x, w, ebm.zeros([4]))).toThrow(/^linear: bias must have shape \[5\], got \[4\]/);
  expect(() => ebm.linear(x, w, null, { activation: 'swish' as never })).toThrow(/^linear: unknown activation 'swish' \(valid: none, relu, leakyRelu, silu, tanh, gelu, sigmoid, elu, softplus\)/);
});
