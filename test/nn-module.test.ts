// nn Module, Parameter and layers: registration and PyTorch's dotted names, deduplication,
// train/eval propagation, state dicts (order, keys, strict and non-strict loading), zeroGrad,
// toDtype, dispose, Sequential naming and its Linear + activation fusion (dispatch count and
// output), ModuleList, Flatten, activation modules, and wrong-shaped inputs.
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm, expectClose, settleGarbage } from './helpers.js';

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});

const { Module, Parameter, Linear, Conv2d, Sequential, ModuleList, Flatten } = ebm;

/** A little model laid out like the seed's MLPEnergyModel, plus a parameter, and buffers. */
class Toy extends Module {
  readonly activation: ebm.Module;
  readonly network: ebm.Sequential;
  readonly output_layer: ebm.Linear;
  constructor(seed = 0) {
    super();
    this.registerParameter('scale', Parameter.adopt(ebm.ones([1])));
    this.registerBuffer('running', ebm.zeros([3]));
    this.registerBuffer('scratch', ebm.zeros([2]), { persistent: false });
    // The seed registers self.activation before self.network, and reuses it in the Sequential.
    this.activation = this.registerModule('activation', new ebm.ReLU());
    this.network = this.registerModule('network', new Sequential(new Linear(2, 4, { seed }), this.activation, new Linear(4, 3, { seed: seed + 1 }), this.activation));
    this.output_layer = this.registerModule('output_layer', new Linear(3, 1, { seed: seed + 2 }));
  }
  override forward(x: ebm.Tensor): ebm.Tensor {
    // Elementwise ops take f32: under toDtype('f16') the scale is cast for the multiply.
    return this.output_layer.forward(this.network.forward(x)).mul(this.param('scale')!.to('f32')).squeeze(-1);
  }
}

const KEYS = ['scale', 'running', 'network.0.weight', 'network.0.bias', 'network.2.weight', 'network.2.bias', 'output_layer.weight', 'output_layer.bias'];

describe('Parameter', () => {
  test('requires grad, shares the source storage, and survives tidy scopes', async () => {
    const p = ebm.tidy(() => {
      const t = ebm.tensor([1, 2, 3]);
      return { p: new Parameter(t.mul(2)) };
    }).p;
    expect(p).toBeInstanceOf(ebm.Tensor);
    expect(p.requiresGrad).toBe(true);
    expect(p.node).toBeNull();
    expect(p.isDisposed).toBe(false);
    expect(Array.from(await p.data())).toEqual([2, 4, 6]);
    const inner = ebm.tidy(() => {
      const q = new Parameter(ebm.zeros([2]), false);
      ebm.zeros([1]);
      return q;
    });
    expect(inner.isDisposed).toBe(false);
    expect(inner.requiresGrad).toBe(false);
    p.dispose();
    inner.dispose();
  });

  test('a parameter made from an op result is a leaf; adopt() disposes the source tensor', () => {
    const x = ebm.ones([2]).requiresGrad_();
    const y = x.mul(3);
    const p = new Parameter(y);
    expect(p.node).toBeNull();
    expect(y.isDisposed).toBe(false);
    const live = ebm.memory().liveTensors;
    const q = Parameter.adopt(ebm.zeros([4]));
    expect(ebm.memory().liveTensors).toBe(live + 1);
    expect(q.toString()).toBe('Parameter(shape=[4], dtype=f32)');
    expect(() => new Parameter([1, 2] as unknown as ebm.Tensor)).toThrow(/Parameter: expected a Tensor, got object/);
  });
});

describe('registration and names', () => {
  test('parameters, buffers and submodules under PyTorch dotted names, in registration order', () => {
    const m = new Toy();
    expect(m.namedParameters().map(([k]) => k)).toEqual(['scale', 'network.0.weight', 'network.0.bias', 'network.2.weight', 'network.2.bias', 'output_layer.weight', 'output_layer.bias']);
    expect(m.parameters()).toHaveLength(7);
    expect(m.namedParameters('', false).map(([k]) => k)).toEqual(['scale']);
    expect(m.namedParameters('model').map(([k]) => k)[1]).toBe('model.network.0.weight');
    expect(m.namedBuffers().map(([k]) => k)).toEqual(['running', 'scratch']);
    expect(m.buffers()).toHaveLength(2);
    expect(m.namedChildren().map(([k]) => k)).toEqual(['activation', 'network', 'output_layer']);
    expect(m.children()).toEqual([m.activation, m.network, m.output_layer]);
    // The shared activation is listed once, under its first name (torch's named_modules).
    expect(m.namedModules().map(([k]) => k)).toEqual(['', 'activation', 'network', 'network.0', 'network.2', 'output_layer']);
    expect(m.modules()).toHaveLength(6);
    expect(m.namedModules('', false).map(([k]) => k)).toEqual(['', 'activation', 'network', 'network.0', 'network.1', 'network.2', 'network.3', 'output_layer']);
    expect(m.getSubmodule('network.2')).toBe(m.network.at(2));
    expect(m.getParameter('network.0.weight')).toBe((m.network.at(0) as ebm.Linear).weight);
    expect(m.getBuffer('running').shape).toEqual([3]);
    expect(() => m.getSubmodule('network.7')).toThrow(/Sequential \(at 'network'\) has no submodule '7'/);
    expect(() => m.getParameter('network.0.kernel')).toThrow(/Linear has no parameter 'kernel' \(looking up 'network.0.kernel'\)/);
    m.dispose();
  });

  test('a parameter shared by two layers is listed once, but is under both keys in the state dict', () => {
    const a = new Linear(3, 3);
    const b = new Linear(3, 3);
    b.registerParameter('weight', a.weight);
    const seq = new Sequential(a, b, a);
    expect(seq.namedParameters().map(([k]) => k)).toEqual(['0.weight', '0.bias', '1.bias']);
    expect(seq.namedParameters('', true, false).map(([k]) => k)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias']);
    expect([...seq.stateDict().keys()]).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias']);
    expect(seq.stateDict().get('1.weight')).toBe(a.weight);
    seq.dispose();
  });

  test('re-registering a name keeps its place; null marks an absent parameter', () => {
    const m = new Module();
    m.registerParameter('a', Parameter.adopt(ebm.zeros([1])));
    m.registerParameter('b', null);
    m.registerParameter('c', Parameter.adopt(ebm.zeros([1])));
    const a2 = m.registerParameter('a', Parameter.adopt(ebm.ones([2])));
    expect(m.namedParameters().map(([k]) => k)).toEqual(['a', 'c']);
    expect(m.getParameter('a')).toBe(a2);
    expect(m.registeredAs('b')).toBe('parameter');
    expect(m.rawParameter('b')).toBeNull();
    expect([...m.stateDict().keys()]).toEqual(['a', 'c']);
    expect(m.unregister('a')).toBe(a2);
    expect(m.registeredAs('a')).toBeUndefined();
  });

  test.each([
    ['a dotted name', (m: ebm.Module): void => void m.registerParameter('a.b', null), /registerParameter: the name must not contain '\.', got 'a\.b'/],
    ['an empty name', (m: ebm.Module): void => void m.registerBuffer('', null), /registerBuffer: the name must not be empty/],
    ['a name taken by a buffer', (m: ebm.Module): void => void m.registerParameter('buf', null), /'buf' is already registered as a buffer/],
    ['a name taken by a parameter', (m: ebm.Module): void => void m.registerModule('p', new Module()), /'p' is already registered as a parameter/],
    ['a plain tensor as a parameter', (m: ebm.Module): void => void m.registerParameter('q', ebm.zeros([1]) as ebm.Parameter), /'q' must be a Parameter or null, got Tensor\(shape=\[1\].*wrap a tensor with new Parameter/],
    ['a non-module as a submodule', (m: ebm.Module): void => void m.registerModule('s', {} as ebm.Module), /'s' must be a Module or null, got Object/],
    ['a disposed buffer', (m: ebm.Module) => {
      const t = ebm.zeros([1]);
      t.dispose();
      m.registerBuffer('d', t);
    }, /disposed/],
  ] as const)('rejects %s', (_what, call, message) => {
    const m = new Module();
    m.registerBuffer('buf', ebm.zeros([1]));
    m.registerParameter('p', null);
    expect(() => call(m)).toThrow(message);
  });

  test('forward must be implemented; toString prints the tree like torch', () => {
    expect(() => new Module().forward()).toThrow(/Module: forward\(\) is not implemented/);
    const seq = new Sequential(new Linear(2, 3, { bias: false }), new ebm.LeakyReLU(0.2), new Conv2d(1, 2, 3, { padding: 1 }), new Flatten());
    expect(seq.toString()).toBe(
      [
        'Sequential(',
        '  (0): Linear(in_features=2, out_features=3, bias=False)',
        '  (1): LeakyReLU(negative_slope=0.2)',
        '  (2): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))',
        '  (3): Flatten(start_dim=1, end_dim=-1)',
        ')',
      ].join('\n'),
    );
    seq.dispose();
  });
});

describe('modes', () => {
  test('train(false) / eval() / train() propagate to every submodule', () => {
    const m = new Toy();
    const all = () => m.modules().map((x) => x.training);
    expect(all().every((t) => t)).toBe(true);
    expect(m.eval()).toBe(m);
    expect(all().every((t) => !t)).toBe(true);
    m.network.train();
    expect(m.training).toBe(false);
    expect(m.network.at(0).training).toBe(true);
    m.train();
    expect(all().every((t) => t)).toBe(true);
    expect(() => m.train('no' as unknown as boolean)).toThrow(/Toy\.train: mode must be a boolean, got string/);
    m.dispose();
  });
});

describe('state dicts', () => {
  test('stateDict: parameters and persistent buffers, module by module, under PyTorch keys', () => {
    const m = new Toy();
    const sd = m.stateDict();
    expect([...sd.keys()]).toEqual(KEYS);
    expect(sd.get('network.0.weight')!.shape).toEqual([4, 2]);
    expect(sd.get('output_layer.bias')!.shape).toEqual([1]);
    // The module's own tensors, not copies.
    expect(sd.get('network.2.weight')).toBe((m.network.at(2) as ebm.Linear).weight);
    m.dispose();
  });

  test('loadStateDict copies values in place (identities kept) from a Map or a Record', async () => {
    const a = new Toy(1);
    const b = new Toy(100);
    const ids = [...b.stateDict().values()];
    expect(b.loadStateDict(a.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [], mismatched: [] });
    expect([...b.stateDict().values()]).toEqual(ids);
    for (const [k, t] of a.stateDict()) expect(await b.stateDict().get(k)!.data(), k).toEqual(await t.data());
    const c = new Toy(200);
    c.loadStateDict(Object.fromEntries(a.stateDict()));
    const x = ebm.randn([5, 2], { seed: 1 });
    expect(await c.forward(x).data()).toEqual(await a.forward(x).data());
    for (const m of [a, b, c]) m.dispose();
  });

  test('a value of another dtype is cast', async () => {
    const lin = new Linear(3, 2);
    const w = ebm.tensor([[1, 2, 3], [4, 5, 6]]).to('f16');
    lin.loadStateDict({ weight: w, bias: ebm.tensor([0.5, -0.25]) });
    expect(lin.weight.dtype).toBe('f32');
    expect(Array.from(await lin.weight.data())).toEqual([1, 2, 3, 4, 5, 6]);
    lin.dispose();
  });

  test('strict: one error listing every missing, unexpected and wrongly shaped key with shapes; nothing modified', async () => {
    const m = new Toy(3);
    const before = await Promise.all([...m.stateDict().values()].map((t) => t.data()));
    const dict = new Map(new Toy(4).stateDict());
    dict.delete('output_layer.bias');
    dict.delete('running');
    dict.set('extra.weight', ebm.zeros([5, 6]));
    dict.set('network.0.weight', ebm.zeros([4, 3]));
    dict.set('network.2.bias', ebm.zeros([2]));
    let message = '';
    try {
      m.loadStateDict(dict);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^Toy\.loadStateDict: error\(s\) in loading the state dict \(2 missing, 1 unexpected, 2 wrongly shaped\); nothing was loaded:/);
    expect(message).toContain('missing key "running": expected shape [3]');
    expect(message).toContain('missing key "output_layer.bias": expected shape [1]');
    expect(message).toContain('unexpected key "extra.weight": received shape [5, 6]');
    expect(message).toContain('size mismatch for "network.0.weight": expected shape [4, 2], received [4, 3]');
    expect(message).toContain('size mismatch for "network.2.bias": expected shape [3], received [2]');
    expect(message).toContain('{ strict: false }');
    const after = await Promise.all([...m.stateDict().values()].map((t) => t.data()));
    expect(after).toEqual(before);
    m.dispose();
  });

  test('non-strict: loads what matches and returns what it skipped', async () => {
    const m = new Toy(5);
    const src = new Toy(6);
    const keep0 = await m.getParameter('network.0.weight').data();
    const dict = new Map(src.stateDict());
    dict.delete('scale');
    dict.set('network.0.weight', ebm.zeros([1, 1]));
    dict.set('bogus', ebm.zeros([2]));
    const result = m.loadStateDict(dict, { strict: false });
    expect(result).toEqual({ missingKeys: ['scale'], unexpectedKeys: ['bogus'], mismatched: [{ key: 'network.0.weight', expected: [4, 2], received: [1, 1] }] });
    expect(await m.getParameter('network.0.weight').data()).toEqual(keep0);
    expect(await m.getParameter('network.2.weight').data()).toEqual(await src.getParameter('network.2.weight').data());
    expect(await m.getParameter('output_layer.bias').data()).toEqual(await src.getParameter('output_layer.bias').data());
    m.dispose();
    src.dispose();
  });

  test('values that are not live tensors fail in either mode, before anything is written', async () => {
    const lin = new Linear(2, 2, { seed: 1 });
    const w0 = await lin.weight.data();
    const dead = ebm.zeros([2]);
    dead.dispose();
    const dict = { weight: ebm.ones([2, 2]), bias: dead, junk: [1, 2] as unknown as ebm.Tensor };
    for (const strict of [true, false]) {
      expect(() => lin.loadStateDict(dict, { strict })).toThrow(/Linear\.loadStateDict: 2 value\(s\) cannot be loaded; nothing was loaded:\n {2}"bias": tensor #\d+ of shape \[2\] has been disposed\n {2}"junk": not a Tensor \(got Array\)/);
    }
    expect(await lin.weight.data()).toEqual(w0);
    expect(() => lin.loadStateDict(null as unknown as Map<string, ebm.Tensor>)).toThrow(/expected a Map or an object of tensors, got null/);
    lin.dispose();
  });
});

describe('gradients, dtypes, memory', () => {
  test('zeroGrad drops the gradients (or zeroes them in place)', async () => {
    const m = new Toy(7);
    m.forward(ebm.randn([4, 2], { seed: 2 })).sum().backward();
    const params = m.parameters();
    expect(params.every((p) => p.grad !== null)).toBe(true);
    const g = params[1]!.grad!;
    m.zeroGrad(false);
    expect(params[1]!.grad).toBe(g);
    expect(Array.from(await g.data()).every((v) => v === 0)).toBe(true);
    const live = ebm.memory().liveTensors;
    m.zeroGrad();
    expect(params.every((p) => p.grad === null)).toBe(true);
    expect(g.isDisposed).toBe(true);
    expect(ebm.memory().liveTensors).toBe(live - params.length);
    m.dispose();
  });

  test('toDtype casts parameters and buffers under the same names; the f16 model still runs', async () => {
    const m = new Toy(8);
    const x = ebm.randn([6, 2], { seed: 3 });
    const y32 = await m.forward(x).data();
    const shared = m.getParameter('network.0.weight');
    expect(m.toDtype('f32')).toBe(m);
    expect(m.getParameter('network.0.weight')).toBe(shared);
    const live = ebm.memory().liveTensors;
    m.toDtype('f16');
    expect(ebm.memory().liveTensors).toBe(live);
    expect(shared.isDisposed).toBe(true);
    expect([...m.stateDict().keys()]).toEqual(KEYS);
    for (const [k, t] of m.stateDict()) expect(t.dtype, k).toBe('f16');
    expect(m.getBuffer('scratch').dtype).toBe('f16');
    const p = m.getParameter('network.0.weight');
    expect(p).toBeInstanceOf(Parameter);
    expect(p.requiresGrad).toBe(true);
    expectClose(await m.forward(x).data(), y32, 5e-3, 'f16 forward');
    // Gradients reach the f16 parameters.
    m.forward(x).sum().backward();
    expect(p.grad?.dtype).toBe('f16');
    m.toDtype('f32');
    for (const [k, t] of m.stateDict()) expect(t.dtype, k).toBe('f32');
    expect(() => m.toDtype('bf16' as ebm.DType)).toThrow(/toDtype: dtype must be 'f32' or 'f16', got "bf16"/);
    m.dispose();
  });

  test('dispose frees every parameter, gradient and buffer', async () => {
    await settleGarbage();
    const live = ebm.memory().liveTensors;
    const m = new Toy(9);
    // The forward's own intermediates go with the tidy; the gradients stay on the parameters.
    ebm.tidy(() => m.forward(ebm.randn([2, 2], { seed: 1 })).sum().backward());
    expect(m.parameters().every((p) => p.grad !== null)).toBe(true);
    m.dispose();
    for (const t of [...m.parameters(), ...m.buffers()]) expect(t.isDisposed).toBe(true);
    await settleGarbage();
    expect(ebm.memory().liveTensors).toBe(live);
  });

  test('layers created inside tidy survive it', () => {
    const lin = ebm.tidy(() => new Linear(3, 3));
    expect(lin.weight.isDisposed).toBe(false);
    expect(lin.bias!.isDisposed).toBe(false);
    lin.dispose();
  });
});

describe('Sequential', () => {
  test('children are named 0, 1, …; at(), length, append, iteration', () => {
    const a = new Linear(2, 2);
    const r = new ebm.ReLU();
    const seq = new Sequential(a, r);
    expect(seq.namedChildren().map(([k]) => k)).toEqual(['0', '1']);
    expect(seq.length).toBe(2);
    expect(seq.at(0)).toBe(a);
    expect(seq.at(-1)).toBe(r);
    expect(() => seq.at(2)).toThrow(/Sequential: index 2 is out of range for 2 modules/);
    const b = new Linear(2, 1);
    seq.append(b);
    expect([...seq]).toEqual([a, r, b]);
    expect([...seq.stateDict().keys()]).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(() => new Sequential(a, 3 as unknown as ebm.Module)).toThrow(/Sequential: entry 1 must be a Module, got number/);
    seq.dispose();
  });

  test('Linear + SiLU + Linear runs in 2 dispatches and equals the unfused composition', async () => {
    const l1 = new Linear(5, 16, { seed: 1 });
    const act = new ebm.SiLU();
    const l2 = new Linear(16, 3, { seed: 2 });
    const seq = new Sequential(l1, act, l2);
    const x = ebm.randn([7, 5], { seed: 3 });
    ebm.noGrad(() => seq.forward(x)); // warm the pipelines
    const before = rt.stats.dispatches;
    const y = seq.forward(x);
    expect(rt.stats.dispatches - before).toBe(2);
    const unfused = l2.forward(act.forward(l1.forward(x)));
    expect(y.shape).toEqual([7, 3]);
    expectClose(await y.data(), await unfused.data(), 1e-6, 'fused vs unfused');
    // Gradients flow through the fused path to every parameter.
    y.sum().backward();
    for (const p of seq.parameters()) expect(p.grad).not.toBeNull();
    seq.dispose();
  });

  test.each([
    ['ReLU', () => new ebm.ReLU()],
    ['LeakyReLU(0.2)', () => new ebm.LeakyReLU(0.2)],
    ['Tanh', () => new ebm.Tanh()],
    ['GELU', () => new ebm.GELU()],
    ['Sigmoid', () => new ebm.Sigmoid()],
  ] as const)('Linear + %s fuses into one dispatch with the same output', async (_name, make) => {
    const lin = new Linear(6, 9, { seed: 4 });
    const act = make();
    const seq = new Sequential(lin, act);
    const x = ebm.randn([5, 6], { seed: 5 });
    const before = rt.stats.dispatches;
    const y = seq.forward(x);
    expect(rt.stats.dispatches - before).toBe(1);
    expectClose(await y.data(), await act.forward(lin.forward(x)).data(), 1e-6, 'fused vs unfused');
    seq.dispose();
  });

  test('activations the epilogue lacks, and subclasses, run unfused', async () => {
    class MyReLU extends ebm.ReLU {
      override forward(x: ebm.Tensor): ebm.Tensor {
        return x.relu().mul(2);
      }
    }
    // Softplus fuses at torch's default threshold only (the kernels hold 20 as a constant).
    for (const act of [new ebm.Softplus(2, 3), new ebm.GELU('tanh'), new MyReLU()]) {
      const lin = new Linear(4, 4, { seed: 6 });
      const seq = new Sequential(lin, act);
      const x = ebm.randn([3, 4], { seed: 7 });
      const before = rt.stats.dispatches;
      const y = seq.forward(x);
      expect(rt.stats.dispatches - before, act.constructor.name).toBeGreaterThan(1);
      expect(await y.data()).toEqual(await act.forward(lin.forward(x)).data());
      seq.dispose();
    }
  });

  test('every activation of the table fuses, its parameter included (ELU(0.5), Softplus(2)): one dispatch, the unfused values', async () => {
    for (const act of [new ebm.ELU(0.5), new ebm.Softplus(2), new ebm.LeakyReLU(0.2), new ebm.GELU()]) {
      const lin = new Linear(4, 4, { seed: 6 });
      const seq = new Sequential(lin, act);
      const x = ebm.randn([3, 4], { seed: 7 });
      const before = rt.stats.dispatches;
      const y = seq.forward(x);
      expect(rt.stats.dispatches - before, act.constructor.name).toBe(1);
      // The same pre-activation either way; one f32 evaluation of the activation each (1e-6).
      expectClose(await y.data(), await act.forward(lin.forward(x)).data(), 1e-6, act.constructor.name);
      seq.dispose();
    }
  });
});

describe('ModuleList and Flatten', () => {
  test('ModuleList holds modules under 0, 1, …; insert renumbers; it has no forward', () => {
    const [a, b, c] = [new Linear(1, 1), new Linear(1, 1), new Linear(1, 1)];
    const list = new ModuleList([a, b]);
    expect(list.length).toBe(2);
    list.insert(1, c);
    expect([...list]).toEqual([a, c, b]);
    expect(list.namedChildren().map(([k]) => k)).toEqual(['0', '1', '2']);
    expect(list.namedParameters().map(([k]) => k)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias']);
    expect(list.at(-1)).toBe(b);
    expect(() => list.forward()).toThrow(/ModuleList: has no forward\(\)/);
    list.dispose();
  });

  test('Flatten(startDim = 1, endDim = -1), as torch', () => {
    const x = ebm.zeros([2, 3, 4, 5]);
    expect(new Flatten().forward(x).shape).toEqual([2, 60]);
    expect(new Flatten(0).forward(x).shape).toEqual([120]);
    expect(new Flatten(1, 2).forward(x).shape).toEqual([2, 12, 5]);
  });
});

describe('layers', () => {
  test('Linear: weight [out, in], bias [out], forward = ebm.linear; inputs of any leading shape', async () => {
    const lin = new Linear(3, 2, { seed: 1 });
    expect(lin.weight.shape).toEqual([2, 3]);
    expect(lin.bias!.shape).toEqual([2]);
    const x = ebm.randn([4, 5, 3], { seed: 2 });
    const y = lin.forward(x);
    expect(y.shape).toEqual([4, 5, 2]);
    expect(await y.data()).toEqual(await ebm.linear(x, lin.weight, lin.bias).data());
    const nb = new Linear(3, 2, { bias: false });
    expect(nb.bias).toBeNull();
    expect([...nb.stateDict().keys()]).toEqual(['weight']);
    expect(nb.forward(ebm.zeros([3])).shape).toEqual([2]);
  });

  test('Conv2d: weight [out, in, kh, kw], forward = ebm.conv2d with its stride, padding and dilation; unbatched input', async () => {
    const conv = new Conv2d(2, 3, [3, 2], { stride: 2, padding: [1, 0], dilation: 1, seed: 3 });
    expect(conv.weight.shape).toEqual([3, 2, 3, 2]);
    const x = ebm.randn([2, 2, 7, 6], { seed: 4 });
    const y = conv.forward(x);
    const ref = ebm.conv2d(x, conv.weight, conv.bias, { stride: 2, padding: [1, 0] });
    expect(y.shape).toEqual(ref.shape);
    expect(await y.data()).toEqual(await ref.data());
    const one = conv.forward(x.slice(0, 0, 1).squeeze(0));
    expect(one.shape).toEqual(ref.shape.slice(1));
    const same = new Conv2d(2, 4, 3, { padding: 'same', dilation: 2 });
    expect(same.padding).toEqual([2, 2]);
    expect(same.forward(x).shape).toEqual([2, 4, 7, 6]);
    expect(() => new Conv2d(2, 4, 2, { padding: 'same' })).toThrow(/padding='same' needs an even dilation \* \(kernel - 1\)/);
    expect(() => new Conv2d(2, 4, 3, { padding: 'same', stride: 2 })).toThrow(/padding='same' is not supported for strided convolutions/);
  });

  test.each([
    ['Linear, wrong last dim', () => new Linear(4, 3), [8, 5], /Linear\(in_features=4, out_features=3\): expected input of shape \[\.\.\., 4\] \(last dim = in_features\), got \[8, 5\]/],
    ['Linear, a 0-d input', () => new Linear(4, 3), [], /Linear\(in_features=4, out_features=3\): expected input of shape \[\.\.\., 4\].*got \[\]/],
    ['Linear fused in a Sequential', () => new Sequential(new Linear(4, 3), new ebm.SiLU()), [2, 3], /Linear\(in_features=4, out_features=3\): expected input of shape \[\.\.\., 4\].*got \[2, 3\]/],
    ['Conv2d, wrong channels', () => new Conv2d(3, 8, 3), [2, 4, 8, 8], /Conv2d\(3, 8, kernel_size=\(3, 3\)\): expected input of shape \[N, 3, H, W\] \(or unbatched \[3, H, W\]\), got \[2, 4, 8, 8\]/],
    ['Conv2d, a flat input', () => new Conv2d(3, 8, 3), [2, 192], /Conv2d\(3, 8, kernel_size=\(3, 3\)\): expected input of shape \[N, 3, H, W\].*got \[2, 192\]/],
    ['spectral-norm Linear', () => ebm.spectralNorm(new Linear(4, 3)), [2, 2], /Linear\(in_features=4, out_features=3\): expected input of shape \[\.\.\., 4\].*got \[2, 2\]/],
  ] as const)('%s: the error names the expected and received shape; nothing runs', (_what, make, shape, message) => {
    const m = make();
    const x = ebm.zeros([...shape]);
    const live = ebm.memory().liveTensors;
    const dispatches = rt.stats.dispatches;
    expect(() => m.forward(x)).toThrow(message);
    expect(ebm.memory().liveTensors).toBe(live);
    expect(rt.stats.dispatches).toBe(dispatches);
    m.dispose();
  });

  test.each([
    ['Linear, not a tensor', () => new Linear(2, 2).forward([1, 2] as unknown as ebm.Tensor), /Linear\(in_features=2, out_features=2\): expected a Tensor input, got object/],
    ['Linear, a bad size', () => new Linear(0, 2), /Linear: inFeatures must be a positive integer, got 0/],
    ['Linear, a bad bias flag', () => new Linear(2, 2, { bias: 1 as unknown as boolean }), /Linear: bias must be a boolean, got number/],
    ['Conv2d, a bad kernel', () => new Conv2d(1, 1, [3, 0]), /Conv2d: kernelSize must be a positive integer or a pair \[h, w\] of them, got \[3,0\]/],
    ['Conv2d, a bad stride', () => new Conv2d(1, 1, 3, { stride: 0 }), /Conv2d: stride must be a positive integer/],
    ['LeakyReLU, a bad slope', () => new ebm.LeakyReLU(NaN), /LeakyReLU: negativeSlope must be a finite number, got NaN/],
    ['GELU, a bad approximation', () => new ebm.GELU('fast' as 'tanh'), /GELU: approximate must be 'none' or 'tanh', got "fast"/],
    ['Softplus, beta 0', () => new ebm.Softplus(0), /Softplus: beta must be non-zero/],
  ] as const)('rejects %s', (_what, call, message) => {
    expect(call).toThrow(message);
  });

  test('activation modules match the tensor ops (ELU, Softplus and GELU tanh with torch\'s formulas)', async () => {
    const x = ebm.tensor([-3, -1, -0.1, 0, 0.2, 1.5, 4]);
    const xs = await x.data();
    const ref = (f: (v: number) => number) => Array.from(xs, f);
    const check = async (m: ebm.Module, f: (v: number) => number, what: string) => expectClose(await m.forward(x).data(), ref(f), 1e-6, what);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    await check(new ebm.ReLU(), (v) => Math.max(v, 0), 'relu');
    await check(new ebm.LeakyReLU(), (v) => (v > 0 ? v : 0.01 * v), 'leaky');
    await check(new ebm.SiLU(), (v) => v * sig(v), 'silu');
    await check(new ebm.Tanh(), Math.tanh, 'tanh');
    await check(new ebm.Sigmoid(), sig, 'sigmoid');
    await check(new ebm.ELU(0.5), (v) => (v > 0 ? v : 0.5 * Math.expm1(v)), 'elu');
    await check(new ebm.Softplus(2, 3), (v) => (2 * v > 3 ? v : Math.log1p(Math.exp(2 * v)) / 2), 'softplus');
    await check(new ebm.GELU('tanh'), (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))), 'gelu tanh');
    expect(new ebm.Softplus().toString()).toBe('Softplus(beta=1, threshold=20)');
    expect(new ebm.GELU().epilogue()).toEqual({ activation: 'gelu', param: 0 });
    expect(new ebm.ELU(0.5).epilogue()).toEqual({ activation: 'elu', param: 0.5 });
    expect(new ebm.Softplus(2).epilogue()).toEqual({ activation: 'softplus', param: 2 });
    expect(new ebm.Softplus(2, 3).epilogue()).toBeNull();
  });
});
