// The analytic energies (src/nn/energies) with TorchEBM's formulas and defaults: each energy's
// values against its closed form computed here in float64, and its closed-form gradient(x)
// against both the closed form here and autodiff of its own forward (ebm.grad). Plus the
// defaults, [batch] outputs, single samples, gradient() leaving nothing behind, special points
// (minima, Ackley's origin), GaussianEnergy's two construction paths and its buffers, and
// wrong-shaped inputs and bad options refused by name.
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm, expectClose } from './helpers.js';

/**
 * Relative to each tensor's scale (expectClose). 1e-5 for the polynomial energies (f32 rounding
 * of a few products); 2e-5 where WGSL's exp, cos and sin enter (a few ULP each, and
 * Rastrigin's a cos(2πx) turns a cos error into one ten times larger).
 */
const TOL = 1e-5;
const TOL_TRANSCENDENTAL = 2e-5;

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});

type Rows = number[][];
/** x's rows on the host (float64 from the exact float32 values). */
async function rowsOf(x: ebm.Tensor): Promise<Rows> {
  const d = await x.data();
  const [b, n] = x.shape as [number, number];
  return Array.from({ length: b }, (_, i) => Array.from(d.subarray(i * n, (i + 1) * n)));
}

const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

interface Case {
  name: string;
  make: () => ebm.BaseEnergyFunction;
  dim: number;
  scale: number;
  energy: (x: number[]) => number;
  grad: (x: number[]) => number[];
  tol: number;
}

const COV = [
  [2, 1, 0],
  [1, 2, 1],
  [0, 1, 2],
];
// det 4; the adjugate over 4.
const COV_INV = [
  [0.75, -0.5, 0.25],
  [-0.5, 1, -0.5],
  [0.25, -0.5, 0.75],
];
const MEAN = [0.5, -1, 2];

const cases: Case[] = [
  {
    name: 'GaussianEnergy',
    make: () => new ebm.GaussianEnergy(MEAN, COV),
    dim: 3,
    scale: 2,
    energy: (x) => {
      const d = x.map((v, i) => v - MEAN[i]!);
      return 0.5 * sum(d.map((di, i) => di * sum(d.map((dj, j) => COV_INV[i]![j]! * dj))));
    },
    grad: (x) => {
      const d = x.map((v, i) => v - MEAN[i]!);
      return d.map((_, i) => sum(d.map((dj, j) => COV_INV[i]![j]! * dj)));
    },
    tol: TOL,
  },
  {
    name: 'DoubleWellEnergy (defaults h = 2, b = 1)',
    make: () => new ebm.DoubleWellEnergy(),
    dim: 4,
    scale: 1.5,
    energy: (x) => 2 * sum(x.map((v) => (v * v - 1) ** 2)),
    grad: (x) => x.map((v) => 8 * v * (v * v - 1)),
    tol: TOL,
  },
  {
    name: 'DoubleWellEnergy (h = 0.5, b = 1.5)',
    make: () => new ebm.DoubleWellEnergy({ barrierHeight: 0.5, b: 1.5 }),
    dim: 2,
    scale: 2,
    energy: (x) => 0.5 * sum(x.map((v) => (v * v - 2.25) ** 2)),
    grad: (x) => x.map((v) => 2 * v * (v * v - 2.25)),
    tol: TOL,
  },
  {
    name: 'HarmonicEnergy (k = 1)',
    make: () => new ebm.HarmonicEnergy(),
    dim: 5,
    scale: 2,
    energy: (x) => 0.5 * sum(x.map((v) => v * v)),
    grad: (x) => x,
    tol: TOL,
  },
  {
    name: 'HarmonicEnergy (k = 3)',
    make: () => new ebm.HarmonicEnergy({ k: 3 }),
    dim: 2,
    scale: 1,
    energy: (x) => 1.5 * sum(x.map((v) => v * v)),
    grad: (x) => x.map((v) => 3 * v),
    tol: TOL,
  },
  {
    name: 'RosenbrockEnergy (2-d, a = 1, b = 100)',
    make: () => new ebm.RosenbrockEnergy(),
    dim: 2,
    scale: 1.5,
    energy: ([x1, x2]) => (1 - x1!) ** 2 + 100 * (x2! - x1! ** 2) ** 2,
    grad: ([x1, x2]) => [-2 * (1 - x1!) - 400 * x1! * (x2! - x1! ** 2), 200 * (x2! - x1! ** 2)],
    tol: TOL,
  },
  {
    name: 'RosenbrockEnergy (5-d, a = 0.5, b = 10)',
    make: () => new ebm.RosenbrockEnergy({ a: 0.5, b: 10 }),
    dim: 5,
    scale: 1,
    energy: (x) => sum(x.slice(0, -1).map((v, i) => (0.5 - v) ** 2 + 10 * (x[i + 1]! - v * v) ** 2)),
    grad: (x) =>
      x.map((v, j) => {
        let g = 0;
        if (j < x.length - 1) g += -2 * (0.5 - v) - 40 * v * (x[j + 1]! - v * v);
        if (j > 0) g += 20 * (v - x[j - 1]! ** 2);
        return g;
      }),
    tol: TOL,
  },
  {
    name: 'AckleyEnergy (a = 20, b = 0.2, c = 2π)',
    make: () => new ebm.AckleyEnergy(),
    dim: 3,
    scale: 1.5,
    energy: (x) => {
      const n = x.length;
      return -20 * Math.exp(-0.2 * Math.sqrt(sum(x.map((v) => v * v)) / n)) - Math.exp(sum(x.map((v) => Math.cos(2 * Math.PI * v))) / n) + 20 + Math.E;
    },
    grad: (x) => {
      const n = x.length;
      const r = Math.sqrt(sum(x.map((v) => v * v)) / n);
      const ec = Math.exp(sum(x.map((v) => Math.cos(2 * Math.PI * v))) / n);
      return x.map((v) => (20 * 0.2 * Math.exp(-0.2 * r) * v) / (n * r) + ((2 * Math.PI) / n) * Math.sin(2 * Math.PI * v) * ec);
    },
    tol: TOL_TRANSCENDENTAL,
  },
  {
    name: 'RastriginEnergy (a = 10)',
    make: () => new ebm.RastriginEnergy(),
    dim: 2,
    scale: 1.5,
    energy: (x) => 10 * x.length + sum(x.map((v) => v * v - 10 * Math.cos(2 * Math.PI * v))),
    grad: (x) => x.map((v) => 2 * v + 2 * Math.PI * 10 * Math.sin(2 * Math.PI * v)),
    tol: TOL_TRANSCENDENTAL,
  },
];

describe.each(cases)('$name', (c) => {
  const batch = 24;
  const input = () => ebm.randn([batch, c.dim], { seed: 11, std: c.scale });

  test('forward(x) is the closed form, shape [batch]', async () => {
    const e = c.make();
    const x = input();
    const y = e.forward(x);
    expect([...y.shape]).toEqual([batch]);
    expectClose(await y.data(), (await rowsOf(x)).map(c.energy), c.tol, 'energy');
    expectClose(await e.energy(x).data(), await y.data(), 0, 'energy() is forward()');
  });

  test('gradient(x) is the closed form and equals autodiff of forward', async () => {
    const e = c.make();
    const x = input();
    const g = e.gradient(x);
    expect([...g.shape]).toEqual([batch, c.dim]);
    expect(g.node).toBeNull();
    const closed = (await rowsOf(x)).flatMap(c.grad);
    expectClose(await g.data(), closed, c.tol, 'closed form');
    const auto = ebm.grad((v: ebm.Tensor) => e.forward(v).sum())(x);
    expectClose(await g.data(), await auto.data(), c.tol, 'autodiff');
  });

  test('gradient(x) leaves nothing live but its result; a single sample [n] gives [1] and [n]', async () => {
    const e = c.make();
    const x = input();
    const before = ebm.memory().liveTensors;
    const g = e.gradient(x);
    expect(ebm.memory().liveTensors).toBe(before + 1);
    g.dispose();
    const one = x.slice(0, 0, 1).reshape([c.dim]);
    const y1 = e.forward(one);
    expect([...y1.shape]).toEqual([1]);
    const before1 = ebm.memory().liveTensors;
    const g1 = e.gradient(one);
    expect(ebm.memory().liveTensors).toBe(before1 + 1);
    expect([...g1.shape]).toEqual([c.dim]);
    const row = (await rowsOf(x))[0]!;
    expectClose(await y1.data(), [c.energy(row)], c.tol, 'one sample energy');
    expectClose(await g1.data(), c.grad(row), c.tol, 'one sample gradient');
  });
});

describe('defaults, special points and state', () => {
  test("TorchEBM's defaults", () => {
    const dw = new ebm.DoubleWellEnergy();
    expect([dw.barrierHeight, dw.b]).toEqual([2, 1]);
    expect(new ebm.HarmonicEnergy().k).toBe(1);
    const rb = new ebm.RosenbrockEnergy();
    expect([rb.a, rb.b]).toEqual([1, 100]);
    const ack = new ebm.AckleyEnergy();
    expect([ack.a, ack.b, ack.c]).toEqual([20, 0.2, 2 * Math.PI]);
    expect(new ebm.RastriginEnergy().a).toBe(10);
    // They are energy functions with no parameters.
    for (const e of [dw, rb, ack]) {
      expect(e).toBeInstanceOf(ebm.BaseEnergyFunction);
      expect(ebm.isEnergyFunction(e)).toBe(true);
      expect(e.parameters()).toHaveLength(0);
    }
  });

  test('minima: the wells at ±b, Rosenbrock at (a, a²), Rastrigin and Ackley at 0 (where Ackley\'s gradient is 0, not NaN)', async () => {
    const dw = new ebm.DoubleWellEnergy({ b: 1.5 });
    expectClose(await dw.forward(ebm.tensor([[1.5, -1.5]])).data(), [0], 1e-6, 'double well minimum');
    expectClose(await dw.gradient(ebm.tensor([[1.5, -1.5]])).data(), [0, 0], 1e-6, 'double well gradient');
    const rb = new ebm.RosenbrockEnergy({ a: 2 });
    expectClose(await rb.forward(ebm.tensor([[2, 4]])).data(), [0], 1e-6, 'rosenbrock minimum');
    expectClose(await rb.gradient(ebm.tensor([[2, 4]])).data(), [0, 0], 1e-6, 'rosenbrock gradient');
    expectClose(await new ebm.RastriginEnergy().forward(ebm.zeros([1, 3])).data(), [0], 1e-5, 'rastrigin minimum');
    const ack = new ebm.AckleyEnergy();
    expectClose(await ack.forward(ebm.zeros([2, 3])).data(), [0, 0], 1e-5, 'ackley minimum');
    expect(Array.from(await ack.gradient(ebm.zeros([2, 3])).data())).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test('GaussianEnergy: buffers mean and cov_inv (TorchEBM\'s keys); arrays, flat arrays and tensors give the same energy', async () => {
    const g = new ebm.GaussianEnergy(MEAN, COV);
    expect([...g.stateDict().keys()]).toEqual(['mean', 'cov_inv']);
    expect(g.dim).toBe(3);
    expectClose(await g.covInv.data(), COV_INV.flat(), 1e-6, 'cov_inv');
    expectClose(await g.mean.data(), MEAN, 0, 'mean');
    const flat = new ebm.GaussianEnergy(new Float32Array(MEAN), COV.flat());
    const fromTensors = new ebm.GaussianEnergy(ebm.tensor(MEAN), ebm.tensor(COV));
    expectClose(await fromTensors.covInv.data(), COV_INV.flat(), 1e-6, 'cov_inv on the GPU');
    const x = ebm.randn([8, 3], { seed: 4 });
    const want = await g.forward(x).data();
    expectClose(await flat.forward(x).data(), want, 1e-6, 'flat arrays');
    expectClose(await fromTensors.forward(x).data(), want, 1e-6, 'tensors');
    expectClose(await fromTensors.gradient(x).data(), await g.gradient(x).data(), 1e-6, 'tensors gradient');
    // A non-symmetric "covariance" is symmetrised: the gradient stays the energy's.
    const skew = new ebm.GaussianEnergy([0, 0], [[2, 1], [0, 1]]);
    expectClose(await skew.gradient(x.slice(1, 0, 2)).data(), await ebm.grad((v: ebm.Tensor) => skew.forward(v).sum())(x.slice(1, 0, 2)).data(), 1e-5, 'skew');
    // A larger SPD covariance on the GPU path: Σ⁻¹ Σ = I.
    const n = 12;
    const a = ebm.randn([n, n], { seed: 9 });
    const spd = a.matmul(a.transpose()).add(ebm.eye(n).mul(n));
    const big = new ebm.GaussianEnergy(ebm.zeros([n]), spd);
    expectClose(await big.covInv.matmul(spd).data(), await ebm.eye(n).data(), 1e-5, 'GPU inverse');
  });
});

describe('bad input', () => {
  test('wrong shapes are refused, naming the expected and received shape', () => {
    const x3 = ebm.zeros([2, 3, 4]);
    expect(() => new ebm.HarmonicEnergy().forward(x3)).toThrow('HarmonicEnergy: expected input of shape [batch, n] (or one sample [n]), got [2, 3, 4]');
    expect(() => new ebm.DoubleWellEnergy().gradient(x3)).toThrow('DoubleWellEnergy: expected input of shape [batch, n] (or one sample [n]), got [2, 3, 4]');
    expect(() => new ebm.GaussianEnergy(MEAN, COV).forward(ebm.zeros([5, 2]))).toThrow('GaussianEnergy: expected input of shape [batch, 3] (or one sample [3]), got [5, 2]');
    expect(() => new ebm.GaussianEnergy(MEAN, COV).gradient(ebm.zeros([4]))).toThrow('GaussianEnergy: expected input of shape [batch, 3] (or one sample [3]), got [4]');
    expect(() => new ebm.RosenbrockEnergy().forward(ebm.zeros([5, 1]))).toThrow('RosenbrockEnergy: expected input of shape [batch, n >= 2] (or one sample [n >= 2]), got [5, 1]');
    expect(() => new ebm.AckleyEnergy().forward(ebm.zeros([]))).toThrow('AckleyEnergy: expected input of shape [batch, n] (or one sample [n]), got []');
    expect(() => new ebm.RastriginEnergy().gradient([1, 2] as never)).toThrow('RastriginEnergy: expected a Tensor input, got object');
  });

  test('bad options and covariances are refused by name', () => {
    expect(() => new ebm.DoubleWellEnergy({ barrierHeight: NaN })).toThrow('DoubleWellEnergy: barrierHeight must be a finite number, got NaN');
    expect(() => new ebm.HarmonicEnergy(2 as never)).toThrow('HarmonicEnergy: expected an options object { k }, got number');
    expect(() => new ebm.AckleyEnergy({ c: Infinity })).toThrow('AckleyEnergy: c must be a finite number, got Infinity');
    expect(() => new ebm.GaussianEnergy([0, 0], [[1, 2], [2, 4]])).toThrow('GaussianEnergy: the covariance matrix is singular (or nearly so); it must be invertible');
    expect(() => new ebm.GaussianEnergy([0, 0, 0], [[1, 0], [0, 1]])).toThrow('GaussianEnergy: cov must be a 3x3 matrix');
    expect(() => new ebm.GaussianEnergy([0, 0], [[1, 0], [0]])).toThrow("GaussianEnergy: cov must be 2x2 to match the mean's 2 dims; row 1 has 1 entries");
    expect(() => new ebm.GaussianEnergy([], [])).toThrow('GaussianEnergy: mean must be a non-empty vector of finite numbers');
    expect(() => new ebm.GaussianEnergy(ebm.zeros([2]), [[1, 0], [0, 1]])).toThrow('GaussianEnergy: give mean and cov both as arrays or both as tensors');
    expect(() => new ebm.GaussianEnergy(ebm.zeros([2]), ebm.eye(3))).toThrow("GaussianEnergy: cov must be a square matrix [2, 2] matching the mean's shape [2], got shape [3, 3]");
  });
});
