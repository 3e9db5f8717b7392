// Memory: a long training loop inside tidy leaves nothing behind; dispose, views, tidy, keep,
// peakBytes; and backward() outside any scope frees its intermediate gradients.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, settleGarbage } from './helpers.js';
import type { Tensor } from '../src/index.js';

/** liveTensors and liveBytes, the two numbers that must come back exactly. */
function live(): { liveTensors: number; liveBytes: number } {
  const m = ebm.memory();
  return { liveTensors: m.liveTensors, liveBytes: m.liveBytes };
}

/** Deterministic host values in [lo, hi). */
function values(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 2 ** 32;
  });
}

beforeAll(async () => {
  await device();
});

describe('a 1,000-step training loop', () => {
  it('leaves liveTensors and liveBytes exactly where they started, and learns', async () => {
    // A 2-layer MLP on 16 2-D points: tanh(x W1 + b1) W2, mean squared error to sin(x0) * x1.
    const xData = values(32, 1, -2, 2);
    const yData = Float32Array.from({ length: 16 }, (_, i) => Math.sin(xData[2 * i]!) * xData[2 * i + 1]!);
    const x = ebm.tensor(xData, [16, 2]);
    const y = ebm.tensor(yData, [16, 1]);
    const W1 = ebm.tensor(values(32, 2, -0.7, 0.7), [2, 16], { requiresGrad: true });
    const b1 = ebm.tensor(values(16, 3, -0.1, 0.1), [16], { requiresGrad: true });
    const W2 = ebm.tensor(values(16, 4, -0.25, 0.25), [16, 1], { requiresGrad: true });
    const params = [W1, b1, W2];
    const lossOf = () => x.matmul(W1).add(b1).tanh().matmul(W2).sub(y).square().mean();
    const lr = 0.1;

    // The loss is read back only here and after the loop (no per-step readback).
    const lossNow = async () => {
      const l = ebm.tidy(() => ebm.noGrad(lossOf));
      const v = await l.item();
      l.dispose();
      return v;
    };
    const start = await lossNow();

    // Measured before the first step, with no .grad anywhere: the loop creates no lasting
    // state of its own (pipelines, bind groups and uniforms are not tensors and are not
    // counted in liveBytes), so there is no warm-up step to exclude. Garbage from earlier tests
    // is finalized first, so the count cannot drop mid-loop.
    await settleGarbage();
    const before = live();
    for (let step = 0; step < 1000; step++) {
      ebm.tidy(() => {
        lossOf().backward();
        for (const p of params) {
          p.assign(p.sub(p.grad!.mul(lr)));
          p.grad!.dispose();
          p.grad = null;
        }
      });
    }
    const after = live();
    expect(after).toEqual(before);
    expect(params.every((p) => p.grad === null && !p.isDisposed)).toBe(true);

    const end = await lossNow();
    expect(Number.isFinite(end)).toBe(true);
    expect(end).toBeLessThan(start * 0.1);

    const m = ebm.memory();
    expect(m.peakBytes).toBeGreaterThanOrEqual(m.liveBytes);
    for (const t of [x, y, ...params]) t.dispose();
  });
});

describe('dispose and views', () => {
  it('dispose() frees: liveTensors and liveBytes drop, and a second dispose is a no-op', () => {
    const start = live();
    const t = ebm.zeros([1000]);
    const mid = live();
    expect(mid.liveTensors).toBe(start.liveTensors + 1);
    expect(mid.liveBytes).toBeGreaterThanOrEqual(start.liveBytes + 4000);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(live()).toEqual(start);
    t.dispose();
    expect(live()).toEqual(start);
    expect(() => t.add(1)).toThrow(/disposed/);
  });

  it('a reshape shares storage: liveBytes drops only when both are disposed', async () => {
    const start = live();
    const x = ebm.arange(256);
    const withX = live();
    const v = x.reshape([16, 16]);
    expect(live().liveTensors).toBe(start.liveTensors + 2);
    expect(live().liveBytes).toBe(withX.liveBytes); // the view allocated nothing
    x.dispose();
    expect(live().liveTensors).toBe(start.liveTensors + 1);
    expect(live().liveBytes).toBe(withX.liveBytes); // still held by the view
    expect((await v.data())[255]).toBe(255);
    v.dispose();
    expect(live()).toEqual(start);
  });

  it('peakBytes is at least liveBytes and remembers a high-water mark', () => {
    const t = ebm.zeros([1 << 16]);
    const during = ebm.memory();
    t.dispose();
    const after = ebm.memory();
    expect(during.peakBytes).toBeGreaterThanOrEqual(during.liveBytes);
    expect(after.peakBytes).toBeGreaterThanOrEqual(during.liveBytes);
    expect(after.peakBytes).toBeGreaterThanOrEqual(after.liveBytes);
    expect(after.liveBytes).toBeLessThan(during.liveBytes);
  });
});

describe('tidy and keep', () => {
  it('disposes everything made inside except what is returned (a tensor)', async () => {
    const start = live();
    let inner: Tensor[] = [];
    const out = ebm.tidy(() => {
      const a = ebm.ones([4]);
      const b = a.mul(3);
      inner = [a, b];
      return b.add(1);
    });
    expect(inner.every((t) => t.isDisposed)).toBe(true);
    expect(live().liveTensors).toBe(start.liveTensors + 1);
    expect([...(await out.data())]).toEqual([4, 4, 4, 4]);
    out.dispose();
    expect(live()).toEqual(start);
  });

  it('keeps tensors returned in arrays and objects (nested too)', () => {
    const start = live();
    let scratch: Tensor | null = null;
    const res = ebm.tidy(() => {
      scratch = ebm.ones([2]).mul(2);
      const a = ebm.zeros([2]);
      const b = ebm.ones([3]);
      const c = ebm.full([1], 5);
      return { list: [a, b], nested: { c }, n: 3 };
    });
    expect(scratch!.isDisposed).toBe(true);
    const kept = [...res.list, res.nested.c];
    expect(kept.every((t) => !t.isDisposed)).toBe(true);
    expect(res.n).toBe(3);
    expect(live().liveTensors).toBe(start.liveTensors + 3);
    kept.forEach((t) => t.dispose());
    expect(live()).toEqual(start);
  });

  it('nested tidy: an inner result survives into the outer scope and is disposed there', () => {
    const start = live();
    let innerResult: Tensor | null = null;
    let innerScratch: Tensor | null = null;
    const out = ebm.tidy(() => {
      innerResult = ebm.tidy(() => {
        innerScratch = ebm.ones([3]).add(1);
        return innerScratch.mul(2);
      });
      expect(innerScratch!.isDisposed).toBe(true);
      expect(innerResult.isDisposed).toBe(false);
      return innerResult.sum();
    });
    expect(innerResult!.isDisposed).toBe(true); // not returned by the outer scope
    expect(out.isDisposed).toBe(false);
    expect(live().liveTensors).toBe(start.liveTensors + 1);
    out.dispose();
    expect(live()).toEqual(start);
  });

  it('keep() exempts a tensor from its scope', () => {
    const start = live();
    let kept: Tensor | null = null;
    let dropped: Tensor | null = null;
    ebm.tidy(() => {
      kept = ebm.keep(ebm.ones([5]));
      dropped = ebm.ones([5]);
      ebm.tidy(() => {
        ebm.keep(dropped!); // keep() reaches the enclosing scopes too
      });
    });
    expect(kept!.isDisposed).toBe(false);
    expect(dropped!.isDisposed).toBe(false);
    expect(live().liveTensors).toBe(start.liveTensors + 2);
    kept!.dispose();
    dropped!.dispose();
    expect(live()).toEqual(start);
  });

  it('a throwing function still has its tensors disposed', () => {
    const start = live();
    expect(() =>
      ebm.tidy(() => {
        ebm.ones([8]).mul(2);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(live()).toEqual(start);
  });
});

describe('backward() outside tidy', () => {
  it('frees every intermediate gradient: only the leaves .grad remain', async () => {
    const start = live();
    const x = ebm.tensor(values(24, 7), [8, 3]);
    const W = ebm.tensor(values(12, 8), [3, 4], { requiresGrad: true });
    const b = ebm.tensor(values(4, 9), [4], { requiresGrad: true });
    // Shared subexpressions, broadcasting, a reused input and a reduction with keepdim, so
    // gradients are accumulated, folded and passed on in several ways.
    const h = x.matmul(W);
    const z = h.add(b);
    const a = z.tanh();
    const s = a.mul(a);
    const m = s.mean(1, true);
    const r = a.sum(1, true);
    const mr = m.add(r);
    const total = mr.sum();
    const b2 = b.square();
    const penalty = b2.sum();
    const loss = total.add(penalty);
    const forward = [h, z, a, s, m, r, mr, total, b2, penalty, loss];
    const extra = ebm.memory().liveTensors - start.liveTensors; // x, W, b and the forward tensors
    loss.backward();
    // Exactly two new tensors: W.grad and b.grad.
    expect(live().liveTensors).toBe(start.liveTensors + extra + 2);
    expect(W.grad!.shape).toEqual([3, 4]);
    expect(b.grad!.shape).toEqual([4]);
    await W.grad!.data();
    for (const t of [...forward, x, W.grad!, b.grad!, W, b]) t.dispose();
    expect(live()).toEqual(start);
  });

  /**
   * grad(f)(x) and valueAndGrad(f)(x) on f(v) = sum(tanh(v * p)^2), then everything disposed
   * by hand. Returns the live-tensor count just before that, relative to the start, and what
   * it should be: x, p; g, g2; f's forward tensors (the caller's to dispose: no tidy here)
   * except the value grad() disposed; nothing else: no intermediate gradient, and no
   * gradient for the closed-over p.
   */
  function gradLeakCase(pRequiresGrad: boolean): { extra: number; expected: number } {
    const start = live();
    const x = ebm.tensor(values(6, 10), [2, 3]);
    const p = ebm.tensor(values(3, 11), [3], { requiresGrad: pRequiresGrad });
    const made: Tensor[] = [];
    const f = (v: Tensor) => {
      const t = [v.mul(p)];
      t.push(t[0]!.tanh());
      t.push(t[1]!.square());
      t.push(t[2]!.sum());
      made.push(...t);
      return t[3]!;
    };
    const g = ebm.grad(f)(x);
    const [value, g2] = ebm.valueAndGrad(f)(x);
    expect(made).toHaveLength(8);
    expect(made[3]!.isDisposed).toBe(true); // grad() disposes the value it did not return
    expect(made[7]).toBe(value);
    expect(p.grad).toBeNull();
    const extra = live().liveTensors - start.liveTensors;
    for (const t of [x, p, g, g2, ...made]) t.dispose();
    return { extra, expected: 2 + 2 + 7 };
  }

  it('grad() and valueAndGrad() without createGraph leave only their results', () => {
    const start = live();
    const { extra, expected } = gradLeakCase(false);
    expect(extra).toBe(expected);
    // Whatever leaked is unreachable now: the count must be back (deterministic, no GC).
    expect(live()).toEqual(start);
  });

  // grad() with respect to x must not compute (or leave behind) gradients of closed-over
  // parameters that require grad: the sampler path calls it every step.
  it('grad() does not leak the gradient of a closed-over parameter that requires grad', () => {
    const { extra, expected } = gradLeakCase(true);
    expect(extra).toBe(expected);
  });
});
