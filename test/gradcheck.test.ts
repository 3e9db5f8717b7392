// Finite-difference gradient checks for every differentiable op, plus the autodiff API
// (grad, valueAndGrad, noGrad, detach, .grad accumulation, broadcast gradient shapes).
//
// The check. For an op y = op(x1, ..., xk), fixed random weights w of y's shape and
// f(x) = sum(w * y), pick a random direction v (for all inputs at once), build x+ = x + h v and
// x- = x - h v in f32 and compare, in f32 on the GPU,
//     FD = (f(x+) - f(x-)) / 2      against      AN = <grad f(x), (x+ - x-) / 2>
// (the step actually taken after f32 rounding, so rounding the inputs costs nothing). It passes when
//     |FD - AN| <= TOL * sum_i |grad_i (x+ - x-)_i / 2|  +  2^-17 * sum|w * y|,
// with TOL = 1e-2 by default: relative to the size of the directional derivative's terms (so
// cancellation in the dot product cannot demand impossible precision), plus a floor for f32
// rounding of the two forward sums. The step h is 1e-2 unless an op says otherwise; inputs are
// kept at least 0.05 away from kinks (relu/abs at 0, clamp bounds, max/min ties), so x +- h v
// never crosses one. Each op is checked along 3 random directions.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, expectClose } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { mulberry32 } from '../src/tensor/host-random.js';

const TOL = 1e-2;

// ---- deterministic inputs ----

const random = mulberry32(20240611);

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

interface Input {
  shape: number[];
  data: Float32Array;
}

/** Uniform values in [lo, hi], at least `margin` away from every point in `avoid`. */
function T(shape: number[], lo = -1, hi = 1, avoid: number[] = [], margin = 0.05): Input {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) {
    let v: number;
    do v = lo + (hi - lo) * random();
    while (avoid.some((k) => Math.abs(v - k) < margin));
    data[i] = v;
  }
  return { shape, data };
}

/** Distinct values on a grid of spacing 0.1 shifted by `offset`, shuffled: no ties anywhere. */
function distinct(shape: number[], offset = 0): Input {
  const n = sizeOf(shape);
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1 + offset);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [vals[i], vals[j]] = [vals[j]!, vals[i]!];
  }
  return { shape, data: Float32Array.from(vals) };
}

// ---- the check ----

/** Every op name found on the tape of some checked output. */
const covered = new Set<string>();

function tapeOps(root: Tensor): Set<string> {
  const ops = new Set<string>();
  const seen = new Set<Tensor>();
  const stack = [root];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    if (t.node) {
      ops.add(t.node.op.name);
      stack.push(...t.node.inputs);
    }
  }
  return ops;
}

interface CheckOptions {
  h?: number;
  tol?: number;
  /** Ops that must appear on the output's tape (the check is about them). */
  expectOps?: string[];
}

async function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Input[], opts: CheckOptions = {}): Promise<void> {
  const h = opts.h ?? 1e-2;
  const tol = opts.tol ?? TOL;
  const dirs = [0, 1, 2].map(() =>
    inputs.map((x) => {
      const v = T(x.shape).data;
      return { plus: Float32Array.from(x.data, (xi, i) => xi + h * v[i]!), minus: Float32Array.from(x.data, (xi, i) => xi - h * v[i]!) };
    }),
  );
  const run = ebm.tidy(() => {
    const leaves = inputs.map((x) => ebm.tensor(x.data, x.shape, { requiresGrad: true }));
    const out = f(...leaves);
    const ops = tapeOps(out);
    for (const op of ops) covered.add(op);
    const w = ebm.tensor(T([...out.shape]).data, out.shape);
    const weighted = out.mul(w);
    weighted.sum().backward();
    const grads = leaves.map((l) => l.grad);
    const evals = dirs.flatMap((d) => [
      f(...d.map((p, i) => ebm.tensor(p.plus, inputs[i]!.shape))).mul(w).sum(),
      f(...d.map((p, i) => ebm.tensor(p.minus, inputs[i]!.shape))).mul(w).sum(),
    ]);
    return { ops, grads, evals, mag: weighted.abs().sum() };
  });
  try {
    for (const op of opts.expectOps ?? []) expect(run.ops.has(op), `op '${op}' on the tape (found ${[...run.ops].join(', ')})`).toBe(true);
    run.grads.forEach((g, i) => {
      expect(g, `input ${i} has a gradient`).not.toBeNull();
      expect(g!.shape, `gradient ${i} has its input's shape`).toEqual(inputs[i]!.shape);
    });
    const grads = await Promise.all(run.grads.map((g) => g!.data()));
    const evals = await Promise.all(run.evals.map((e) => e.item()));
    const mag = await run.mag.item();
    dirs.forEach((d, k) => {
      const fd = (evals[2 * k]! - evals[2 * k + 1]!) / 2;
      let an = 0;
      let scale = 0;
      d.forEach((p, i) => {
        const g = grads[i]!;
        for (let j = 0; j < g.length; j++) {
          const term = (g[j]! * (p.plus[j]! - p.minus[j]!)) / 2;
          an += term;
          scale += Math.abs(term);
        }
      });
      const bound = tol * scale + 2 ** -17 * mag;
      if (!(Math.abs(fd - an) <= bound))
        expect.fail(`direction ${k}: finite difference ${fd.toExponential(6)} vs analytic ${an.toExponential(6)}: error ${Math.abs(fd - an).toExponential(2)} > bound ${bound.toExponential(2)} (term scale ${scale.toExponential(2)})`);
      expect(scale, 'the gradient is not trivially zero along the direction').toBeGreaterThan(0);
    });
  } finally {
    for (const t of [...run.grads, ...run.evals, run.mag]) t?.dispose();
  }
}

/** Like gradcheck, for an op whose gradient is identically zero (pow with exponent 0). */
async function zeroGrad(f: (x: Tensor) => Tensor, x: Input): Promise<void> {
  const g = ebm.tidy(() => {
    const leaf = ebm.tensor(x.data, x.shape, { requiresGrad: true });
    const out = f(leaf);
    for (const op of tapeOps(out)) covered.add(op);
    out.sum().backward();
    return leaf.grad!;
  });
  expect(g.shape).toEqual(x.shape);
  expect([...(await g.data())].every((v) => v === 0)).toBe(true);
  g.dispose();
}

/** A function of `xs` made of the gradient of `inner` (createGraph), to check double backward. */
const gradOf =
  (inner: (x: Tensor) => Tensor) =>
  (x: Tensor): Tensor =>
    ebm.grad(inner, { createGraph: true })(x);

beforeAll(async () => {
  await device();
});

// ---------------------------------------------------------------------------------------------

describe('unary ops', () => {
  const S = [3, 4];
  const awayFrom0 = () => T(S, -2, 2, [0], 0.3);
  const cases: [string, (x: Tensor) => Tensor, Input, CheckOptions?][] = [
    ['neg', (x) => ebm.neg(x), T(S)],
    ['abs', (x) => x.abs(), T(S, -1, 1, [0])],
    ['exp', (x) => ebm.exp(x), T(S, -2, 2)],
    ['log', (x) => x.log(), T(S, 0.3, 3)],
    ['sqrt', (x) => ebm.sqrt(x), T(S, 0.3, 3)],
    ['rsqrt', (x) => x.rsqrt(), T(S, 0.3, 3)],
    ['square', (x) => ebm.square(x), T(S, -2, 2)],
    ['reciprocal', (x) => x.reciprocal(), awayFrom0()],
    ['sin', (x) => ebm.sin(x), T(S, -3, 3)],
    ['cos', (x) => x.cos(), T(S, -3, 3)],
    ['tanh', (x) => ebm.tanh(x), T(S, -2, 2)],
    ['sigmoid', (x) => x.sigmoid(), T(S, -4, 4)],
    ['relu', (x) => ebm.relu(x), T(S, -1, 1, [0])],
    ['leakyRelu', (x) => ebm.leakyRelu(x), T(S, -1, 1, [0])],
    ['leakyRelu', (x) => x.leakyRelu(0.2), T(S, -1, 1, [0])],
    ['elu', (x) => ebm.elu(x), T(S, -2, 2, [0])],
    ['elu', (x) => x.elu(0.5), T(S, -2, 2, [0])],
    ['gelu', (x) => ebm.gelu(x), T(S, -3, 3)],
    ['silu', (x) => x.silu(), T(S, -3, 3)],
    ['softplus', (x) => ebm.softplus(x), T(S, -3, 3)],
    // beta 2, threshold 1: linear where 2x > 1, so both branches are exercised (away from x = 0.5).
    ['softplus', (x) => x.softplus(2, 1), T(S, -1.5, 1.5, [0.5], 0.05)],
    ['erf', (x) => ebm.erf(x), T(S, -2, 2)],
    ['erfc', (x) => x.erfc(), T(S, -2, 2)],
    ['expm1', (x) => ebm.expm1(x), T(S, -2, 2)],
    ['log1p', (x) => x.log1p(), T(S, -0.6, 2)],
    // pow with a number exponent (the binary op with a scalar side)
    ['pow', (x) => x.pow(2.5), T(S, 0.3, 2)],
    ['pow', (x) => x.pow(3), T(S, -1.5, 1.5)],
    ['pow', (x) => ebm.pow(x, -1.5), T(S, 0.5, 2)],
    ['pow', (x) => x.pow(1), T(S)],
    ['clamp', (x) => x.clamp(-0.5, 0.5), T(S, -1, 1, [-0.5, 0.5])],
    ['clamp', (x) => ebm.clamp(x, null, 0.3), T(S, -1, 1, [0.3])],
    ['clamp', (x) => x.clamp(-0.2), T(S, -1, 1, [-0.2])],
  ];
  it.each(cases.map(([name, f, x, o], i) => ({ label: `${name} #${i}`, name, f, x, o })))('$label', async ({ name, f, x, o }) => {
    await gradcheck(f, [x], { expectOps: [name], ...o });
  });

  it('pow with exponent 0 has a zero gradient', async () => {
    await zeroGrad((x) => x.pow(0), T(S));
  });
});

describe('binary ops', () => {
  const A = [3, 1, 4];
  const B = [2, 4];
  const nz = (shape: number[]) => T(shape, -2, 2, [0], 0.4);
  const cases: [string, (...xs: Tensor[]) => Tensor, Input[], CheckOptions?][] = [
    // tensor-tensor, same shape and broadcast ([3,1,4] with [2,4] -> [3,2,4])
    ['add', (a, b) => a.add(b), [T([2, 3]), T([2, 3])]],
    ['add', (a, b) => ebm.add(a, b), [T(A), T(B)]],
    ['sub', (a, b) => a.sub(b), [T(A), T(B)]],
    ['mul', (a, b) => ebm.mul(a, b), [T(A), T(B)]],
    ['mul', (a, b) => a.mul(b), [T([2, 3]), T([2, 3])]],
    ['div', (a, b) => a.div(b), [T(A), nz(B)]],
    ['div', (a, b) => ebm.div(a, b), [T([4]), nz([3, 4])]],
    ['pow', (a, b) => a.pow(b), [T(A, 0.4, 2), T(B, -2, 2)]],
    ['pow', (a, b) => ebm.pow(a, b), [T([2, 3], 0.4, 2), T([2, 3], -2, 2)]],
    // max/min: a on a 0.1 grid, b on the grid shifted by 0.05, so |a - b| >= 0.05 > 2h.
    ['maximum', (a, b) => a.maximum(b), [distinct(A), distinct(B, 0.05)]],
    ['minimum', (a, b) => ebm.minimum(a, b), [distinct(A), distinct(B, 0.05)]],
    // tensor-scalar
    ['add', (x) => x.add(2), [T(A)]],
    ['sub', (x) => x.sub(0.5), [T(A)]],
    ['mul', (x) => x.mul(-1.5), [T(A)]],
    ['div', (x) => x.div(2.5), [T(A)]],
    ['maximum', (x) => x.maximum(0.3), [distinct([3, 4], 0.05)]],
    ['minimum', (x) => ebm.minimum(x, -0.3), [distinct([3, 4], 0.05)]],
    // scalar-tensor
    ['add', (x) => ebm.add(2, x), [T(A)]],
    ['sub', (x) => ebm.sub(2, x), [T(A)]],
    ['mul', (x) => ebm.mul(3, x), [T(A)]],
    ['div', (x) => ebm.div(3, x), [nz(A)]],
    ['pow', (x) => ebm.pow(2, x), [T(A, -2, 2)]],
    ['pow', (x) => ebm.pow(0.5, x), [T(A, -2, 2)]],
    ['maximum', (x) => ebm.maximum(0.3, x), [distinct([3, 4], 0.05)]],
    ['minimum', (x) => ebm.minimum(0.3, x), [distinct([3, 4], 0.05)]],
  ];
  it.each(cases.map(([name, f, xs, o], i) => ({ label: `${name} #${i}`, name, f, xs, o })))('$label', async ({ name, f, xs, o }) => {
    await gradcheck(f, xs, { expectOps: [name], ...o });
  });

  it('where: tensor/tensor with broadcasting, and number branches', async () => {
    const cond = [1, 0, 0, 1];
    const c = () => ebm.tensor(cond, [4]);
    await gradcheck((a, b) => ebm.where(c(), a, b), [T([3, 4]), T([3, 1])], { expectOps: ['where'] });
    await gradcheck((a) => ebm.where(c(), a, 0), [T([3, 4])], { expectOps: ['where'] });
    await gradcheck((b) => ebm.where(c(), 1.5, b), [T([2, 1, 4])], { expectOps: ['where'] });
  });
});

describe('reductions', () => {
  const X = [2, 3, 4];
  const cases: [string, (x: Tensor) => Tensor, Input][] = [
    ['sum', (x) => x.sum(), T(X)],
    ['sum', (x) => ebm.sum(x, 1), T(X)],
    ['sum', (x) => x.sum([0, 2], true), T(X)],
    ['sum', (x) => x.sum(-1, true), T(X)],
    ['mean', (x) => x.mean(), T(X)],
    ['mean', (x) => ebm.mean(x, [0, 1]), T(X)],
    ['mean', (x) => x.mean(2, true), T(X)],
    ['max', (x) => x.max(), distinct(X)],
    ['max', (x) => ebm.max(x, 1), distinct(X)],
    ['max', (x) => x.max([0, 2], true), distinct(X)],
    ['min', (x) => x.min(), distinct(X)],
    ['min', (x) => ebm.min(x, -1), distinct(X)],
    ['min', (x) => x.min([0, 1], true), distinct(X)],
    ['logsumexp', (x) => x.logsumexp(), T(X, -2, 2)],
    ['logsumexp', (x) => ebm.logsumexp(x, 1, true), T(X, -2, 2)],
    ['logsumexp', (x) => x.logsumexp([0, 2]), T(X, -2, 2)],
    // var is composed (mean, sub, square, sum, div); it must still be right.
    ['sum', (x) => x.var(), T(X)],
    ['sum', (x) => ebm.var(x, 1), T(X)],
    ['sum', (x) => x.var([0, 2], true), T(X)],
    ['sum', (x) => x.var(-1, false, 0), T(X)],
  ];
  it.each(cases.map(([name, f, x], i) => ({ label: `${name} #${i}`, name, f, x })))('$label', async ({ name, f, x }) => {
    await gradcheck(f, [x], { expectOps: [name] });
  });

  it('max/min split the gradient evenly among ties (like torch.amax)', async () => {
    const x = ebm.tensor([1, 3, 3, 2, -1, -1], [2, 3], { requiresGrad: true });
    x.max(1).sum().add(x.min()).backward();
    expectClose(await x.grad!.data(), [0, 0.5, 0.5, 1, 0.5, 0.5], 1e-6, 'tie gradient');
    x.grad!.dispose();
    x.dispose();
  });
});

describe('shape ops', () => {
  const X = [2, 3, 4];
  const cases: [string, (...xs: Tensor[]) => Tensor, Input[]][] = [
    ['reshape', (x) => x.reshape([4, 6]), [T(X)]],
    ['reshape', (x) => ebm.reshape(x, [-1]), [T(X)]],
    ['reshape', (x) => x.view([6, -1]).mul(x.view([6, 4])), [T(X)]],
    ['reshape', (x) => x.flatten(1), [T(X)]],
    ['permute', (x) => x.permute([2, 0, 1]), [T(X)]],
    ['permute', (x) => ebm.transpose(x, 0, 2), [T(X)]],
    ['permute', (x) => x.transpose(), [T(X)]],
    ['permute', (x) => x.T, [T(X)]],
    ['expand', (x) => x.expand([2, 3, 4]), [T([3, 1])]],
    ['expand', (x) => ebm.expand(x, [2, -1, 5]), [T([1, 3, 1])]],
    ['reshape', (x) => x.squeeze(1), [T([3, 1, 4])]],
    ['reshape', (x) => ebm.squeeze(x), [T([1, 3, 1, 4])]],
    ['reshape', (x) => x.unsqueeze(0), [T([3, 4])]],
    ['reshape', (x) => ebm.unsqueeze(x, -1), [T([3, 4])]],
    ['slice', (x) => x.slice(1, 1, 7, 2), [T([3, 8])]],
    ['slice', (x) => ebm.slice(x, 0, -2), [T([3, 8])]],
    ['slice', (x) => x.slice(1, 0, null, 3), [T([3, 8])]],
    ['slice', (x) => x.slice(2, 1, 3), [T(X)]],
    ['concat', (a, b, c) => ebm.concat([a, b, c], 1), [T([2, 3]), T([2, 1]), T([2, 2])]],
    ['concat', (a, b) => ebm.concat([a, b]), [T([1, 3]), T([2, 3])]],
    ['concat', (a, b) => ebm.stack([a, b], 1), [T([3, 4]), T([3, 4])]],
    ['concat', (a, b) => ebm.stack([a, b]), [T([3]), T([3])]],
    ['indexSelect', (x) => x.indexSelect([2, 0, 2, 2, -1]), [T([4, 3])]],
    ['indexSelect', (x) => ebm.indexSelect(x, Int32Array.from([1, 1, 0])), [T([3])]],
  ];
  it.each(cases.map(([name, f, xs], i) => ({ label: `${name} #${i}`, name, f, xs })))('$label', async ({ name, f, xs }) => {
    await gradcheck(f, xs, { expectOps: [name] });
  });
});

describe('matmul', () => {
  const cases: [string, (a: Tensor, b: Tensor) => Tensor, Input[]][] = [
    ['2-D', (a, b) => a.matmul(b), [T([3, 4]), T([4, 5])]],
    ['batched with broadcast', (a, b) => ebm.matmul(a, b), [T([2, 1, 3, 4]), T([3, 4, 2])]],
    ['1-D @ 2-D', (a, b) => a.matmul(b), [T([4]), T([4, 5])]],
    ['2-D @ 1-D', (a, b) => a.matmul(b), [T([3, 4]), T([4])]],
    ['1-D @ 1-D (a 0-d dot)', (a, b) => a.matmul(b), [T([4]), T([4])]],
    ['batched @ 1-D', (a, b) => a.matmul(b), [T([2, 3, 4]), T([4])]],
    ['1-D @ batched', (a, b) => a.matmul(b), [T([3]), T([2, 3, 4])]],
    ['matmulT A^T B', (a, b) => ebm.matmulT(a, b, true, false), [T([4, 3]), T([4, 5])]],
    ['matmulT A B^T', (a, b) => ebm.matmulT(a, b, false, true), [T([3, 4]), T([5, 4])]],
    ['matmulT A^T B^T, batched', (a, b) => ebm.matmulT(a, b, true, true), [T([2, 4, 3]), T([1, 5, 4])]],
  ];
  it.each(cases.map(([label, f, xs]) => ({ label, f, xs })))('$label', async ({ f, xs }) => {
    await gradcheck(f, xs, { expectOps: ['matmul'] });
  });
});

describe('linear (fused bias + activation)', () => {
  // |x Wᵀ| <= 8 * 1 * 0.05 = 0.4 and |b| >= 0.5, so every pre-activation stays >= 0.1 from
  // relu's kink, even after the step; leakyRelu uses slope 0.2.
  const bias: Input = { shape: [4], data: Float32Array.from([0.5, -0.5, 0.6, -0.6]) };
  // Every row of the activation table (elu and softplus are smooth at these pre-activations).
  it.each(ebm.ACTIVATIONS)('%s, with bias', async (activation) => {
    await gradcheck((x, w, b) => ebm.linear(x, w, b, { activation, negativeSlope: 0.2 }), [T([5, 8]), T([4, 8], -0.05, 0.05), bias], { expectOps: ['linear'] });
  });
  it('silu without bias, batched leading dims', async () => {
    await gradcheck((x, w) => ebm.linear(x, w, null, { activation: 'silu' }), [T([2, 3, 4]), T([6, 4])], { expectOps: ['linear'] });
  });
});

describe('f16 (cast and the f16 matmul)', () => {
  // f16 rounding would swamp a finite difference with the usual random steps, so x, y and
  // x +- h v are put on a grid that f16 represents exactly (multiples of 1/16 below 8), and f is
  // linear in x: the finite difference is then exact up to f32 rounding. The analytic gradient
  // passes through f16 (the upstream gradient is cast to f16), so it carries f16's relative
  // rounding, ~5e-4; the bound is 5e-3 of the terms' scale.
  it('x -> sum(w * (x.half() @ y.half())), and y -> the same', async () => {
    const grid = (shape: number[]): Float32Array => Float32Array.from({ length: sizeOf(shape) }, () => Math.round((random() * 2 - 1) * 16) / 16);
    const signs = (n: number): Float32Array => Float32Array.from({ length: n }, () => (random() < 0.5 ? -1 : 1));
    const [xs, ys] = [[4, 8], [8, 4]] as const;
    const x0 = grid([...xs]);
    const y0 = grid([...ys]);
    const w = T([4, 4]).data;
    const h = 1 / 16;
    const f = (x: Tensor, y: Tensor) => ebm.matmul(x.half(), y.half()).mul(ebm.tensor(w, [4, 4])).sum();
    const out = ebm.tidy(() => {
      const x = ebm.tensor(x0, [...xs], { requiresGrad: true });
      const y = ebm.tensor(y0, [...ys], { requiresGrad: true });
      const value = f(x, y);
      for (const op of tapeOps(value)) covered.add(op);
      value.backward();
      const vx = signs(x0.length);
      const vy = signs(y0.length);
      const shift = (d: Float32Array, v: Float32Array, s: number) => Float32Array.from(d, (di, i) => di + s * h * v[i]!);
      const plus = f(ebm.tensor(shift(x0, vx, 1), [...xs]), ebm.tensor(shift(y0, vy, 1), [...ys]));
      const minus = f(ebm.tensor(shift(x0, vx, -1), [...xs]), ebm.tensor(shift(y0, vy, -1), [...ys]));
      return { gx: x.grad!, gy: y.grad!, plus, minus, vx, vy };
    });
    expect(out.gx.dtype).toBe('f32');
    const [gx, gy] = [await out.gx.data(), await out.gy.data()];
    const fd = ((await out.plus.item()) - (await out.minus.item())) / 2;
    let an = 0;
    let scale = 0;
    gx.forEach((g, i) => ((an += g * h * out.vx[i]!), (scale += Math.abs(g * h))));
    gy.forEach((g, i) => ((an += g * h * out.vy[i]!), (scale += Math.abs(g * h))));
    // f is bilinear, so along (vx, vy) the central difference also carries no h^2 term.
    expect(Math.abs(fd - an)).toBeLessThanOrEqual(5e-3 * scale);
    expect(scale).toBeGreaterThan(0);
    for (const t of [out.gx, out.gy, out.plus, out.minus]) t.dispose();
  });
});

describe('spectral norm', () => {
  // In eval mode u and v stay fixed, so W -> W / (uᵀ W v) is exactly the function the gradient
  // differentiates (training moves u and v with W, which the gradient ignores, as PyTorch's
  // does). Positive u, v and W keep sigma far from 0.
  it('W -> (W / sigma) * (1 + sigma / 2), eval mode: both outputs', async () => {
    const [u, v] = [T([4], 0.5, 1), T([6], 0.5, 1)].map((x) => ebm.tensor(x.data, x.shape));
    const f = (w: Tensor) => {
      const { weight, sigma } = ebm.spectralNorm(w, u!, v!, { training: false });
      return weight.mul(sigma.mul(0.5).add(1));
    };
    await gradcheck(f, [T([4, 2, 3], 0.5, 1.5)], { expectOps: ['spectralNorm', 'spectralNormSigma'] });
    u!.dispose();
    v!.dispose();
  });
});

describe('conv2d', () => {
  const opts = { stride: [2, 1], padding: [1, 2], dilation: [1, 2] } as const;
  it('conv2d(x, w, b) with stride, asymmetric padding and dilation', async () => {
    await gradcheck((x, w, b) => ebm.conv2d(x, w, b, opts), [T([2, 3, 5, 6]), T([4, 3, 3, 2]), T([4])], { expectOps: ['conv2d'] });
  });

  it('the gradient ops (conv2dInputGrad, conv2dWeightGrad), differentiated again', async () => {
    const f = (x: Tensor, w: Tensor) => {
      const [gx, gw] = ebm.grad((p: Tensor, q: Tensor) => ebm.conv2d(p, q, null, opts).tanh().sum(), { argnums: [0, 1], createGraph: true })(x, w);
      return ebm.concat([gx!.flatten(), gw!.flatten()]);
    };
    await gradcheck(f, [T([2, 3, 5, 6]), T([4, 3, 3, 2])], { expectOps: ['conv2dInputGrad', 'conv2dWeightGrad'] });
  });
});

describe('double backward (gradients of gradients, createGraph)', () => {
  it('padSlice: the gradient of slice, as a function of the upstream gradient', async () => {
    const x = T([3, 8]);
    // d/dx sum(slice(x) * u) = padSlice(u): differentiable in u through padSlice's own backward.
    await gradcheck(
      (u) => ebm.grad((v: Tensor) => v.slice(1, 1, 7, 2).mul(u).sum(), { createGraph: true })(ebm.tensor(x.data, x.shape)),
      [T([3, 3])],
      { expectOps: ['padSlice'] },
    );
  });

  it('indexAdd: the gradient of indexSelect with repeated indices', async () => {
    const x = T([4, 3]);
    await gradcheck(
      (u) => ebm.grad((v: Tensor) => v.indexSelect([2, 0, 2, 2, 3]).mul(u).sum(), { createGraph: true })(ebm.tensor(x.data, x.shape)),
      [T([5, 3])],
      { expectOps: ['indexAdd'] },
    );
  });

  it('matmul: second derivatives through the transposed-operand variants', async () => {
    await gradcheck(
      (a, b) => {
        const [ga, gb] = ebm.grad((p: Tensor, q: Tensor) => p.matmul(q).tanh().sum(), { argnums: [0, 1], createGraph: true })(a, b);
        return ebm.concat([ga!.flatten(), gb!.flatten()]);
      },
      [T([3, 4]), T([4, 2])],
      { expectOps: ['matmul'] },
    );
  });

  const smooth: [string, (x: Tensor) => Tensor, Input][] = [
    ['exp', (x) => x.exp(), T([6], -2, 2)],
    ['log', (x) => x.log(), T([6], 0.5, 3)],
    ['sqrt', (x) => x.sqrt(), T([6], 0.5, 3)],
    ['rsqrt', (x) => x.rsqrt(), T([6], 0.5, 3)],
    ['reciprocal', (x) => x.reciprocal(), T([6], 0.5, 3)],
    ['sin', (x) => x.sin(), T([6], -3, 3)],
    ['cos', (x) => x.cos(), T([6], -3, 3)],
    ['tanh', (x) => x.tanh(), T([6], -2, 2)],
    ['sigmoid', (x) => x.sigmoid(), T([6], -3, 3)],
    ['elu', (x) => x.elu(), T([6], -2, 2, [0])],
    ['gelu', (x) => x.gelu(), T([6], -3, 3)],
    ['silu', (x) => x.silu(), T([6], -3, 3)],
    ['softplus', (x) => x.softplus(), T([6], -3, 3)],
    ['erf', (x) => x.erf(), T([6], -2, 2)],
    ['erfc', (x) => x.erfc(), T([6], -2, 2)],
    ['expm1', (x) => x.expm1(), T([6], -2, 2)],
    ['log1p', (x) => x.log1p(), T([6], -0.5, 2)],
    ['pow', (x) => x.pow(2.5), T([6], 0.5, 2)],
    ['pow', (x) => ebm.pow(x, ebm.tensor([1.5, -0.5, 2, 3, 0.5, -1.2])), T([6], 0.5, 2)],
    ['div', (x) => ebm.div(1.5, x.add(3)), T([6], -1, 1)],
    ['logsumexp', (x) => x.reshape([2, 3]).logsumexp(1, true).mul(x.reshape([2, 3]).sin()).reshape([6]), T([6], -2, 2)],
    ['sum', (x) => x.var().mul(x), T([6], -2, 2)],
  ];
  it.each(smooth.map(([name, f, x]) => ({ name, f, x })))("$name''", async ({ name, f, x }) => {
    await gradcheck(gradOf((v) => f(v).mul(v.cos()).sum()), [x], { expectOps: [name] });
  });
});

describe('every registered op has a gradient check', () => {
  // Ops with no gradient: piecewise constant, their derivative is zero almost everywhere and
  // undefined at the jumps, so the library records nothing for them (checked below).
  const EXEMPT: Record<string, string> = {
    eq: 'comparison (0/1 output, piecewise constant)',
    ne: 'comparison (0/1 output, piecewise constant)',
    lt: 'comparison (0/1 output, piecewise constant)',
    le: 'comparison (0/1 output, piecewise constant)',
    gt: 'comparison (0/1 output, piecewise constant)',
    ge: 'comparison (0/1 output, piecewise constant)',
    sign: 'piecewise constant',
    step: 'piecewise constant (relu and leakyRelu use it as a mask)',
  };

  it('no registered op lacks a check (this file ran all its checks first)', () => {
    const registered = ebm.registeredOps();
    const missing = registered.filter((op) => !covered.has(op) && !(op in EXEMPT));
    expect(missing, 'registered ops with no gradient check in test/gradcheck.test.ts: add one, or exempt it with a reason').toEqual([]);
    expect(Object.keys(EXEMPT).filter((op) => !registered.includes(op)), 'stale exemptions').toEqual([]);
    expect([...covered].filter((op) => !registered.includes(op))).toEqual([]);
  });

  it('exempt ops really record nothing', () => {
    ebm.tidy(() => {
      const x = ebm.tensor([0.5, -1, 2], { requiresGrad: true });
      const outs: Record<string, Tensor> = {
        eq: x.eq(0.5),
        ne: x.ne(x),
        lt: x.lt(1),
        le: ebm.le(x, x),
        gt: x.gt(0),
        ge: ebm.ge(0, x),
        sign: x.sign(),
        step: x.step(0.1),
      };
      expect(Object.keys(outs).sort()).toEqual(Object.keys(EXEMPT).sort());
      for (const [op, y] of Object.entries(outs)) {
        expect(y.requiresGrad, op).toBe(false);
        expect(y.node, op).toBeNull();
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('the autodiff API', () => {
  it('grad(f)(x) returns df/dx', async () => {
    const x = ebm.tensor([1, -2, 3]);
    const g = ebm.grad((v: Tensor) => v.square().sum())(x);
    expectClose(await g.data(), [2, -4, 6], 1e-6, 'grad of sum(x^2)');
    expect(x.requiresGrad).toBe(false);
    expect(x.grad).toBeNull();
    g.dispose();
    x.dispose();
  });

  it('valueAndGrad with argnums as a number and as an array', async () => {
    const a = ebm.tensor([1, 2, 3]);
    const b = ebm.tensor([4, 5, 6]);
    const f = (p: Tensor, q: Tensor) => p.mul(q).sum().add(p.square().sum());
    const [v1, g1] = ebm.valueAndGrad(f, { argnums: 1 })(a, b);
    const [v0, g0] = ebm.valueAndGrad(f)(a, b);
    const [v2, [ga, gb]] = ebm.valueAndGrad(f, { argnums: [0, 1] })(a, b);
    const [gOnly] = ebm.grad(f, { argnums: [1] })(a, b);
    for (const v of [v0, v1, v2]) expect(await v.item()).toBeCloseTo(32 + 14, 4);
    expectClose(await g1.data(), [1, 2, 3], 1e-6, 'df/db (argnums 1)');
    expectClose(await g0.data(), [6, 9, 12], 1e-6, 'df/da (default argnums 0)');
    expectClose(await ga!.data(), [6, 9, 12], 1e-6, 'df/da (argnums [0, 1])');
    expectClose(await gb!.data(), [1, 2, 3], 1e-6, 'df/db (argnums [0, 1])');
    expectClose(await gOnly!.data(), [1, 2, 3], 1e-6, 'df/db (grad, argnums [1])');
    for (const t of [a, b, v0, v1, v2, g0, g1, ga!, gb!, gOnly!]) t.dispose();
  });

  it('grad(f)(x) leaves the .grad of closed-over parameters untouched', async () => {
    const p = ebm.tensor([1, 2, 3], { requiresGrad: true });
    const q = ebm.tensor([0.5, 0.5, 0.5], { requiresGrad: true });
    q.mul(2).sum().backward(); // q.grad = [2, 2, 2] before the grad call
    const x = ebm.tensor([3, 4, 5]);
    const g = ebm.grad((v: Tensor) => v.mul(p).add(q).square().sum())(x);
    expectClose(await g.data(), [1, 2, 3].map((pi, i) => 2 * ([3, 4, 5][i]! * pi + 0.5) * pi), 1e-6, 'df/dx');
    expect(p.grad).toBeNull();
    expectClose(await q.grad!.data(), [2, 2, 2], 0, 'q.grad unchanged');
    expect(x.grad).toBeNull();
    for (const t of [p, q, q.grad!, x, g]) t.dispose();
  });

  it('noGrad records nothing', () => {
    const x = ebm.tensor([1, 2], { requiresGrad: true });
    const y = ebm.noGrad(() => x.mul(3).exp().sum());
    expect(ebm.isGradEnabled()).toBe(true);
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
    expect(() => y.backward()).toThrow(/does not require grad/);
    const z = x.mul(3);
    expect(z.requiresGrad).toBe(true); // grad mode is back on afterwards
    for (const t of [x, y, z]) t.dispose();
  });

  it('detach cuts the tape but shares the values', async () => {
    const x = ebm.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.mul(2);
    const d = y.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.node).toBeNull();
    expectClose(await d.data(), [2, 4, 6], 0, 'detached values');
    d.mul(x).sum().backward(); // d is a constant: d/dx = d, not d + 2x
    expectClose(await x.grad!.data(), [2, 4, 6], 1e-6, 'gradient through a detached factor');
    for (const t of [x, x.grad!, y, d]) t.dispose();
  });

  it('.grad accumulates over two backward() calls', async () => {
    const x = ebm.tensor([1, 2, 3], { requiresGrad: true });
    const f = () => x.square().mul(x.sin()).sum();
    f().backward();
    const once = await x.grad!.data();
    f().backward();
    expectClose(await x.grad!.data(), once.map((v) => 2 * v), 1e-6, 'twice the single gradient');
    x.grad!.dispose();
    x.dispose();
  });

  it('gradients of broadcast inputs have the input shape', async () => {
    const a = ebm.tensor([1, 2, 3], [3, 1], { requiresGrad: true });
    const b = ebm.tensor([1, 1, 1, 1], [4], { requiresGrad: true });
    const c = ebm.tensor(2, { requiresGrad: true }); // 0-d
    a.add(b).mul(c).sum().backward();
    expect(a.grad!.shape).toEqual([3, 1]);
    expect(b.grad!.shape).toEqual([4]);
    expect(c.grad!.shape).toEqual([]);
    expectClose(await a.grad!.data(), [8, 8, 8], 1e-6, 'a.grad');
    expectClose(await b.grad!.data(), [6, 6, 6, 6], 1e-6, 'b.grad');
    expectClose(await c.grad!.data(), [4 * 6 + 3 * 4], 1e-6, 'c.grad');
    for (const t of [a, b, c]) {
      t.grad!.dispose();
      t.dispose();
    }
  });
});
