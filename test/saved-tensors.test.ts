// Tensors an op saves for its backward (linear's pre-activation z) belong to its tape node:
// they leave every tidy scope, and dispose() of the op's output releases them, outside tidy,
// before or after backward(). Counted with memory().liveTensors, no garbage collection involved.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, settleGarbage } from './helpers.js';

beforeAll(async () => {
  await device();
});

const live = () => ebm.memory().liveTensors;

/** x [8, 4], W [4, 4], b [4], all requiring grad, so silu's linear saves z. */
function leaves() {
  const x = ebm.randn([8, 4], { seed: 1, requiresGrad: true });
  const w = ebm.randn([4, 4], { seed: 2, requiresGrad: true });
  const b = ebm.randn([4], { seed: 3, requiresGrad: true });
  return { x, w, b, all: [x, w, b] };
}

describe('linear saves its pre-activation on the node, not in a scope', () => {
  it('silu linear outside tidy: the output and z are two live tensors; dispose() of the output frees both', async () => {
    await settleGarbage();
    const { x, w, b, all } = leaves();
    const start = live();
    const y = ebm.linear(x, w, b, { activation: 'silu' });
    expect(y.node!.saved).toHaveLength(1);
    const z = y.node!.saved[0]!;
    expect(z.shape).toEqual([8, 4]);
    expect(live()).toBe(start + 2);
    y.dispose();
    expect(z.isDisposed).toBe(true);
    expect(live()).toBe(start);
    for (const t of all) t.dispose();
  });

  it('after backward(): the same, once the output, the loss and the leaves\' grads are disposed', async () => {
    await settleGarbage();
    const start = live();
    const { x, w, b, all } = leaves();
    const y = ebm.linear(x, w, b, { activation: 'gelu' });
    const z = y.node!.saved[0]!;
    const loss = y.sum();
    loss.backward();
    expect(z.isDisposed).toBe(false);
    await x.grad!.data();
    for (const t of [loss, y]) t.dispose();
    expect(z.isDisposed).toBe(true);
    for (const t of all) {
      t.grad!.dispose();
      t.dispose();
    }
    expect(live()).toBe(start);
  });

  it('nothing is saved when nothing records (no input requires grad, or noGrad) or when the output gives the derivative (relu)', () => {
    const { x, w, b, all } = leaves();
    const start = live();
    const views = [x.detach(), w.detach()];
    const plain = ebm.linear(views[0]!, views[1]!, null, { activation: 'silu' });
    const off = ebm.noGrad(() => ebm.linear(x, w, b, { activation: 'tanh' }));
    const relu = ebm.linear(x, w, b, { activation: 'relu' });
    expect(relu.node!.saved).toHaveLength(0);
    // The two views and the three outputs, no z.
    expect(live()).toBe(start + 5);
    for (const t of [plain, off, relu, ...views, ...all]) t.dispose();
  });

  it('a linear returned from tidy keeps its z (the scope does not free it), so backward() after the scope works; dispose() then frees it', async () => {
    const start = live();
    const { x, w, b, all } = leaves();
    const y = ebm.tidy(() => ebm.linear(x, w, b, { activation: 'sigmoid' }));
    const z = y.node!.saved[0]!;
    expect(z.isDisposed).toBe(false);
    expect(live()).toBe(start + 3 + 2);
    const seed = ebm.ones([8, 4]);
    y.backward(seed);
    expect((await x.grad!.data()).every(Number.isFinite)).toBe(true);
    seed.dispose();
    y.dispose();
    expect(z.isDisposed).toBe(true);
    for (const t of all) {
      t.grad!.dispose();
      t.dispose();
    }
    expect(live()).toBe(start);
  });
});
