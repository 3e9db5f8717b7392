// Plain tensor code at the fused speed (src/tensor/fusion/matmul-chain.ts): h.matmul(W).add(b)
// and an activation run as ONE matmul dispatch with a bias + activation epilogue, and an
// activation's backward as one dispatch. Every fused pattern is checked against the same ops
// with fusion off (`rt.tuning.fusion = 'off'`: each op its own dispatch, activation gradients as
// elementwise chains, i.e. the engine before fusion, which the op fixtures check against
// PyTorch), forward and gradients, and fusion is asserted by dispatch counts.
//
// Tolerance: 1e-5 of each tensor's largest magnitude (expectClose). The matmul accumulates in
// the same order either way, and the bias add is the same f32 addition; the difference is the
// activation (the WGSL `activate` / `activate_grad` against the unary kernels and the
// derivative written in tensor ops), which test/activations.test.ts and test/linear.test.ts hold
// to 1e-5 against PyTorch.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { device, ebm, expectClose, settleGarbage } from './helpers.js';

const TOL = 1e-5;
/** Each activation with a parameter away from its default, where it has one (p0 of the unary op). */
const PARAMS: Partial<Record<ebm.Activation, number>> = { leakyRelu: 0.2, elu: 0.7, softplus: 1.5 };
const ACTS = ebm.NONLINEAR_ACTIVATIONS;

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});
afterEach(() => {
  delete rt.tuning.fusion;
  delete rt.tuning.matmul;
});

const act = (x: ebm.Tensor, a: ebm.Activation): ebm.Tensor => (a === 'none' ? x : ebm.applyActivation(x, a, PARAMS[a]));

/** Dispatches recorded while fn runs and its result is read back. */
async function dispatchesOf(fn: () => ebm.Tensor): Promise<{ y: ebm.Tensor; values: Float32Array; dispatches: number; byShader: Map<string, number> }> {
  const before = rt.stats.dispatches;
  const shaders = new Map(rt.stats.byShader);
  const y = fn();
  const values = await y.data();
  const byShader = new Map([...rt.stats.byShader].map(([k, v]) => [k, v - (shaders.get(k) ?? 0)] as const).filter(([, v]) => v > 0));
  return { y, values, dispatches: rt.stats.dispatches - before, byShader };
}

interface Inputs {
  h: ebm.Tensor;
  w: ebm.Tensor;
  b: ebm.Tensor | null;
  g: ebm.Tensor;
}

function inputs(hShape: number[], wShape: number[], bias: boolean, seed: number): Inputs {
  const h = ebm.randn(hShape, { seed, requiresGrad: true });
  const w = ebm.randn(wShape, { seed: seed + 1, requiresGrad: true });
  const b = bias ? ebm.randn([wShape[wShape.length - 1]!], { seed: seed + 2, requiresGrad: true }) : null;
  const outShape = [...(hShape.length >= wShape.length ? hShape : wShape).slice(0, -2), hShape[hShape.length - 2]!, wShape[wShape.length - 1]!];
  const g = ebm.randn(outShape, { seed: seed + 3 });
  return { h, w, b, g };
}

/** Forward values, dispatch count and the gradients of sum(y * g) for h.matmul(w)[.add(b)][.act()]. */
async function run(p: Inputs, a: ebm.Activation, fused: boolean) {
  if (!fused) rt.tuning.fusion = 'off';
  try {
    for (const t of [p.h, p.w, p.b]) if (t) (t.grad?.dispose(), (t.grad = null));
    const fwd = await dispatchesOf(() => {
      const z = p.h.matmul(p.w);
      return act(p.b ? z.add(p.b) : z, a);
    });
    const b0 = rt.stats.dispatches;
    fwd.y.backward(p.g);
    const grads = await Promise.all([p.h, p.w, p.b].map((t) => (t ? t.grad!.data() : null)));
    return { ...fwd, backward: rt.stats.dispatches - b0, grads };
  } finally {
    delete rt.tuning.fusion;
  }
}

async function expectSame(p: Inputs, a: ebm.Activation, what: string) {
  const ref = await run(p, a, false);
  const got = await run(p, a, true);
  expectClose(got.values, ref.values, TOL, `${what}: forward`);
  ['h', 'W', 'b'].forEach((name, i) => {
    if (ref.grads[i]) expectClose(got.grads[i]!, ref.grads[i]!, TOL, `${what}: grad ${name}`);
  });
  return { ref, got };
}

describe('every fused pattern matches the unfused ops, in one dispatch', () => {
  test.each(ACTS.map((a) => [a] as const))('matmul + bias + %s: forward one dispatch, backward as linear (activation gradient, dh, dW, bias sum)', async (a) => {
    const p = inputs([16, 8], [8, 12], true, 10);
    const { ref, got } = await expectSame(p, a, a);
    expect(ref.dispatches, 'unfused: matmul, add, activation').toBe(3);
    expect(got.dispatches).toBe(1);
    expect([...got.byShader.keys()].every((s) => s.startsWith('matmul')), `only a matmul ran: ${[...got.byShader.keys()]}`).toBe(true);
    expect(got.backward).toBe(4);
  });

  test('matmul + bias (no activation)', async () => {
    const p = inputs([16, 8], [8, 12], true, 20);
    const { ref, got } = await expectSame(p, 'none', 'matmul + bias');
    expect([ref.dispatches, got.dispatches]).toEqual([2, 1]);
  });

  test('matmul + activation (no bias)', async () => {
    const p = inputs([16, 8], [8, 12], false, 30);
    const { ref, got } = await expectSame(p, 'tanh', 'matmul + tanh');
    expect([ref.dispatches, got.dispatches]).toEqual([2, 1]);
  });

  test('shapes the vec4 bodies cannot take (the scalar kernel), a bias [1, n] on the left', async () => {
    const p = inputs([5, 7], [7, 9], true, 40);
    const bRow = p.b!.reshape([1, 9]);
    const f = () => bRow.add(p.h.matmul(p.w)).gelu();
    rt.tuning.fusion = 'off';
    const ref = await dispatchesOf(f);
    delete rt.tuning.fusion;
    const got = await dispatchesOf(f);
    expect([ref.dispatches, got.dispatches]).toEqual([3, 1]);
    expect(got.byShader.get('matmul.wgsl')).toBe(1);
    expectClose(got.values, ref.values, TOL, 'scalar schedule');
  });

  test.each(['register', 'tiled', 'scalar'] as const)('forced %s schedule: the result and both stored intermediates (raw_out, z_out)', async (schedule) => {
    const h = ebm.randn([16, 8], { seed: 50 });
    const w = ebm.randn([8, 12], { seed: 51 });
    const b = ebm.randn([12], { seed: 52 });
    // The reference: unfused, on the default schedule.
    rt.tuning.fusion = 'off';
    const ref = [h.matmul(w)];
    ref.push(ref[0]!.add(b));
    ref.push(ref[1]!.silu());
    const refValues = await Promise.all(ref.map((t) => t.data()));
    delete rt.tuning.fusion;
    rt.tuning.matmul = schedule;
    let z: ebm.Tensor | null = null;
    let y1: ebm.Tensor | null = null;
    const got = await dispatchesOf(() => {
      z = h.matmul(w);
      y1 = z.add(b);
      return y1.silu();
    });
    expect(got.dispatches).toBe(1);
    expect(got.byShader.get(schedule === 'register' ? 'matmul-vec4.wgsl' : schedule === 'tiled' ? 'matmul-tiled.wgsl' : 'matmul.wgsl')).toBe(1);
    expectClose(got.values, refValues[2]!, TOL, `${schedule}: silu`);
    expectClose(await z!.data(), refValues[0]!, TOL, `${schedule}: product`);
    expectClose(await y1!.data(), refValues[1]!, TOL, `${schedule}: pre-activation`);
  });

  test('batched matmul: [2, 6, 8] @ [8, 12] + b and [2, 6, 8] @ [2, 8, 12] + b', async () => {
    const p = inputs([2, 6, 8], [8, 12], true, 60);
    expect((await expectSame(p, 'relu', 'broadcast batch')).got.dispatches).toBe(1);
    const q = inputs([2, 6, 8], [2, 8, 12], true, 70);
    expect((await expectSame(q, 'elu', 'batched')).got.dispatches).toBe(1);
  });

  test('f16 autocast: the f16 product takes the epilogue too', async () => {
    const p = inputs([16, 8], [8, 12], true, 80);
    const f = (x: ebm.Tensor) => ebm.autocast({ dtype: 'f16', cache: false }, () => x.matmul(p.w).add(p.b!).silu());
    rt.tuning.fusion = 'off';
    const ref = await dispatchesOf(() => f(p.h));
    delete rt.tuning.fusion;
    const got = await dispatchesOf(() => f(p.h));
    // Two casts to f16, then the product (+ add + silu unfused).
    expect([ref.dispatches, got.dispatches]).toEqual([5, 3]);
    expectClose(got.values, ref.values, TOL, 'autocast');
  });
});

describe('when fusion must not happen, or must not change anything', () => {
  test('the product is read before the add: no fusion, still right', async () => {
    const p = inputs([16, 8], [8, 12], true, 100);
    const ref = await dispatchesOf(() => act(p.h.matmul(p.w).add(p.b!), 'silu'));
    let e: ebm.Tensor | null = null;
    const got = await dispatchesOf(() => {
      const z = p.h.matmul(p.w);
      e = z.exp();
      return z.add(p.b!).silu();
    });
    expect(got.dispatches, 'matmul, exp, add, silu').toBe(4);
    expectClose(got.values, ref.values, TOL, 'read first');
    const z = await dispatchesOf(() => p.h.matmul(p.w));
    expectClose(await e!.data(), Float32Array.from(z.values, Math.exp), TOL, 'exp of the product');
  });

  test('intermediates read after the fold hold their values, from the same single dispatch', async () => {
    const p = inputs([16, 8], [8, 12], true, 110);
    rt.tuning.fusion = 'off';
    const refZ = await p.h.matmul(p.w).data();
    const refY1 = await p.h.matmul(p.w).add(p.b!).data();
    delete rt.tuning.fusion;
    let z: ebm.Tensor | null = null;
    let y1: ebm.Tensor | null = null;
    const got = await dispatchesOf(() => {
      z = p.h.matmul(p.w);
      y1 = z.add(p.b!);
      return y1.sigmoid();
    });
    expect(got.dispatches).toBe(1);
    const d0 = rt.stats.dispatches;
    expectClose(await z!.data(), refZ, 0, 'the raw product (raw_out), bit for bit');
    expectClose(await y1!.data(), refY1, 0, 'the pre-activation (z_out), bit for bit');
    expect(rt.stats.dispatches - d0, 'no second dispatch').toBe(0);
  });

  test('a second add on the same product, and an add of a non-row: no fusion, right values', async () => {
    const p = inputs([6, 8], [8, 4], true, 120);
    const full = ebm.randn([6, 4], { seed: 7 });
    const col = ebm.randn([6, 1], { seed: 8 });
    const pairs = [
      ['full [6, 4] operand', (z: ebm.Tensor) => z.add(full)],
      ['column [6, 1] operand', (z: ebm.Tensor) => z.add(col)],
      ['number operand', (z: ebm.Tensor) => z.add(0.5)],
      ['sub of a row', (z: ebm.Tensor) => z.sub(p.b!)],
    ] as const;
    for (const [what, f] of pairs) {
      rt.tuning.fusion = 'off';
      const ref = await dispatchesOf(() => f(p.h.matmul(p.w)).relu());
      delete rt.tuning.fusion;
      const got = await dispatchesOf(() => f(p.h.matmul(p.w)).relu());
      expect(got.dispatches, what).toBe(3);
      expectClose(got.values, ref.values, TOL, what);
    }
    const z = p.h.matmul(p.w);
    const y1 = z.add(p.b!);
    const y2 = z.add(full);
    const [v1, v2, vz, vb, vf] = await Promise.all([y1, y2, z, p.b!, full].map((t) => t.data()));
    expectClose(v1, vz.map((v, i) => v + vb[i % 4]!), 1e-6, 'first add (fused)');
    expectClose(v2, vz.map((v, i) => v + vf[i]!), 1e-6, 'second add');
  });

  test('an activation with a parameter the kernels fix (softplus threshold 5) does not fold, and is right', async () => {
    const p = inputs([8, 8], [8, 4], true, 130);
    rt.tuning.fusion = 'off';
    const ref = await dispatchesOf(() => p.h.matmul(p.w).add(p.b!).softplus(1, 5));
    delete rt.tuning.fusion;
    const got = await dispatchesOf(() => p.h.matmul(p.w).add(p.b!).softplus(1, 5));
    expect([ref.dispatches, got.dispatches]).toEqual([3, 2]);
    expectClose(got.values, ref.values, TOL, 'softplus(1, 5)');
  });

  test('an in-place write to an operand after the matmul does not reach the deferred product', async () => {
    const h = ebm.randn([8, 8], { seed: 140 });
    const w = ebm.randn([8, 4], { seed: 141 });
    const w2 = ebm.randn([8, 4], { seed: 142 });
    const before = await h.matmul(w).data();
    const y = h.matmul(w);
    w.assign(w2);
    expectClose(await y.data(), before, 0, 'product of the old weights');
  });
});

describe('autodiff through fused chains', () => {
  test.each(ACTS.map((a) => [a] as const))('double backward (createGraph) through matmul + bias + %s matches the unfused ops', async (a) => {
    const p = inputs([6, 8], [8, 4], true, 200);
    const v = ebm.randn([6, 8], { seed: 205 });
    const hvpOf = async (fused: boolean) => {
      if (!fused) rt.tuning.fusion = 'off';
      try {
        const gradH = ebm.grad((x: ebm.Tensor) => act(x.matmul(p.w).add(p.b!), a).mul(p.g).sum(), { createGraph: true });
        const first = gradH(p.h);
        const hvp = ebm.grad((x: ebm.Tensor) => gradH(x).mul(v).sum())(p.h);
        return [await first.data(), await hvp.data()];
      } finally {
        delete rt.tuning.fusion;
      }
    };
    const [ref, got] = [await hvpOf(false), await hvpOf(true)];
    expectClose(got[0]!, ref[0]!, TOL, `${a} createGraph gradient`);
    expectClose(got[1]!, ref[1]!, TOL, `${a} hessian-vector product`);
  });

  test('the fused activation backward against its tensor-op derivative, off the tape and on it', async () => {
    const x = ebm.randn([64], { seed: 210, std: 3, requiresGrad: true });
    const g = ebm.randn([64], { seed: 211 });
    for (const a of ACTS) {
      const fused = ebm.grad((t: ebm.Tensor) => act(t, a).mul(g).sum())(x);
      const onTape = ebm.grad((t: ebm.Tensor) => act(t, a).mul(g).sum(), { createGraph: true })(x);
      expectClose(await fused.data(), await onTape.data(), TOL, `${a}'`);
    }
  });

  test('a plain-ops MLP training step takes as many dispatches as the same step through linear', async () => {
    const widths = [2, 16, 16, 1];
    const x = ebm.randn([32, 2], { seed: 300 });
    // The same weights both ways: [in, out] for the plain ops, their transposes [out, in] for linear.
    const plain = widths.slice(1).flatMap((out, i) => [ebm.randn([widths[i]!, out], { seed: 301 + i, std: 0.5, requiresGrad: true }), ebm.randn([out], { seed: 310 + i, std: 0.1, requiresGrad: true })]);
    const viaLinear = plain.map((t) => (t.rank === 2 ? t.T : t.clone()).detach().requiresGrad_());
    const forwardPlain = (ps: ebm.Tensor[]) => {
      let h = x;
      for (let i = 0; i < ps.length; i += 2) {
        h = h.matmul(ps[i]!).add(ps[i + 1]!);
        if (i + 2 < ps.length) h = h.silu();
      }
      return h.square().mean();
    };
    const forwardLinear = (ps: ebm.Tensor[]) => {
      let h = x;
      for (let i = 0; i < ps.length; i += 2) h = ebm.linear(h, ps[i]!, ps[i + 1]!, { activation: i + 2 < ps.length ? 'silu' : 'none' });
      return h.square().mean();
    };
    const step = async (ps: ebm.Tensor[], fwd: (ps: ebm.Tensor[]) => ebm.Tensor, opt: ebm.Adam) => {
      const d0 = rt.stats.dispatches;
      const loss = ebm.tidy(() => {
        opt.zeroGrad();
        const l = fwd(ps);
        l.backward();
        opt.step();
        return l;
      });
      const value = await loss.item();
      loss.dispose();
      return { value, dispatches: rt.stats.dispatches - d0 };
    };
    const optPlain = new ebm.Adam(plain, { lr: 0.01 });
    const optLinear = new ebm.Adam(viaLinear, { lr: 0.01 });
    for (let s = 0; s < 3; s++) {
      const a = await step(plain, forwardPlain, optPlain);
      const b = await step(viaLinear, forwardLinear, optLinear);
      expect(Math.abs(a.value - b.value), `step ${s} loss`).toBeLessThanOrEqual(1e-5 * Math.abs(b.value));
      expect(a.dispatches, `step ${s}`).toBe(b.dispatches);
    }
  });
});

test("a binary op's side that takes no gradient costs no dispatch (sub's -g, mul's g * a), and the other side's gradient is unchanged", async () => {
  const x = ebm.randn([6, 5], { seed: 500, requiresGrad: true });
  const target = ebm.randn([6, 5], { seed: 501 });
  const both = target.detach().requiresGrad_();
  const backwardDispatches = (y: ebm.Tensor, f: (x: ebm.Tensor, t: ebm.Tensor) => ebm.Tensor) => {
    for (const t of [x, both]) {
      t.grad?.dispose();
      t.grad = null;
    }
    const loss = f(x, y).sum();
    const d0 = rt.stats.dispatches;
    loss.backward();
    return rt.stats.dispatches - d0;
  };
  for (const [name, f] of [
    ['sub', (a: ebm.Tensor, t: ebm.Tensor) => a.sub(t)],
    ['mul', (a: ebm.Tensor, t: ebm.Tensor) => a.mul(t)],
  ] as const) {
    const withBoth = backwardDispatches(both, f);
    const gBoth = await x.grad!.data();
    const withX = backwardDispatches(target, f);
    expect(withX, name).toBe(withBoth - 1);
    expectClose(await x.grad!.data(), gBoth, 0, `${name}: grad x`);
  }
});

describe('tidy, disposal and memory', () => {
  test('inside tidy without grad: the intermediates are disposed before the dispatch and not stored; nothing leaks', async () => {
    const h = ebm.randn([16, 8], { seed: 400 });
    const w = ebm.randn([8, 12], { seed: 401 });
    const b = ebm.randn([12], { seed: 402 });
    rt.tuning.fusion = 'off';
    const ref = ebm.tidy(() => h.matmul(w).add(b).silu());
    const refValues = await ref.data();
    ref.dispose();
    delete rt.tuning.fusion;
    await settleGarbage();
    const m0 = ebm.memory();
    const got = await dispatchesOf(() => ebm.tidy(() => h.matmul(w).add(b).silu()));
    expect(got.dispatches).toBe(1);
    expectClose(got.values, refValues, TOL, 'tidy');
    got.y.dispose();
    const m1 = ebm.memory();
    expect([m1.liveTensors, m1.liveBytes]).toEqual([m0.liveTensors, m0.liveBytes]);
  });

  test('disposing the result runs the pending dispatch (work asked for is done), disposing an intermediate does not; nothing leaks', async () => {
    const h = ebm.randn([16, 8], { seed: 410 });
    const w = ebm.randn([8, 12], { seed: 411 });
    const b = ebm.randn([12], { seed: 412 });
    const product = h.matmul(w);
    const [vp, vb] = [await product.data(), await b.data()];
    product.dispose();
    await settleGarbage();
    const m0 = ebm.memory();
    const d0 = rt.stats.dispatches;
    h.matmul(w).dispose();
    expect(rt.stats.dispatches - d0).toBe(1);
    const z = h.matmul(w);
    const y = z.add(b);
    z.dispose();
    expect(rt.stats.dispatches - d0, 'still pending').toBe(1);
    const vy = await y.data();
    expect(rt.stats.dispatches - d0).toBe(2);
    expectClose(vy, vp.map((v, i) => v + vb[i % 12]!), 1e-6, 'bias add with the product disposed');
    y.dispose();
    const m1 = ebm.memory();
    expect([m1.liveTensors, m1.liveBytes]).toEqual([m0.liveTensors, m0.liveBytes]);
  });

  test('disposing an operand runs the pending product first and frees the operand at once (a tidy scope ends with its work recorded)', async () => {
    const w = ebm.randn([8, 12], { seed: 430 });
    const x = ebm.randn([16, 8], { seed: 431 });
    const ref = await x.matmul(w).data();
    await settleGarbage();
    const m0 = ebm.memory();
    const d0 = rt.stats.dispatches;
    const y = ebm.tidy(() => x.mul(1).matmul(w));
    expect(rt.stats.dispatches - d0, 'mul, then the product, recorded when the scope disposed its operand').toBe(2);
    expect(ebm.memory().liveTensors - m0.liveTensors).toBe(1);
    expectClose(await y.data(), ref, 1e-6, 'product');
    const h = x.mul(1);
    const hBytes = ebm.memory().liveBytes;
    const z = h.matmul(w);
    h.dispose();
    expect(rt.stats.dispatches - d0).toBe(4);
    expect(ebm.memory().liveBytes, "the operand's buffer is freed at its dispose").toBeLessThan(hBytes + z.byteLength);
    expectClose(await z.data(), ref, 1e-6, 'product of a disposed operand');
    for (const t of [y, z]) t.dispose();
  });

  test('a whole step inside tidy (forward, backward): the gradients survive and match', async () => {
    const p = inputs([16, 8], [8, 12], true, 420);
    const ref = await run(p, 'gelu', false);
    for (const t of [p.h, p.w, p.b]) (t!.grad?.dispose(), (t!.grad = null));
    const m0 = ebm.memory();
    ebm.tidy(() => p.h.matmul(p.w).add(p.b!).gelu().backward(p.g));
    expect(ebm.memory().liveTensors - m0.liveTensors, 'three gradients').toBe(3);
    for (const [i, t] of [p.h, p.w, p.b!].entries()) expectClose(await t.grad!.data(), ref.grads[i]!, TOL, `grad ${'hWb'[i]}`);
  });
});
