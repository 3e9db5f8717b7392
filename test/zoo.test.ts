// The energy-model zoo (src/nn/models) against the seed's PyTorch classes
// (scripts/make_zoo_fixtures.py): each model is built here with the fixture's config, loads
// PyTorch's state dict from zoo-<name>.safetensors (strict), and must give PyTorch's energies,
// dE/dx (through model.gradient) and parameter gradients of mean E on the same batch; the
// spectral-norm MLP in training mode (one power iteration, u and v updated as PyTorch does) and
// in eval mode. Plus: PyTorch's state-dict keys, order and shapes; gradient() leaves no
// parameter grads and no live tensors beyond its result; outputs are [batch]; wrong input shapes
// and bad options are refused by name; a checkpoint saved here loads back bit-exact; the
// custom model's orthogonal init; activation names and sharing; seeded construction.
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm, expectClose, loadFixture } from './helpers.js';

/**
 * 1e-5 relative to each tensor's scale (expectClose). The oracle runs in float64 on the same
 * float32 weights and inputs; our f32 dot products are at most 128 terms long (fc.1 and the
 * 32-wide MLPs), and SiLU/GELU/tanh go through WGSL exp/erf, a few ULP from float64.
 */
const TOL = 1e-5;

interface Meta {
  name: string;
  kind: string;
  config: Record<string, unknown>;
  keys: string[];
  shapes: Record<string, number[]>;
  parameters: string[];
  buffers: string[];
  modes: ('train' | 'eval')[];
  input: number[];
  output: number[];
}

const NAMES = ['base', 'mlp', 'mlp-sn', 'conv', 'conv-k5', 'resnet', 'custom', 'neural'];
const fixtures = NAMES.map((name) => {
  const io = loadFixture(`zoo-${name}-io.safetensors`);
  const meta: Meta = JSON.parse(io.metadata.case!);
  return { name, meta, io, modelPath: join(import.meta.dirname, 'fixtures', `zoo-${name}.safetensors`) };
});
type Fx = (typeof fixtures)[number];

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});

/** Our class for the fixture's case, built from its (camelCase) config. */
function build(meta: Meta): ebm.Module {
  const c = meta.config as never;
  switch (meta.kind) {
    case 'BaseModel':
      return new ebm.BaseModel(c);
    case 'MLPEnergyModel':
      return new ebm.MLPEnergyModel(c);
    case 'ConvEnergyModel':
      return new ebm.ConvEnergyModel(c);
    case 'ResNetEnergyModel':
      return new ebm.ResNetEnergyModel(c);
    case 'CustomEnergyModel':
      return new ebm.CustomEnergyModel(c);
    case 'NeuralEnergyFunction': {
      const { inputDim, hidden } = meta.config as { inputDim: number; hidden: number };
      const { Sequential, Linear, Tanh, GELU } = ebm;
      return new ebm.NeuralEnergyFunction(new Sequential(new Linear(inputDim, hidden), new Tanh(), new Linear(hidden, hidden), new GELU(), new Linear(hidden, 1)));
    }
    default:
      throw new Error(`unknown kind ${meta.kind}`);
  }
}

/** A fresh model holding PyTorch's weights, in `mode`. */
async function loaded(f: Fx, mode: 'train' | 'eval'): Promise<ebm.Module> {
  const m = build(f.meta);
  const res = await ebm.loadSafetensors(m, f.modelPath);
  expect(res).toEqual({ missingKeys: [], unexpectedKeys: [], mismatched: [] });
  return m.train(mode === 'train');
}

/** E(x) (BaseModel: its features). */
const energyOf = (m: ebm.Module, x: ebm.Tensor): ebm.Tensor => m.forward(x) as ebm.Tensor;

/** dE/dx: model.gradient for energies; BaseModel (features, not an energy) through ebm.grad of their sum. */
function gradientOf(m: ebm.Module, x: ebm.Tensor): ebm.Tensor {
  if (m instanceof ebm.BaseEnergyFunction) return m.gradient(x);
  return ebm.tidy(() => ebm.grad((v: ebm.Tensor) => energyOf(m, v).sum())(x));
}

async function expectBuffers(f: Fx, m: ebm.Module, mode: string): Promise<void> {
  for (const [k, b] of m.namedBuffers()) expectClose(await b.data(), f.io.values(`${mode}/buffer/${k}`), TOL, `${f.name} ${mode} buffer ${k}`);
}

describe.each(fixtures)('$name ($meta.kind) against the seed class in PyTorch', (f) => {
  test("the state dict has PyTorch's keys, order and shapes; parameters and buffers too", () => {
    const m = build(f.meta);
    const sd = m.stateDict();
    expect([...sd.keys()]).toEqual(f.meta.keys);
    for (const [k, t] of sd) expect([...t.shape], k).toEqual(f.meta.shapes[k]);
    expect(m.namedParameters().map(([k]) => k)).toEqual(f.meta.parameters);
    expect(m.namedBuffers().map(([k]) => k)).toEqual(f.meta.buffers);
    m.dispose();
  });

  describe.each(f.meta.modes)('%s mode', (mode) => {
    test('energies match PyTorch, with shape [batch] (and the spectral-norm buffers after the forward)', async () => {
      const m = await loaded(f, mode);
      const x = f.io.get('x');
      const e = energyOf(m, x);
      // Energies are [batch]. (The seed's NeuralEnergyFunction passes its model's [batch, 1] through; ours squeezes it.)
      expect([...e.shape]).toEqual(f.meta.kind === 'BaseModel' ? f.meta.output : [f.meta.input[0]]);
      if (f.meta.kind === 'NeuralEnergyFunction') expect(f.meta.output).toEqual([f.meta.input[0], 1]);
      expectClose(await e.data(), f.io.values(`${mode}/energy`), TOL, `${f.name} ${mode} energy`);
      await expectBuffers(f, m, mode);
      m.dispose();
    });

    test('gradient(x) = dE/dx matches PyTorch, leaving no parameter grads and nothing live but its result', async () => {
      const m = await loaded(f, mode);
      const x = f.io.get('x');
      const before = ebm.memory().liveTensors;
      const g = gradientOf(m, x);
      expect(ebm.memory().liveTensors).toBe(before + 1);
      expect([...g.shape]).toEqual([...x.shape]);
      expect(g.node).toBeNull();
      for (const [k, p] of m.namedParameters()) expect(p.grad, `${k}.grad`).toBeNull();
      expectClose(await g.data(), f.io.values(`${mode}/grad_x`), TOL, `${f.name} ${mode} dE/dx`);
      // The one forward inside gradient() did what PyTorch's did to u and v.
      await expectBuffers(f, m, mode);
      m.dispose();
    });

    test('parameter gradients of mean E(x) match PyTorch', async () => {
      const m = await loaded(f, mode);
      const x = f.io.get('x');
      ebm.tidy(() => energyOf(m, x).mean().backward());
      for (const [k, p] of m.namedParameters()) {
        expect(p.grad, `${k}.grad`).not.toBeNull();
        expectClose(await p.grad!.data(), f.io.values(`${mode}/grad/${k}`), TOL, `${f.name} ${mode} d mean(E)/d ${k}`);
      }
      m.dispose();
    });
  });

  test('a checkpoint saved here loads back bit-exact into a fresh model, with the values of PyTorch\'s file', async () => {
    const bits = async (t: ebm.Tensor) => new Uint32Array((await t.data()).buffer);
    const m = await loaded(f, 'eval');
    const bytes = await ebm.saveSafetensors(m);
    const fresh = build(f.meta);
    await ebm.loadSafetensors(fresh, bytes);
    const { tensors: torchFile } = await ebm.readSafetensors(f.modelPath);
    const saved = m.stateDict();
    for (const [k, t] of fresh.stateDict()) {
      const got = await bits(t);
      expect(got, k).toEqual(await bits(saved.get(k)!));
      expect(got, `${k} vs PyTorch's file`).toEqual(await bits(torchFile.get(k)!));
    }
    for (const t of torchFile.values()) t.dispose();
    m.dispose();
    fresh.dispose();
  });
});

describe('inputs', () => {
  test('ConvEnergyModel takes flat rows [batch, C*S*S] as the seed does, with the same energies', async () => {
    const f = fixtures.find((g) => g.name === 'conv')!;
    const m = await loaded(f, 'eval');
    const x = f.io.get('x');
    const flat = x.reshape([x.shape[0]!, -1]);
    expectClose(await m.forward(flat).data(), f.io.values('eval/energy'), TOL, 'flat input energy');
    const g = (m as ebm.ConvEnergyModel).gradient(flat);
    expect([...g.shape]).toEqual([...flat.shape]);
    expectClose(await g.data(), f.io.values('eval/grad_x'), TOL, 'flat input dE/dx');
    m.dispose();
  });

  test('every model refuses input of the wrong shape, naming the expected and the received shape', () => {
    const x = (shape: number[]) => ebm.zeros(shape);
    const mlp = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [8] });
    expect(() => mlp.forward(x([4, 3]))).toThrow('MLPEnergyModel: expected input of shape [batch, 2], got [4, 3]');
    expect(() => mlp.forward(x([2]))).toThrow('MLPEnergyModel: expected input of shape [batch, 2], got [2]');
    expect(() => mlp.gradient(x([4, 2, 1]))).toThrow('MLPEnergyModel: expected input of shape [batch, 2], got [4, 2, 1]');
    expect(() => mlp.forward([[1, 2]] as never)).toThrow('MLPEnergyModel: expected a Tensor input, got Array');
    const base = new ebm.BaseModel({ inputDim: 3, hiddenDims: [4] });
    expect(() => base.forward(x([5, 2]))).toThrow('BaseModel: expected input of shape [batch, 3], got [5, 2]');
    const conv = new ebm.ConvEnergyModel({ inputChannels: 3, imageSize: 8, channels: [4, 8] });
    expect(() => conv.forward(x([2, 3, 8, 7]))).toThrow('ConvEnergyModel: expected input of shape [batch, 3, 8, 8] or [batch, 192], got [2, 3, 8, 7]');
    expect(() => conv.forward(x([2, 1, 8, 8]))).toThrow('ConvEnergyModel: expected input of shape [batch, 3, 8, 8] or [batch, 192], got [2, 1, 8, 8]');
    // The seed's view(-1, C, S, S) would quietly make 2 rows of 384 values into 4 images.
    expect(() => conv.forward(x([2, 384]))).toThrow('ConvEnergyModel: expected input of shape [batch, 3, 8, 8] or [batch, 192], got [2, 384]');
    expect(() => conv.forward(x([3, 8, 8]))).toThrow('got [3, 8, 8]');
    const res = new ebm.ResNetEnergyModel({ inputDim: 4, hiddenDim: 8, nBlocks: 1 });
    expect(() => res.forward(x([3, 5]))).toThrow('ResNetEnergyModel: expected input of shape [batch, 4], got [3, 5]');
    const block = new ebm.ResidualBlock({ dim: 8 });
    expect(() => block.forward(x([3, 4]))).toThrow('ResidualBlock: expected input of shape [batch, 8], got [3, 4]');
    const custom = new ebm.CustomEnergyModel({ inputDim: 2, hiddenDim: 8 });
    expect(() => custom.forward(x([3, 1]))).toThrow('CustomEnergyModel: expected input of shape [batch, 2], got [3, 1]');
    const neural = new ebm.NeuralEnergyFunction(new ebm.Linear(2, 1));
    expect(() => neural.forward(x([3, 5]))).toThrow(/Linear\(in_features=2, out_features=1\): expected input of shape \[\.\.\., 2\].*got \[3, 5\]/);
    // Disposed inputs are named too.
    const gone = x([4, 2]);
    gone.dispose();
    expect(() => mlp.forward(gone)).toThrow(/disposed/);
    for (const m of [mlp, base, conv, res, block, custom, neural]) m.dispose();
  });

  test('NeuralEnergyFunction squeezes [batch, 1], passes [batch], and refuses other output shapes', async () => {
    const x = ebm.randn([5, 2], { seed: 3 });
    const lin = new ebm.Linear(2, 1, { seed: 1 });
    const e = new ebm.NeuralEnergyFunction(lin).forward(x);
    expect([...e.shape]).toEqual([5]);
    expectClose(await e.data(), await lin.forward(x).data(), 0, 'squeezed');
    class Sum extends ebm.Module {
      override forward(v: ebm.Tensor) {
        return v.sum(-1);
      }
    }
    expect([...new ebm.NeuralEnergyFunction(new Sum()).forward(x).shape]).toEqual([5]);
    expect(() => new ebm.NeuralEnergyFunction(new ebm.Linear(2, 3)).forward(x)).toThrow(
      'NeuralEnergyFunction: the model (Linear) must return energies of shape [5] or [5, 1] for input [5, 2], got [5, 3]',
    );
    expect(() => new ebm.NeuralEnergyFunction((() => 1) as never)).toThrow('NeuralEnergyFunction: expected a Module');
    expect(new ebm.NeuralEnergyFunction(lin).stateDict().has('model.weight')).toBe(true);
  });
});

describe('construction', () => {
  test('defaults: ReLU MLP and ResNet, LeakyReLU(0.2) Conv with channels [32, 64, 128, 256] and kernel 3, custom hidden 128', () => {
    const mlp = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [16, 8] });
    expect(mlp.activation).toBeInstanceOf(ebm.ReLU);
    expect(mlp.useSpectralNorm).toBe(false);
    expect([...mlp.stateDict().keys()]).toEqual(['network.0.weight', 'network.0.bias', 'network.2.weight', 'network.2.bias', 'output_layer.weight', 'output_layer.bias']);
    const conv = new ebm.ConvEnergyModel({ inputChannels: 1, imageSize: 32 });
    expect(conv.channels).toEqual([32, 64, 128, 256]);
    expect(conv.kernelSize).toBe(3);
    expect(conv.featureSize).toBe(2);
    expect(conv.activation).toBeInstanceOf(ebm.LeakyReLU);
    expect((conv.activation as ebm.LeakyReLU).negativeSlope).toBe(0.2);
    expect([...conv.stateDict().get('fc.1.weight')!.shape]).toEqual([128, 256 * 2 * 2]);
    expect([...conv.stateDict().get('conv_net.6.weight')!.shape]).toEqual([256, 128, 3, 3]);
    const res = new ebm.ResNetEnergyModel({ inputDim: 3 });
    expect([res.hiddenDim, res.nBlocks, res.blocks.length]).toEqual([128, 4, 4]);
    expect(res.stateDict().has('blocks.3.block.2.bias')).toBe(true);
    const custom = new ebm.CustomEnergyModel({ inputDim: 2 });
    expect(custom.hiddenDim).toBe(128);
    expect(custom.network.at(1)).toBeInstanceOf(ebm.SiLU);
    for (const m of [mlp, conv, res, custom]) m.dispose();
  });

  test('one activation module, by name or instance, is shared by every layer (registered as `activation`, as in the seed)', () => {
    const mlp = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [4, 4], activation: 'silu' });
    expect(mlp.activation).toBeInstanceOf(ebm.SiLU);
    expect(mlp.network.at(1)).toBe(mlp.activation);
    expect(mlp.network.at(3)).toBe(mlp.activation);
    expect(mlp.namedModules().map(([k]) => k)).toEqual(['', 'activation', 'network', 'network.0', 'network.2', 'output_layer']);
    const tanh = new ebm.Tanh();
    const res = new ebm.ResNetEnergyModel({ inputDim: 2, hiddenDim: 4, nBlocks: 2, activation: tanh });
    expect(res.input_proj.at(1)).toBe(tanh);
    expect((res.blocks.at(1) as ebm.ResidualBlock).block.at(1)).toBe(tanh);
    expect((res.blocks.at(0) as ebm.ResidualBlock).activation).toBe(tanh);
    for (const [name, cls] of [['relu', ebm.ReLU], ['leakyRelu', ebm.LeakyReLU], ['tanh', ebm.Tanh], ['sigmoid', ebm.Sigmoid], ['gelu', ebm.GELU], ['elu', ebm.ELU], ['softplus', ebm.Softplus], ['swish', ebm.SiLU]] as const)
      expect(new ebm.BaseModel({ inputDim: 1, hiddenDims: [2], activation: name }).activation).toBeInstanceOf(cls);
    expect(() => new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [4], activation: 'swishy' as never })).toThrow(
      /MLPEnergyModel: activation must be a Module \(new SiLU\(\)\) or one of relu, leakyRelu, .*; got string "swishy"/,
    );
  });

  test('bad options are refused by name', () => {
    expect(() => new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [] })).toThrow('MLPEnergyModel: hiddenDims must be a non-empty array of positive integers, got []');
    expect(() => new ebm.MLPEnergyModel({ inputDim: 0, hiddenDims: [4] })).toThrow('MLPEnergyModel: inputDim must be a positive integer, got number 0');
    expect(() => new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [4, 2.5] })).toThrow('MLPEnergyModel: hiddenDims must be a non-empty array');
    expect(() => new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [4], useSpectralNorm: true, spectralNorm: false })).toThrow('useSpectralNorm (true) and spectralNorm (false) disagree');
    expect(() => new ebm.MLPEnergyModel(undefined as never)).toThrow('MLPEnergyModel: expected an options object');
    // The feature size comes from the conv arithmetic (28: 14 -> 7 -> 4 -> 2, where the seed's 28 // 2^4 is 1); test/conv2d-models.test.ts checks it against PyTorch.
    expect(new ebm.ConvEnergyModel({ inputChannels: 1, imageSize: 28 }).featureSize).toBe(2);
    expect(new ebm.ConvEnergyModel({ inputChannels: 1, imageSize: 8, channels: [4, 8], kernelSize: 4 }).featureSize).toBe(3);
    expect(() => new ebm.ResNetEnergyModel({ inputDim: 2, nBlocks: -1 })).toThrow('ResNetEnergyModel: nBlocks must be a non-negative integer, got -1');
    expect(() => new ebm.CustomEnergyModel({ inputDim: 2, seed: -1 })).toThrow('CustomEnergyModel: seed must be a non-negative safe integer');
    // An empty BaseModel is the identity, as the seed's empty Sequential is.
    expect([...new ebm.BaseModel({ inputDim: 3, hiddenDims: [] }).forward(ebm.zeros([2, 3])).shape]).toEqual([2, 3]);
  });

  test("DESIGN.md's example: an MLP with spectralNorm: true gives energies [256] and has the spectral-norm keys", () => {
    const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [128, 128], activation: 'silu', spectralNorm: true });
    expect(model.useSpectralNorm).toBe(true);
    const r = ebm.randn([256, 2], { seed: 0 });
    expect([...model.forward(r).shape]).toEqual([256]);
    expect([...model.stateDict().keys()].filter((k) => k.startsWith('output_layer'))).toEqual(['output_layer.bias', 'output_layer.weight_orig', 'output_layer.weight_u', 'output_layer.weight_v']);
    model.dispose();
  });

  test('the same seed gives the same weights; spectral norm in eval mode leaves u and v alone in gradient()', async () => {
    const a = new ebm.ResNetEnergyModel({ inputDim: 3, hiddenDim: 8, nBlocks: 2, seed: 7 });
    const b = new ebm.ResNetEnergyModel({ inputDim: 3, hiddenDim: 8, nBlocks: 2, seed: 7 });
    const c = new ebm.ResNetEnergyModel({ inputDim: 3, hiddenDim: 8, nBlocks: 2, seed: 8 });
    const [sa, sb, sc] = [a, b, c].map((m) => m.stateDict());
    for (const [k, t] of sa!) {
      expect(Array.from(await t.data()), k).toEqual(Array.from(await sb!.get(k)!.data()));
      expect(Array.from(await t.data()), k).not.toEqual(Array.from(await sc!.get(k)!.data()));
    }
    // Two layers of one model do not repeat each other's numbers.
    expect(Array.from(await sa!.get('blocks.0.block.0.weight')!.data())).not.toEqual(Array.from(await sa!.get('blocks.1.block.0.weight')!.data()));

    const sn = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [8], useSpectralNorm: true, seed: 1 }).eval();
    const u0 = Array.from(await sn.getBuffer('network.0.weight_u').data());
    sn.gradient(ebm.randn([4, 2], { seed: 2 })).dispose();
    expect(Array.from(await sn.getBuffer('network.0.weight_u').data())).toEqual(u0);
    sn.train();
    sn.gradient(ebm.randn([4, 2], { seed: 2 })).dispose();
    expect(Array.from(await sn.getBuffer('network.0.weight_u').data())).not.toEqual(u0);
  });

  test("toDtype('f16') models still give [batch] energies close to their f32 ones", async () => {
    for (const name of ['mlp-sn', 'conv', 'resnet']) {
      const f = fixtures.find((g) => g.name === name)!;
      const m = await loaded(f, 'eval');
      const x = f.io.get('x');
      const want = await energyOf(m, x).data();
      m.toDtype('f16');
      const e = energyOf(m, x);
      expect([...e.shape], name).toEqual([x.shape[0]]);
      // f16 weights carry 11 significant bits.
      expectClose(await e.data(), want, 1e-2, `${name} in f16`);
      m.dispose();
    }
  });

  test("the custom model's init: orthogonal weights (WᵀW = I or WWᵀ = I to 1e-5) and zero biases", async () => {
    const m = new ebm.CustomEnergyModel({ inputDim: 3, hiddenDim: 16, seed: 5 });
    for (const [k, p] of m.namedParameters()) {
      if (k.endsWith('bias')) {
        expect(Array.from(await p.data()), k).toEqual(new Array(p.size).fill(0));
        continue;
      }
      const [rows, cols] = p.shape as [number, number];
      const gram = rows >= cols ? p.transpose().matmul(p) : p.matmul(p.transpose());
      const n = Math.min(rows, cols);
      expectClose(await gram.data(), await ebm.eye(n).data(), 1e-5, `${k} gram`);
    }
  });
});
