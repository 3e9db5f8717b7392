// Philox 4x32-10 on the host, word for word shaders/philox.wgsl, so a test can reproduce the
// random numbers a fused kernel draws at any counter (element group, c1, c2, c3) under a 64-bit
// key, without the kernel having to expose them. test/samplers-strict.test.ts pins it to the GPU:
// at counter (g, 0, 0, 0) it must give ebm.rand's uniforms bit for bit, and its uniforms through
// the Box-Muller map written in tensor ops must give ebm.randn's normals.
import { ebm } from './helpers.js';
import type { Tensor } from '../src/index.js';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** The high and low words of the 64-bit product of two u32, exactly (16-bit halves, as the shader). */
function mulhilo(a: number, b: number): [number, number] {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const loLo = aLo * bLo;
  const hiLo = aHi * bLo;
  const loHi = aLo * bHi;
  const hiHi = aHi * bHi;
  const cross = (loLo >>> 16) + (hiLo & 0xffff) + (loHi & 0xffff);
  const hi = (hiHi + (hiLo >>> 16) + (loHi >>> 16) + (cross >>> 16)) >>> 0;
  return [hi, Math.imul(a, b) >>> 0];
}

/** philox(counter, key): four u32 words. */
export function philox(counter: readonly [number, number, number, number], key: readonly [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0) as [number, number, number, number];
  let [k0, k1] = key.map((v) => v >>> 0) as [number, number];
  for (let round = 0; round < 10; round++) {
    const [p0hi, p0lo] = mulhilo(M0, c0);
    const [p1hi, p1lo] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(p1hi ^ c1 ^ k0) >>> 0, p1lo, (p0hi ^ c3 ^ k1) >>> 0, p0lo];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** philox_unit: 24 random bits as a float in (0, 1), exact in f32. */
export function unit(u: number): number {
  return Math.max((u >>> 8) * (1 / 16777216), 1 / 33554432);
}

/** The 64-bit key of a seed, as the samplers and ebm.rand split it. */
export function keyOf(seed: number): [number, number] {
  return [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0];
}

/** Element e of the uniform stream (c1, c2, c3): lane e % 4 of philox((e / 4, c1, c2, c3)). */
export function uniformAt(e: number, c1: number, c2: number, c3: number, key: readonly [number, number]): number {
  return unit(philox([e >>> 2, c1, c2, c3], key)[e & 3]!);
}

/**
 * n elements of the normal stream (c1, c2, c3) as an [n] tensor: the uniforms from the host
 * Philox, the Box-Muller map (philox_normal4: lanes 0 and 1 are r0 cos t0 and r0 sin t0 with
 * r0 = sqrt(-2 log u.x), t0 = 2 pi u.y; lanes 2 and 3 the same with u.z and u.w) in tensor ops,
 * so the transcendental functions are the GPU's own, as in the kernels.
 */
export function normalStream(n: number, c1: number, c2: number, c3: number, key: readonly [number, number]): Tensor {
  const radius = new Float32Array(n);
  const angle = new Float32Array(n);
  const isCos = new Float32Array(n);
  for (let g = 0; g * 4 < n; g++) {
    const w = philox([g, c1, c2, c3], key).map(unit);
    for (let lane = 0; lane < 4 && g * 4 + lane < n; lane++) {
      const e = g * 4 + lane;
      radius[e] = lane < 2 ? w[0]! : w[2]!;
      angle[e] = lane < 2 ? w[1]! : w[3]!;
      isCos[e] = lane % 2 === 0 ? 1 : 0;
    }
  }
  return ebm.tidy(() => {
    const r = ebm.tensor(radius, [n]).log().mul(-2).sqrt();
    const t = ebm.tensor(angle, [n]).mul(2 * Math.PI);
    return ebm.where(ebm.tensor(isCos, [n]).gt(0), t.cos(), t.sin()).mul(r);
  });
}
