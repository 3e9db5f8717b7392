// f16 storage: casts, and matmul with f16 operands (f32 accumulation, f32 result) against
// PyTorch's f32 product and the float64 product of the f16-rounded operands
// (scripts/make_f16_fixtures.py), on both ways of reading f16: natively
// (shader-f16) and packed in u32 words (the fallback for adapters without shader-f16).
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { f16Storage } from '../src/kernels/matmul.js';
import { device, ebm, expectClose, loadFixture } from './helpers.js';

const fx = loadFixture('f16.safetensors');
const cases: { id: string; a: number[]; b: number[]; transA: boolean; transB: boolean }[] = JSON.parse(fx.metadata.cases!);

/**
 * f16 keeps 11 significant bits, so each operand carries a relative error up to 2^-12 and a
 * K-term product about sqrt(K) times that in absolute terms; 2e-3 of the result's scale (a few
 * f16 ulps) bounds it for these K <= 48 with a margin, and is far below what a wrong kernel gives.
 */
const F16_TOL = 2e-3;
/** The f16 kernels against float64 products of the same f16 operands: f32 accumulation only. */
const F32_ACCUM_TOL = 1e-5;

// Top-level, so the adapter's features are known when the cases are collected (to skip what the
// adapter cannot run, with the reason printed).
const rt: ebm.Runtime = await device();
const hasF16 = rt.info.features.has('shader-f16');
const hasSubgroups8 = rt.info.features.has('subgroups') && rt.info.subgroupMinSize >= 8;
if (!hasF16) console.log('f16 matmul, native storage: skipped (this adapter has no shader-f16; the packed cases still run)');
afterEach(() => {
  delete rt.tuning.f16;
  delete rt.tuning.matmul;
});

test('casts round to the nearest f16, like torch .half()', async () => {
  const x = fx.get('cast/x');
  const h = x.half();
  expect(h.dtype).toBe('f16');
  expect(h.shape).toEqual(x.shape);
  expect(Array.from(await h.data())).toEqual(Array.from(fx.values('cast/x16')));
  const back = h.float();
  expect(back.dtype).toBe('f32');
  expect(Array.from(await back.data())).toEqual(Array.from(fx.values('cast/x16')));
  expect(x.to('f32')).toBe(x);
  expect((await ebm.tensor([1, 2, 3], { dtype: 'f16' }).data()).length).toBe(3);
});

// 'auto' takes the subgroup schedule where the adapter has 8-lane subgroups (lavapipe does);
// 'register' forces the plain register-blocked one.
describe.each([
  ['native', 'auto'],
  ['packed', 'auto'],
  ['native', 'register'],
  ['packed', 'register'],
] as const)('f16 matmul, %s storage, %s schedule', (storage, schedule) => {
  test.skipIf(storage === 'native' && !hasF16).each(cases.map((c) => [`${c.transA ? 'Aᵀ' : 'A'}${JSON.stringify(c.a)} ${c.transB ? 'Bᵀ' : 'B'}${JSON.stringify(c.b)}`, c] as const))('%s', async (_n, c) => {
    if (storage === 'packed') rt.tuning.f16 = 'packed';
    rt.tuning.matmul = schedule;
    expect(f16Storage(rt)).toBe(storage);
    const a = fx.get(`${c.id}/a`).half().requiresGrad_();
    const b = fx.get(`${c.id}/b`).half().requiresGrad_();
    // Which body runs: 'auto' takes the subgroup one where 8-lane subgroups exist; a shape the
    // vec4 loads do not fit (see test/matmul.test.ts) takes the strided f16 body.
    const [m, k] = c.transA ? [c.a.at(-1)!, c.a.at(-2)!] : [c.a.at(-2)!, c.a.at(-1)!];
    const n = c.transB ? c.b.at(-2)! : c.b.at(-1)!;
    const aligned = n % 4 === 0 && !(c.transA && c.transB) && (c.transA ? m % 4 === 0 : k % 4 === 0);
    const shader = !aligned ? 'matmul-f16.wgsl' : schedule === 'auto' && hasSubgroups8 ? 'matmul-subgroup.wgsl' : 'matmul-vec4.wgsl';
    const ranBefore = rt.stats.byShader.get(shader) ?? 0;
    const out = ebm.matmulT(a, b, c.transA, c.transB);
    expect(rt.stats.byShader.get(shader) ?? 0, `ran ${shader}`).toBe(ranBefore + 1);
    expect(out.dtype).toBe('f32');
    expect(out.shape).toEqual(fx.shape(`${c.id}/c`));
    const product = await out.data();
    expectClose(product, fx.values(`${c.id}/c`), F16_TOL, `${c.id} product`);
    // Against the exact product of the f16-rounded operands: only the f32 accumulation's
    // rounding remains (K <= 48 terms of O(1): well inside 1e-5 of the scale).
    expectClose(product, fx.values(`${c.id}/c16`), F32_ACCUM_TOL, `${c.id} product of the f16 operands`);
    out.backward(fx.get(`${c.id}/g`));
    expect(a.grad!.dtype).toBe('f16');
    expect(a.grad!.shape).toEqual(a.shape);
    expectClose(await a.grad!.data(), fx.values(`${c.id}/ga`), F16_TOL, `${c.id} grad a`);
    expectClose(await b.grad!.data(), fx.values(`${c.id}/gb`), F16_TOL, `${c.id} grad b`);
  });
});

test('a device without shader-f16 (like SwiftShader) runs f16 through the packed fallback', async () => {
  const plain = await ebm.createDevice({ features: [] });
  try {
    expect(plain.info.features.has('shader-f16')).toBe(false);
    expect(f16Storage(plain)).toBe('packed');
    // The native-f16 shaders are skipped by validation on such a device, not failed.
    expect(plain.pipelines.runnable('f16-native.wgsl')).toBe(false);
    const c = cases[0]!;
    const a = ebm.tensor(fx.values(`${c.id}/a`), c.a, { device: plain, dtype: 'f16' });
    const b = ebm.tensor(fx.values(`${c.id}/b`), c.b, { device: plain, dtype: 'f16' });
    expectClose(await ebm.matmul(a, b).data(), fx.values(`${c.id}/c16`), F32_ACCUM_TOL, 'fallback product of the f16 operands');
  } finally {
    plain.destroy();
  }
});

test('f16 takes casts, matmul and views; other ops and mixed matmuls say what to do', () => {
  const h = ebm.tensor([[1, 2], [3, 4]]).half();
  expect(h.reshape([4]).dtype).toBe('f16');
  expect(h.unsqueeze(0).shape).toEqual([1, 2, 2]);
  expect(() => h.exp()).toThrow(/^exp: tensor #\d+ of shape \[2, 2\] has dtype f16; exp takes f32 \(cast with \.to\('f32'\)\)/);
  expect(() => h.add(1)).toThrow(/^add: .* has dtype f16; add takes f32/);
  expect(() => h.sum()).toThrow(/^sum: .* has dtype f16/);
  expect(() => ebm.matmul(h, ebm.ones([2, 2]))).toThrow(/^matmul: operands have dtypes f16 and f32; cast one to match/);
  expect(() => h.to('f64' as never)).toThrow(/^to: unknown dtype 'f64' \(valid: f32, f16\)/);
  expect(() => h.assign(ebm.ones([2, 2]))).toThrow(/^assign: dtypes differ: target f16, source f32/);
});

test("the default f16 storage follows the adapter's shader-f16", () => {
  // (Speed is measured by `webgpu-ebm bench matmul-f16`, never asserted here.)
  expect(f16Storage(rt)).toBe(rt.info.features.has('shader-f16') ? 'native' : 'packed');
});

afterAll(() => {
  delete rt.tuning.f16;
});
