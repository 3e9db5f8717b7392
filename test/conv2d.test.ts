// conv2d and its gradients against PyTorch (scripts/make_conv_fixtures.py), for both kernel
// schedules: register blocking (what CPU adapters use) and workgroup-memory tiles (GPUs); each
// is forced here so both run on whatever adapter the tests have. Also double backward through
// the gradient ops, and the errors bad arguments give.
import { beforeAll, describe, expect, test } from 'vitest';
import { defaultTiling } from '../src/kernels/conv2d.js';
import { conv2dInputGrad, conv2dWeightGrad } from '../src/tensor/ops/conv2d.js';
import { device, ebm, expectClose, loadFixture } from './helpers.js';

type Pair = number | [number, number];
interface Case {
  id: string;
  name: string;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  bias?: boolean;
}

const fx = loadFixture('conv2d.safetensors');
const cases: Case[] = JSON.parse(fx.metadata.cases!);
const doubles: Case[] = JSON.parse(fx.metadata.double!);
const TILINGS = ['registers', 'subgroup', 'workgroup'] as const;
/** Relative to the largest magnitude of the expected tensor (expectClose). */
const TOL = 1e-5;

beforeAll(async () => {
  await device();
});

const opts = (c: Case, tiling: ebm.ConvTiling): ebm.Conv2dOptions => ({ stride: c.stride, padding: c.padding, dilation: c.dilation, tiling });

describe.each(TILINGS)('conv2d (%s)', (tiling) => {
  test.each(cases.map((c) => [`${c.id} ${c.name}`, c] as const))('%s: forward and gradients', async (_name, c) => {
    const x = fx.get(`${c.id}/x`);
    const w = fx.get(`${c.id}/w`);
    const b = c.bias ? fx.get(`${c.id}/b`) : null;
    for (const t of [x, w, b]) if (t) t.requiresGrad = true;
    const y = ebm.conv2d(x, w, b, opts(c, tiling));
    expect(y.shape).toEqual(fx.shape(`${c.id}/out`));
    expectClose(await y.data(), fx.values(`${c.id}/out`), TOL, `${c.id} forward`);
    y.backward(fx.get(`${c.id}/gout`));
    expectClose(await x.grad!.data(), fx.values(`${c.id}/gx`), TOL, `${c.id} grad x`);
    expectClose(await w.grad!.data(), fx.values(`${c.id}/gw`), TOL, `${c.id} grad weight`);
    if (b) expectClose(await b.grad!.data(), fx.values(`${c.id}/gb`), TOL, `${c.id} grad bias`);
  });

  test.each(doubles.map((c) => [`${c.id} ${c.name}`, c] as const))('%s: double backward of sum(conv2d(x, w)^2)', async (_name, c) => {
    const [x, w, v, u] = ['x', 'w', 'v', 'u'].map((k) => fx.get(`${c.id}/${k}`)) as [ebm.Tensor, ebm.Tensor, ebm.Tensor, ebm.Tensor];
    x.requiresGrad = true;
    w.requiresGrad = true;
    const f = (xx: ebm.Tensor, ww: ebm.Tensor) => ebm.conv2d(xx, ww, null, opts(c, tiling)).square().sum();
    const [gx, gw] = ebm.grad(f, { argnums: [0, 1], createGraph: true })(x, w);
    expectClose(await gx!.data(), fx.values(`${c.id}/gx`), TOL, 'gx');
    expectClose(await gw!.data(), fx.values(`${c.id}/gw`), TOL, 'gw');
    // Through conv2dInputGrad's backward (conv2d and conv2dWeightGrad)...
    const [gxvx, gxvw] = ebm.grad((xx: ebm.Tensor, ww: ebm.Tensor) => ebm.grad(f, { argnums: [0], createGraph: true })(xx, ww)[0]!.mul(v).sum(), { argnums: [0, 1] })(x, w);
    expectClose(await gxvx!.data(), fx.values(`${c.id}/gx_v_x`), TOL, 'd<gx, v>/dx');
    expectClose(await gxvw!.data(), fx.values(`${c.id}/gx_v_w`), TOL, 'd<gx, v>/dw');
    // ...and through conv2dWeightGrad's (conv2dInputGrad and conv2d).
    gw!.mul(u).sum().backward();
    expectClose(await x.grad!.data(), fx.values(`${c.id}/gw_u_x`), TOL, 'd<gw, u>/dx');
    expectClose(await w.grad!.data(), fx.values(`${c.id}/gw_u_w`), TOL, 'd<gw, u>/dw');
  });
});

// Under 'subgroup' the forward GEMM takes pixels as its rows (conv_pixel_rows); the channel-rows
// body (conv_subgroup, which dgrad runs) can be forced for the forward too: both against PyTorch.
describe.each(['pixel-rows', 'channel-rows'] as const)('conv2d forward, subgroup schedule, %s', (orientation) => {
  test.each(cases.map((c) => [`${c.id} ${c.name}`, c] as const))('%s', async (_name, c) => {
    const rt = await device();
    const x = fx.get(`${c.id}/x`);
    const w = fx.get(`${c.id}/w`);
    const b = c.bias ? fx.get(`${c.id}/b`) : null;
    const entry = `conv2d-subgroup.wgsl:${orientation === 'pixel-rows' ? 'conv_pixel_rows' : 'conv_subgroup'}`;
    const before = rt.stats.byEntry.get(entry) ?? 0;
    rt.tuning.convGemm = orientation;
    let y: ebm.Tensor;
    try {
      y = ebm.conv2d(x, w, b, opts(c, 'subgroup'));
      expectClose(await y.data(), fx.values(`${c.id}/out`), TOL, `${c.id} forward`);
    } finally {
      rt.tuning.convGemm = undefined;
    }
    // The packed GEMM runs where the adapter has 8-lane subgroups, except for a grey first layer
    // the direct kernel takes (Cin = 1 under 'subgroup', at most 36 taps, whole vec4s of output
    // pixels) and, with channel rows, 8 or fewer rows (the register block).
    const [o, cin, kh, kw] = w.shape as [number, number, number, number];
    const direct = cin === 1 && kh * kw <= 36 && (y.shape[2]! * y.shape[3]!) % 4 === 0;
    const packed = rt.info.features.has('subgroups') && rt.info.subgroupMinSize >= 8 && !direct;
    const ran = (rt.stats.byEntry.get(entry) ?? 0) - before;
    if (!packed) expect(ran).toBe(0);
    else if (orientation === 'pixel-rows') expect(ran).toBe(1);
    else expect(ran).toBe(o > 8 ? 1 : 0);
  });
});

interface FusedCase extends Case {
  activation: string;
  param: number | null;
}
const fused: FusedCase[] = JSON.parse(fx.metadata.fused!);
/** The activation table's name for torch's functional name, and its option. */
const fusedOpts = (c: FusedCase, tiling: ebm.ConvTiling): ebm.Conv2dOptions => {
  const activation = ({ relu: 'relu', silu: 'silu', tanh: 'tanh', leaky_relu: 'leakyRelu', softplus: 'softplus', gelu: 'gelu' } as const)[c.activation]!;
  const param = c.param === null ? {} : activation === 'leakyRelu' ? { negativeSlope: c.param } : { beta: c.param };
  return { ...opts(c, tiling), activation, ...param };
};

// Every activation on the default schedule of lavapipe (subgroup); two on the others (each
// activation compiles its own pipelines, which costs seconds on a CPU adapter).
describe.each(TILINGS)('conv2d with a fused activation (%s)', (tiling) => {
  test.each(fused.filter((_, i) => tiling === 'subgroup' || i < 2).map((c) => [`${c.id} ${c.name}`, c] as const))('%s: forward, gradients and a Hessian-vector product', async (_name, c) => {
    const [x, w, b, v] = ['x', 'w', 'b', 'v'].map((k) => fx.get(`${c.id}/${k}`)) as [ebm.Tensor, ebm.Tensor, ebm.Tensor, ebm.Tensor];
    for (const t of [x, w, b]) t.requiresGrad = true;
    const y = ebm.conv2d(x, w, b, fusedOpts(c, tiling));
    expectClose(await y.data(), fx.values(`${c.id}/out`), TOL, `${c.id} forward`);
    y.backward(fx.get(`${c.id}/gout`));
    expectClose(await x.grad!.data(), fx.values(`${c.id}/gx`), TOL, `${c.id} grad x`);
    expectClose(await w.grad!.data(), fx.values(`${c.id}/gw`), TOL, `${c.id} grad weight`);
    expectClose(await b.grad!.data(), fx.values(`${c.id}/gb`), TOL, `${c.id} grad bias`);
    // createGraph: act'(z) is recomputed on the tape, so the gradient is differentiable again.
    const f = (xx: ebm.Tensor) => ebm.conv2d(xx, w, b, fusedOpts(c, tiling)).square().sum();
    const hv = ebm.grad((xx: ebm.Tensor) => {
      const g = ebm.grad(f, { createGraph: true })(xx);
      return g.mul(v).sum();
    })(x.detach());
    expectClose(await ebm.grad(f)(x.detach()).data(), fx.values(`${c.id}/ggx`), TOL, `${c.id} df/dx`);
    expectClose(await hv.data(), fx.values(`${c.id}/hv`), 1e-4, `${c.id} Hv`);
  });
});

// dE/dx alone (a sampler's gradient: no parameter needs one, no createGraph): the data
// gradient takes g and z and folds act'(z) into its packing of g (no activation-grad dispatch)
// where it packs; the direct (Cin = 1) and tiled paths compute g * act'(z) first.
describe.each(TILINGS)('conv2d with a fused activation, dx alone (%s)', (tiling) => {
  test.each(fused.filter((_, i) => tiling === 'subgroup' || i < 2).map((c) => [`${c.id} ${c.name}`, c] as const))('%s: the gradient in x matches PyTorch', async (_name, c) => {
    const rt = await device();
    const [x, w, b, gout] = ['x', 'w', 'b', 'gout'].map((k) => fx.get(`${c.id}/${k}`)) as [ebm.Tensor, ebm.Tensor, ebm.Tensor, ebm.Tensor];
    x.requiresGrad = true;
    const before = rt.stats.byEntry.get('activation-grad.wgsl:main') ?? 0;
    const gx = ebm.grad((xx: ebm.Tensor) => ebm.conv2d(xx, w, b, fusedOpts(c, tiling)).mul(gout).sum())(x);
    expectClose(await gx.data(), fx.values(`${c.id}/gx`), TOL, `${c.id} grad x`);
    const packs = tiling !== 'workgroup' && w.shape[1]! > 1;
    // The mul's backward and the sum's need none; only the conv's activation would.
    expect((rt.stats.byEntry.get('activation-grad.wgsl:main') ?? 0) - before).toBe(packs ? 0 : 1);
  });
});

describe('conv2d', () => {
  test('the fused activation runs in the conv dispatch: one dispatch forward, same values as separate ops', async () => {
    const rt = await device();
    const c = fused[2]!;
    const [x, w, b] = ['x', 'w', 'b'].map((k) => fx.get(`${c.id}/${k}`)) as [ebm.Tensor, ebm.Tensor, ebm.Tensor];
    const plain = ebm.conv2d(x, w, b, opts(c, 'workgroup'));
    const before = rt.stats.dispatches;
    const y = ebm.conv2d(x, w, b, fusedOpts(c, 'workgroup'));
    expect(rt.stats.dispatches - before).toBe(1);
    expectClose(await y.data(), await plain.tanh().data(), TOL, 'fused vs conv then tanh');
  });

  test('a finite-difference check of the Hessian-vector product in x', async () => {
    // f = sum(conv(x, w)^2) is quadratic in x, so the central difference of its gradient along
    // v is exactly H v (up to rounding), which double backward computes as d/dx <grad f, v>.
    const c = doubles[1]!;
    const [x, w, v] = ['x', 'w', 'v'].map((k) => fx.get(`${c.id}/${k}`)) as [ebm.Tensor, ebm.Tensor, ebm.Tensor];
    const f = (xx: ebm.Tensor) => ebm.conv2d(xx, w, null, opts(c, 'registers')).square().sum();
    const eps = 0.5;
    const gPlus = await ebm.grad(f)(x.add(v.mul(eps))).data();
    const gMinus = await ebm.grad(f)(x.sub(v.mul(eps))).data();
    const fd = gPlus.map((p, i) => (p - gMinus[i]!) / (2 * eps));
    const hv = ebm.grad((xx: ebm.Tensor) => ebm.grad(f, { createGraph: true })(xx).mul(v).sum())(x);
    expectClose(await hv.data(), fd, 1e-4, 'Hv vs finite difference');
    expectClose(await hv.data(), fx.values(`${c.id}/gx_v_x`), TOL, 'Hv vs torch');
  });

  test('the gradient ops are usable on their own and agree with backward', async () => {
    const c = cases[2]!;
    const [x, w, gout] = ['x', 'w', 'gout'].map((k) => fx.get(`${c.id}/${k}`)) as [ebm.Tensor, ebm.Tensor, ebm.Tensor];
    const o = opts(c, 'registers');
    expectClose(await conv2dInputGrad(gout, w, [x.shape[2]!, x.shape[3]!], o).data(), fx.values(`${c.id}/gx`), TOL, 'conv2dInputGrad');
    expectClose(await conv2dWeightGrad(x, gout, [w.shape[2]!, w.shape[3]!], o).data(), fx.values(`${c.id}/gw`), TOL, 'conv2dWeightGrad');
  });

  test('the default schedule follows the adapter', async () => {
    const rt = await device();
    const subgroups8 = rt.info.features.has('subgroups') && rt.info.subgroupMinSize >= 8;
    expect(defaultTiling(rt)).toBe(rt.info.isSoftware ? (subgroups8 ? 'subgroup' : 'registers') : 'workgroup');
    const c = cases[5]!;
    const x = fx.get(`${c.id}/x`);
    const w = fx.get(`${c.id}/w`);
    const y = ebm.conv2d(x, w, fx.get(`${c.id}/b`), { stride: c.stride, padding: c.padding, dilation: c.dilation });
    expectClose(await y.data(), fx.values(`${c.id}/out`), TOL, 'default tiling');
  });

  test.each(TILINGS)('the %s schedule runs its own shader (forward and dgrad)', async (tiling) => {
    const rt = await device();
    // More than 8 GEMM rows in both passes (fewer run the register block under 'subgroup').
    const c = cases.find((k) => k.name.includes('several subgroup row blocks'))!;
    const shader = tiling === 'subgroup' && rt.info.features.has('subgroups') && rt.info.subgroupMinSize >= 8 ? 'conv2d-subgroup.wgsl' : 'conv2d.wgsl';
    const other = shader === 'conv2d.wgsl' ? 'conv2d-subgroup.wgsl' : 'conv2d.wgsl';
    const x = fx.get(`${c.id}/x`);
    const w = fx.get(`${c.id}/w`);
    const [mine, theirs] = [shader, other].map((s) => rt.stats.byShader.get(s) ?? 0);
    const dx = conv2dInputGrad(ebm.conv2d(x, w, null, opts(c, tiling)), w, [x.shape[2]!, x.shape[3]!], opts(c, tiling));
    await dx.data();
    // Registers and subgroup also pack both operands (conv2d.wgsl) for each pass.
    const packs = tiling === 'workgroup' ? 0 : 4;
    expect(rt.stats.byShader.get(shader) ?? 0).toBe(mine! + (shader === 'conv2d.wgsl' ? 2 + packs : 2));
    if (shader === 'conv2d-subgroup.wgsl') expect(rt.stats.byShader.get(other) ?? 0).toBe(theirs! + packs);
  });

  test.each(['registers', 'subgroup'] as const)('a first layer (Cin = 1) runs the direct forward kernel under %s', async (tiling) => {
    const rt = await device();
    const c = cases.find((k) => k.name.includes('Cin = 1, direct'))!;
    const before = rt.stats.byShader.get('conv2d-direct.wgsl') ?? 0;
    const y = ebm.conv2d(fx.get(`${c.id}/x`), fx.get(`${c.id}/w`), fx.get(`${c.id}/b`), opts(c, tiling));
    expectClose(await y.data(), fx.values(`${c.id}/out`), TOL, 'direct forward');
    expect(rt.stats.byShader.get('conv2d-direct.wgsl') ?? 0).toBe(before + 1);
  });

  test.each(['registers', 'subgroup'] as const)('a first layer (Cin = 1) takes its dx from the direct data-gradient kernel under %s, one dispatch', async (tiling) => {
    // Every Cin = 1 case above checks this kernel's dx against PyTorch; this pins that it runs.
    const rt = await device();
    const c = cases.find((k) => k.name.includes('Cin = 1, direct'))!;
    const w = fx.get(`${c.id}/w`);
    const x = fx.get(`${c.id}/x`);
    const gout = ebm.conv2d(x, w, null, opts(c, tiling)).detach();
    const before = rt.stats.dispatches;
    const direct = rt.stats.byShader.get('conv2d-direct-dgrad.wgsl') ?? 0;
    const dx = conv2dInputGrad(gout, w, [x.shape[2]!, x.shape[3]!], opts(c, tiling));
    expect(rt.stats.dispatches - before).toBe(1);
    expect(rt.stats.byShader.get('conv2d-direct-dgrad.wgsl') ?? 0).toBe(direct + 1);
    // Against the tiled (workgroup) schedule's dx on the same upstream gradient.
    const ref = conv2dInputGrad(gout, w, [x.shape[2]!, x.shape[3]!], opts(c, 'workgroup'));
    expectClose(await dx.data(), Array.from(await ref.data()), TOL, 'direct dgrad vs tiled');
    // An odd geometry (stride [2, 1], padding [1, 0], dilation [1, 2], a 3 x 2 kernel, odd sizes) the fixtures have at Cin = 1 only in the forward.
    const odd = { stride: [2, 1] as [number, number], padding: [1, 0] as [number, number], dilation: [1, 2] as [number, number] };
    const w2 = ebm.randn([5, 1, 3, 2], { seed: 4 });
    const g2 = ebm.randn([2, 5, 5, 8], { seed: 5 });
    const mine = conv2dInputGrad(g2, w2, [9, 10], { ...odd, tiling });
    const tiled = conv2dInputGrad(g2, w2, [9, 10], { ...odd, tiling: 'workgroup' });
    expect(mine.shape).toEqual([2, 1, 9, 10]);
    expectClose(await mine.data(), Array.from(await tiled.data()), TOL, 'direct dgrad vs tiled, odd geometry');
    for (const t of [w2, g2, mine, tiled]) t.dispose();
  });

  test.each(['registers', 'subgroup'] as const)('a grey first layer takes dw from the direct weight-gradient kernel under %s', async (tiling) => {
    // Every Cin = 1 fixture case above checks its dw against PyTorch; this pins that it runs,
    // and checks chunked sums and an odd geometry against the tiled schedule.
    const rt = await device();
    const entry = 'conv2d-direct-wgrad.wgsl:wgrad_direct';
    const odd = { stride: [2, 1] as [number, number], padding: [1, 0] as [number, number], dilation: [1, 2] as [number, number] };
    // [batch, out_c, oh, ow] of dy for x [batch, 1, 9, 10] and a 3 x 2 kernel: (9 + 2 - 3) / 2 + 1 = 5, (10 - 3) + 1 = 8.
    for (const [batch, outC] of [
      [2, 5],
      [40, 7],
    ] as const) {
      const x = ebm.randn([batch, 1, 9, 10], { seed: 6 });
      const g = ebm.randn([batch, outC, 5, 8], { seed: 7 });
      const before = rt.stats.byEntry.get(entry) ?? 0;
      const mine = conv2dWeightGrad(x, g, [3, 2], { ...odd, tiling });
      expect(rt.stats.byEntry.get(entry) ?? 0).toBe(before + 1);
      const tiled = conv2dWeightGrad(x, g, [3, 2], { ...odd, tiling: 'workgroup' });
      expect(mine.shape).toEqual([outC, 1, 3, 2]);
      expectClose(await mine.data(), Array.from(await tiled.data()), TOL, `direct dw vs tiled, batch ${batch}`);
      for (const t of [x, g, mine, tiled]) t.dispose();
    }
  });

  test.each(TILINGS)('dx alone through an activation equals dx of the full backward, Cin = 1 and 4 (%s)', async (tiling) => {
    // The fold (or, where the path does not pack, g * act'(z) first) against the unfused
    // backward that runs when the weight needs a gradient too.
    for (const cin of [1, 4]) {
      const x = ebm.randn([3, cin, 10, 12], { seed: 11 });
      const w = ebm.randn([6, cin, 3, 3], { seed: 12, std: 0.4 });
      const b = ebm.randn([6], { seed: 13 });
      const opts: ebm.Conv2dOptions = { stride: 2, padding: 1, activation: 'silu', tiling };
      const f = (xx: ebm.Tensor, ww: ebm.Tensor) => ebm.conv2d(xx, ww, b, opts).square().sum();
      const alone = ebm.grad((xx: ebm.Tensor) => f(xx, w))(x);
      w.requiresGrad = true;
      const [full] = ebm.grad(f, { argnums: [0, 1] })(x, w);
      expectClose(await alone.data(), Array.from(await full!.data()), TOL, `Cin = ${cin}`);
      for (const t of [x, w, b, alone, full!]) t.dispose();
    }
  });

  test('one pipeline per entry point serves every size', async () => {
    const rt = await device();
    const run = (n: number, h: number) => ebm.tidy(() => ebm.conv2d(ebm.randn([n, 3, h, h + 2], { seed: 1 }), ebm.randn([4, 3, 3, 3], { seed: 2 }), null, { padding: 1, tiling: 'registers' }));
    await run(1, 5).data();
    const before = rt.stats.pipelines;
    await run(2, 8).data();
    await run(3, 11).data();
    expect(rt.stats.pipelines).toBe(before);
  });

  test('no leaked tensors or buffers across forward and backward', async () => {
    const rt = await device();
    const c = cases[17]!;
    const x = fx.get(`${c.id}/x`);
    const w = fx.get(`${c.id}/w`);
    const step = () =>
      ebm.tidy(() => {
        const xx = x.detach();
        const ww = w.detach();
        ww.requiresGrad = true;
        xx.requiresGrad = true;
        ebm.conv2d(xx, ww, null, opts(c, 'registers')).square().sum().backward();
        return [xx.grad!, ww.grad!];
      });
    ebm.tidy(step).forEach((t) => t.dispose());
    const live = ebm.memory().liveTensors;
    const bytes = rt.liveBytes;
    for (let i = 0; i < 3; i++) step().forEach((t) => t.dispose());
    expect(ebm.memory().liveTensors).toBe(live);
    expect(rt.liveBytes).toBe(bytes);
  });
});

describe('conv2d errors name the op, the argument and the shapes', () => {
  const x = () => ebm.zeros([2, 3, 7, 9]);
  const w = () => ebm.zeros([5, 3, 3, 3]);

  test.each([
    ['x of rank 3', () => ebm.conv2d(ebm.zeros([3, 7, 9]), w()), /conv2d: x must have rank 4 \[N, C, H, W\], got \[3, 7, 9\]/],
    ['weight of rank 2', () => ebm.conv2d(x(), ebm.zeros([5, 27])), /conv2d: weight must have rank 4 \[out, in, kh, kw\], got \[5, 27\]/],
    ['channel mismatch', () => ebm.conv2d(x(), ebm.zeros([5, 4, 3, 3])), /conv2d: the input has 3 channels \(x \[2, 3, 7, 9\]\) but the weight expects 4 \(weight \[5, 4, 3, 3\]/],
    ['kernel larger than the padded input', () => ebm.conv2d(x(), ebm.zeros([5, 3, 5, 5]), null, { dilation: 3, padding: 1 }), /conv2d: the kernel \(weight \[5, 3, 5, 5\], dilation \[3, 3\]\) spans 13x13, larger than the padded input 9x11 \(x \[2, 3, 7, 9\], padding \[1, 1\]\)/],
    ['bias of the wrong size', () => ebm.conv2d(x(), w(), ebm.zeros([4])), /conv2d: bias must have shape \[5\] .*weight \[5, 3, 3, 3\].*got \[4\]/],
    ['zero stride', () => ebm.conv2d(x(), w(), null, { stride: 0 }), /conv2d: stride must be a positive integer or a pair \[h, w\] of them, got 0/],
    ['negative stride in a pair', () => ebm.conv2d(x(), w(), null, { stride: [1, -2] }), /conv2d: stride must be a positive integer .*got \[1,-2\]/],
    ['zero dilation', () => ebm.conv2d(x(), w(), null, { dilation: [0, 1] }), /conv2d: dilation must be a positive integer .*got \[0,1\]/],
    ['negative padding', () => ebm.conv2d(x(), w(), null, { padding: -1 }), /conv2d: padding must be a non-negative integer .*got -1/],
    ['fractional padding', () => ebm.conv2d(x(), w(), null, { padding: 0.5 }), /conv2d: padding must be a non-negative integer .*got 0.5/],
    ['a padding triple', () => ebm.conv2d(x(), w(), null, { padding: [1, 1, 1] as unknown as [number, number] }), /conv2d: padding must be .*got \[1,1,1\]/],
    ['an unknown tiling', () => ebm.conv2d(x(), w(), null, { tiling: 'shared' as ebm.ConvTiling }), /conv2d: tiling must be one of 'registers', 'subgroup', 'workgroup', got "shared"/],
    ['a non-tensor weight', () => ebm.conv2d(x(), [1, 2] as unknown as ebm.Tensor), /conv2d: weight must be a Tensor, got object/],
    ['an output gradient of the wrong shape', () => conv2dInputGrad(ebm.zeros([2, 5, 6, 7]), w(), [7, 9]), /conv2dInputGrad: the output gradient has shape \[2, 5, 6, 7\], but the convolution's output is \[2, 5, 5, 7\]/],
  ])('%s', (_name, call, message) => {
    expect(call).toThrow(message);
  });
});
