// autocast: precision as a policy that linear / matmul / conv2d consult. Inside an f16 scope,
// linear and matmul give exactly what the old mixed-precision patch gave (f16-rounded operands
// multiplied with f32 accumulation, then bias and activation in f32), forward and backward, for
// a lone op and for a whole MLPEnergyModel; each parameter is cast once per scope; scopes nest
// and are restored on throw; conv2d stays f32; nothing leaks.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { Linear } from '../src/nn/layers/linear.js';

beforeAll(async () => {
  await device();
});

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

const dispatches = () => ebm.getDevice().stats.dispatches;

/**
 * The old path, as src/train/trainers/autocast.ts patched it onto each Linear for a call: the
 * weights cast to f16 once, each input cast as it enters, f16 @ f16ᵀ (f32 accumulation), then
 * the bias and the activation as f32 ops.
 */
function withOldF16Patch<T>(model: ebm.Module, fn: () => T): T {
  const layers = model.modules().filter((m): m is Linear => m instanceof Linear);
  const weights = layers.map((m) => m.param('weight')!.to('f16'));
  layers.forEach((m, i) => {
    const forwardActivated = (x: Tensor, activation: ebm.Activation = 'none', param?: number): Tensor => {
      const x2 = x.reshape([-1, m.inFeatures]).to('f16');
      let y = ebm.matmulT(x2, weights[i]!, false, true);
      const b = m.param('bias');
      if (b) y = y.add(b);
      return ebm.applyActivation(y, activation, param).reshape([...x.shape.slice(0, -1), m.outFeatures]);
    };
    Object.defineProperty(m, 'forwardActivated', { value: forwardActivated, configurable: true, writable: true, enumerable: false });
  });
  try {
    return fn();
  } finally {
    for (const m of layers) delete (m as unknown as Record<string, unknown>).forwardActivated;
  }
}

describe('autocast f16: the numbers of the old patch', () => {
  it('linear: f16-rounded operands multiplied in f32, bias and activation in f32; not the f32 result', async () => {
    const x = ebm.randn([37, 24], { seed: 1 });
    const w = ebm.randn([20, 24], { seed: 2 }).mul(0.3).requiresGrad_();
    const b = ebm.randn([20], { seed: 3 }).requiresGrad_();
    const mixed = ebm.tidy(() => ebm.keep(ebm.autocast({ dtype: 'f16' }, () => ebm.linear(x, w, b, { activation: 'silu' }))));
    const old = ebm.applyActivation(ebm.matmulT(x.to('f16'), w.to('f16'), false, true).add(b), 'silu');
    const plain = ebm.linear(x, w, b, { activation: 'silu' });
    expect(mixed.dtype).toBe('f32');
    expect(mixed.shape).toEqual([37, 20]);
    const [m, o, p] = await Promise.all([mixed.data(), old.data(), plain.data()]);
    expect(sameBits(m, o)).toBe(true);
    expect(sameBits(m, p)).toBe(false);
    // And the product really is of the f16-rounded operands, accumulated in f32 (float64 here).
    const [x16, w16, bv] = await Promise.all([x.to('f16').data(), w.to('f16').data(), b.data()]);
    let worst = 0;
    for (let i = 0; i < 37; i++)
      for (let j = 0; j < 20; j++) {
        let z = bv[j]!;
        for (let k = 0; k < 24; k++) z += x16[i * 24 + k]! * w16[j * 24 + k]!;
        worst = Math.max(worst, Math.abs(m[i * 20 + j]! - z / (1 + Math.exp(-z))));
      }
    expect(worst).toBeLessThan(1e-5);
    for (const t of [x, w, b, mixed, old, plain]) t.dispose();
  });

  it('linear backward: gradients reach the f32 parameters in f32, equal to the old path\'s', async () => {
    const x = ebm.randn([16, 8], { seed: 4 });
    const grads = async (run: (w: Tensor, b: Tensor) => Tensor) => {
      const w = ebm.randn([12, 8], { seed: 5 }).requiresGrad_();
      const b = ebm.randn([12], { seed: 6 }).requiresGrad_();
      ebm.tidy(() => run(w, b).square().sum().backward());
      expect(w.grad!.dtype).toBe('f32');
      const out = await Promise.all([w.grad!.data(), b.grad!.data()]);
      for (const t of [w, b]) t.dispose();
      return out;
    };
    const mixed = await grads((w, b) => ebm.autocast({ dtype: 'f16' }, () => ebm.linear(x, w, b, { activation: 'tanh' })));
    const old = await grads((w, b) => ebm.applyActivation(ebm.matmulT(x.to('f16'), w.to('f16'), false, true).add(b), 'tanh'));
    expect(sameBits(mixed[0]!, old[0]!)).toBe(true);
    expect(sameBits(mixed[1]!, old[1]!)).toBe(true);
    x.dispose();
  });

  it('matmul: both operands cast to f16, f32 result; 1-D operands too', async () => {
    const a = ebm.randn([3, 5, 12], { seed: 7 });
    const b = ebm.randn([12, 8], { seed: 8 });
    const v = ebm.randn([12], { seed: 9 });
    const [mixed, mixedVec] = ebm.autocast({ dtype: 'f16' }, () => [ebm.matmul(a, b), a.matmul(v)]);
    expect(mixed!.dtype).toBe('f32');
    expect(mixedVec!.shape).toEqual([3, 5]);
    const old = ebm.matmul(a.to('f16'), b.to('f16'));
    const oldVec = ebm.matmul(a.to('f16'), v.to('f16'));
    expect(sameBits(await mixed!.data(), await old.data())).toBe(true);
    expect(sameBits(await mixedVec!.data(), await oldVec.data())).toBe(true);
    expect(sameBits(await mixed!.data(), await ebm.matmul(a, b).data())).toBe(false);
    // matmulT is the primitive under the policy: it runs in its operands' dtype.
    expect(ebm.autocast({ dtype: 'f16' }, () => ebm.matmulT(a, b)).dtype).toBe('f32');
    expect(sameBits(await ebm.autocast({ dtype: 'f16' }, () => ebm.matmulT(a, b)).data(), await ebm.matmulT(a, b).data())).toBe(true);
  });

  it('a whole MLPEnergyModel: energies, dE/dx and parameter gradients equal the old patch\'s, bit for bit, in as many dispatches', async () => {
    const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [32, 32], activation: 'silu', seed: 10 });
    const x = ebm.randn([64, 2], { seed: 11 });
    let used = 0;
    const run = async (scope: <T>(fn: () => T) => T) => {
      model.zeroGrad();
      const before = dispatches();
      const [e, g] = ebm.tidy(() =>
        scope(() => {
          const energy = model.forward(x);
          const dx = model.gradient(x);
          energy.sum().backward();
          return [ebm.keep(energy.detach()), ebm.keep(dx)];
        }),
      );
      used = dispatches() - before;
      const out = [await e!.data(), await g!.data(), ...(await Promise.all(model.parameters().map((p) => p.grad!.data())))];
      e!.dispose();
      g!.dispose();
      return out;
    };
    const mixed = await run((fn) => ebm.autocast({ dtype: 'f16' }, fn));
    const mixedDispatches = used;
    const old = await run((fn) => withOldF16Patch(model, fn));
    // The same work: each weight cast once, each input cast where it enters a layer.
    expect(mixedDispatches).toBe(used);
    const f32 = await run((fn) => fn());
    expect(mixed.length).toBe(old.length);
    mixed.forEach((v, i) => expect(sameBits(v, old[i]!), `tensor ${i}`).toBe(true));
    expect(sameBits(mixed[0]!, f32[0]!)).toBe(false);
    for (const p of model.parameters()) expect(p.dtype).toBe('f32');
    model.zeroGrad();
    x.dispose();
    model.dispose();
  });
});

describe('autocast: the weight cache', () => {
  it('a parameter is cast once per scope however often it is used; inputs are cast at each use', () => {
    const layer = new Linear(16, 16, { seed: 12 });
    const x = ebm.randn([8, 16], { seed: 13 });
    const count = (calls: number) =>
      ebm.tidy(() => {
        const before = dispatches();
        ebm.noGrad(() =>
          ebm.autocast({ dtype: 'f16' }, () => {
            for (let i = 0; i < calls; i++) layer.forward(x);
          }),
        );
        return dispatches() - before;
      });
    const one = count(1);
    const five = count(5);
    // One call: the weight's cast plus the call's own work; each further call, its own work only.
    expect(five).toBe(one + 4 * (one - 1));
    // A nested f16 scope shares the outer cache: still one weight cast.
    const nested = ebm.tidy(() => {
      const before = dispatches();
      ebm.noGrad(() =>
        ebm.autocast({ dtype: 'f16' }, () => {
          layer.forward(x);
          ebm.autocast({ dtype: 'f16' }, () => layer.forward(x));
        }),
      );
      return dispatches() - before;
    });
    expect(nested).toBe(one + (one - 1));
    // Without the cache, every call casts the weight.
    const uncached = ebm.tidy(() => {
      const before = dispatches();
      ebm.noGrad(() => ebm.autocast({ dtype: 'f16', cache: false }, () => [0, 1].forEach(() => layer.forward(x))));
      return dispatches() - before;
    });
    expect(uncached).toBe(2 * one);
    x.dispose();
    layer.dispose();
  });

  it('the cached casts live as long as the tidy scope around autocast, so a backward after the scope works, and nothing leaks', async () => {
    const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [16], activation: 'relu', seed: 14 });
    const x = ebm.randn([32, 2], { seed: 15 });
    // A first step makes the gradients that stay (one per parameter).
    const step = () =>
      ebm.tidy(() => {
        model.zeroGrad();
        const loss = ebm.autocast({ dtype: 'f16' }, () => model.forward(x).mean());
        loss.backward();
      });
    step();
    const before = ebm.memory();
    for (let i = 0; i < 5; i++) step();
    const after = ebm.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    for (const p of model.parameters()) expect(p.grad!.dtype).toBe('f32');
    // A scope that throws frees what it made too.
    const beforeThrow = ebm.memory().liveTensors;
    expect(() =>
      ebm.tidy(() =>
        ebm.autocast({ dtype: 'f16' }, () => {
          model.forward(x);
          throw new Error('boom');
        }),
      ),
    ).toThrow('boom');
    expect(ebm.memory().liveTensors).toBe(beforeThrow);
    model.zeroGrad();
    x.dispose();
    model.dispose();
  });
});

describe('autocast: scopes', () => {
  it('nests: enabled: false (or dtype f32) inside an f16 scope runs f32, and the outer policy comes back', async () => {
    const x = ebm.randn([4, 8], { seed: 16 });
    const w = ebm.randn([4, 8], { seed: 17 });
    const plain = await ebm.linear(x, w).data();
    expect(ebm.autocastState()).toEqual({ enabled: false, dtype: 'f32' });
    const seen: string[] = [];
    const [inner, after] = ebm.autocast({ dtype: 'f16' }, () => {
      seen.push(JSON.stringify(ebm.autocastState()));
      const off = ebm.autocast({ enabled: false }, () => {
        seen.push(JSON.stringify(ebm.autocastState()));
        return ebm.autocast({ dtype: 'f32' }, () => ebm.linear(x, w));
      });
      seen.push(JSON.stringify(ebm.autocastState()));
      return [off, ebm.linear(x, w)];
    });
    expect(seen).toEqual(['{"enabled":true,"dtype":"f16"}', '{"enabled":false,"dtype":"f32"}', '{"enabled":true,"dtype":"f16"}']);
    expect(sameBits(await inner!.data(), plain)).toBe(true);
    expect(sameBits(await after!.data(), plain)).toBe(false);
    expect(ebm.autocastState().enabled).toBe(false);
  });

  it('restores the previous policy when fn throws, at every depth', () => {
    expect(() => ebm.autocast({ dtype: 'f16' }, () => {
      throw new Error('outer');
    })).toThrow('outer');
    expect(ebm.autocastState().enabled).toBe(false);
    ebm.autocast({ dtype: 'f16' }, () => {
      expect(() => ebm.autocast({ enabled: false }, () => {
        throw new Error('inner');
      })).toThrow('inner');
      expect(ebm.autocastState()).toEqual({ enabled: true, dtype: 'f16' });
    });
    expect(ebm.autocastState().enabled).toBe(false);
  });

  it('conv2d stays f32 inside an f16 scope (there is no f16 conv kernel)', async () => {
    expect(ebm.AUTOCAST_OPS.conv2d).toBe(null);
    const x = ebm.randn([2, 3, 6, 6], { seed: 18 });
    const w = ebm.randn([4, 3, 3, 3], { seed: 19 });
    const inside = ebm.autocast({ dtype: 'f16' }, () => ebm.conv2d(x, w, null, { padding: 1 }));
    expect(inside.dtype).toBe('f32');
    expect(sameBits(await inside.data(), await ebm.conv2d(x, w, null, { padding: 1 }).data())).toBe(true);
  });

  it('bad options and async functions are named', () => {
    const fn = () => 1;
    expect(() => ebm.autocast({ dtype: 'bf16' as never }, fn)).toThrow(/^autocast: dtype must be 'f16' or 'f32', got "bf16"/);
    expect(() => ebm.autocast({ dtpye: 'f16' } as never, fn)).toThrow(/^autocast: unknown option 'dtpye' \(known: dtype, enabled, cache\)/);
    expect(() => ebm.autocast({ enabled: 1 } as never, fn)).toThrow(/^autocast: enabled must be a boolean/);
    expect(() => ebm.autocast(null as never, fn)).toThrow(/^autocast: expected options/);
    expect(() => ebm.autocast({}, 5 as never)).toThrow(/^autocast: expected a function/);
    expect(() => ebm.autocast({}, async () => 1)).toThrow(/^autocast: the function returned a Promise/);
    expect(ebm.autocastState().enabled).toBe(false);
  });
});
