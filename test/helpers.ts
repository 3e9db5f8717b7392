// Shared test helpers: the device, PyTorch fixtures, and numeric comparison.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import * as ebm from '../src/index.js';
import { parseSafetensors, toFloat32 } from '../src/nn/safetensors-format.js';
import { langevinMlpUsable } from '../src/tensor/ops/fused/index.js';

export { ebm };

/**
 * `npm run test:long` sets EBM_TEST_LONG=1: the convergence and endurance runs then take their
 * full length (1,000-step training to all eight modes, 500-step and 10,000-step memory runs).
 * `npm test` runs the same tests at a length that still catches what they guard (a per-step leak
 * shows in 40 steps; training that learns nothing fails the short run's bounds), so the suite
 * spends its minutes on checks, not on convergence.
 */
export const LONG = process.env.EBM_TEST_LONG === '1';

export async function device(): Promise<ebm.Runtime> {
  return ebm.init();
}

export interface Fixture {
  metadata: Record<string, string>;
  get(name: string): ebm.Tensor;
  values(name: string): Float32Array;
  shape(name: string): number[];
  has(name: string): boolean;
}

/** Loads test/fixtures/<file>; tensors are uploaded to the default device on demand. */
export function loadFixture(file: string): Fixture {
  const parsed = parseSafetensors(new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures', file))));
  const raw = (name: string) => {
    const t = parsed.tensors.get(name);
    if (!t) throw new Error(`fixture ${file} has no tensor '${name}'`);
    return t;
  };
  return {
    metadata: parsed.metadata,
    has: (name) => parsed.tensors.has(name),
    shape: (name) => raw(name).shape,
    values: (name) => toFloat32(raw(name)),
    get: (name) => ebm.tensor(toFloat32(raw(name)), raw(name).shape),
  };
}

/** The smallest scale expectClose measures against: f32's epsilon (an all-zero tensor must come out zero to within rounding). */
export const SCALE_FLOOR = 2 ** -23;

/**
 * Asserts |actual - expected| <= rtol * max(SCALE_FLOOR, max|expected|) elementwise: relative to
 * the tensor's own scale, so values near zero in a tensor of O(1) values do not demand
 * impossible relative precision, and a tensor of small values is held to the same relative
 * precision as one of large values (not to an absolute rtol).
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what = ''): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = SCALE_FLOOR;
  for (let i = 0; i < expected.length; i++) if (Number.isFinite(expected[i]!)) scale = Math.max(scale, Math.abs(expected[i]!));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      expect(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${what}: element ${i} is ${a}, expected ${e}`).toBe(true);
      continue;
    }
    const err = Math.abs(a - e) / scale;
    if (!(err <= worst)) [worst, at] = [err, i];
  }
  if (!(worst <= rtol)) expect.fail(`${what}: element ${at} is ${actual[at]}, expected ${expected[at]} (error ${worst.toExponential(2)} of scale ${scale}, tolerance ${rtol})`);
}

/**
 * Asserts |actual - expected| <= rtol * |expected| for every element (exact where expected is
 * 0, the same NaN/infinity): for values spanning many decades, such as erfc's tail or expm1
 * near 0, where a tolerance relative to the largest element would pass a wrong formula.
 */
export function expectElementwiseClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what = ''): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!Number.isFinite(e)) {
      if (!(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)))) expect.fail(`${what}: element ${i} is ${a}, expected ${e}`);
      continue;
    }
    const err = Math.abs(a - e);
    if (!(err <= rtol * Math.abs(e))) expect.fail(`${what}: element ${i} is ${a}, expected ${e} (relative error ${(err / Math.abs(e)).toExponential(2)}, tolerance ${rtol})`);
  }
}

/** Fails at the first element where `split` differs from `whole` bit for bit (NaN equals NaN), naming it. */
export function expectSameBits(whole: Float32Array, split: Float32Array, what: string): void {
  expect(split.length, what).toBe(whole.length);
  for (let i = 0; i < whole.length; i++) if (!Object.is(whole[i], split[i])) expect.fail(`${what}: element ${i} is ${split[i]} split, ${whole[i]} whole`);
}

/**
 * Runs the garbage collector (vitest starts workers with --expose-gc) and lets finalizers run,
 * so tensors that earlier tests dropped without dispose() leave memory() before a leak check
 * takes its first count rather than during it.
 */
export async function settleGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('settleGarbage: run node with --expose-gc (vitest.config.ts sets it)');
  gc();
  await new Promise((r) => setTimeout(r, 0));
  gc();
  await new Promise((r) => setTimeout(r, 0));
}

/** A test of the fused MLP sampler itself: skipped, with the reason, on a device without subgroups of 8+ lanes (the general path runs there). */
export function fusedIt(name: string, fn: () => Promise<void> | void): void {
  it(name, async (ctx) => {
    if (!langevinMlpUsable(ebm.getDevice())) ctx.skip('this device has no subgroups of 8 or more lanes: the fused path is not used');
    await fn();
  });
}

/** The Error fn throws (fails the test when it returns, or throws something else). */
export function caught(fn: () => unknown): Error {
  let err: unknown;
  let threw = false;
  try {
    fn();
  } catch (e) {
    err = e;
    threw = true;
  }
  expect(threw, 'expected the call to throw').toBe(true);
  expect(err).toBeInstanceOf(Error);
  return err as Error;
}

/** The Error p rejects with (fails the test when it resolves, or rejects with something else). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return e as Error;
  }
  return expect.fail('expected the promise to reject');
}

/** An op fixture's tensor argument (scripts/make_fixtures.py, make_nan_fixtures.py): a tensor key, and whether its gradient is checked. */
export interface FixtureTensorArg {
  tensor: string;
  grad: boolean;
}
/** An op fixture's argument: a tensor, a list of tensors, or a value passed as is. */
export type FixtureArg = FixtureTensorArg | { list: FixtureTensorArg[] } | number | boolean | null | number[];
/** One case of an op fixture: `call` says whether `op` is a method of args[0] or a function of ebm. */
export interface FixtureOpCase {
  id: string;
  name: string;
  op: string;
  call: 'method' | 'function';
  args: FixtureArg[];
  tol?: number;
  /** A relative tolerance for each element against itself (values spanning many decades). */
  elementwise?: number;
}

export function isFixtureTensorArg(a: FixtureArg): a is FixtureTensorArg {
  return typeof a === 'object' && a !== null && 'tensor' in a;
}
