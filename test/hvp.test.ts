// Double backward: a Hessian-vector product of a small MLP-like energy against PyTorch's
// (scripts/make_fixtures.py, make_hvp), through both backward(createGraph) and nested grad.
import { beforeAll, expect, test } from 'vitest';
import { device, ebm, expectClose, loadFixture } from './helpers.js';

const fx = loadFixture('hvp.safetensors');
const TOL = 1e-5;

beforeAll(async () => {
  await device();
});

function energy(x: ebm.Tensor, W1: ebm.Tensor, b1: ebm.Tensor, W2: ebm.Tensor, b2: ebm.Tensor): ebm.Tensor {
  return x.matmul(W1).add(b1).silu().matmul(W2).add(b2).softplus().sum();
}

test('backward with createGraph: d/dx and d/dW1 of <grad_x f, v>', async () => {
  const [x, W1, b1, W2, b2, v] = ['x', 'W1', 'b1', 'W2', 'b2', 'v'].map((k) => fx.get(k)) as ebm.Tensor[];
  x!.requiresGrad = true;
  W1!.requiresGrad = true;
  const f = energy(x!, W1!, b1!, W2!, b2!);
  expectClose([await f.item()], fx.values('f'), TOL, 'f');
  const [gx] = ebm.grad((xx: ebm.Tensor) => energy(xx, W1!, b1!, W2!, b2!), { createGraph: true, argnums: [0] })(x!);
  expect(gx!.requiresGrad).toBe(true);
  expectClose(await gx!.data(), fx.values('grad_x'), TOL, 'grad_x');
  gx!.mul(v!).sum().backward();
  expectClose(await x!.grad!.data(), fx.values('hvp'), TOL, 'hvp');
  expectClose(await W1!.grad!.data(), fx.values('hvp_W1'), TOL, 'hvp_W1');
});

test('nested grad: grad of (x -> <grad f(x), v>)', async () => {
  const [x, W1, b1, W2, b2, v] = ['x', 'W1', 'b1', 'W2', 'b2', 'v'].map((k) => fx.get(k)) as ebm.Tensor[];
  const gradF = ebm.grad((xx: ebm.Tensor) => energy(xx, W1!, b1!, W2!, b2!), { createGraph: true });
  const hvp = ebm.grad((xx: ebm.Tensor) => gradF(xx).mul(v!).sum())(x!);
  expectClose(await hvp.data(), fx.values('hvp'), TOL, 'hvp via nested grad');
  // grad() differentiates only with respect to its argument: no parameter gradients appear.
  expect(W1!.grad).toBeNull();
});
