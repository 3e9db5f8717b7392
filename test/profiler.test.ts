// The per-kernel GPU profile: rt.startProfile / stopProfile (src/kernels/profiler.ts, one
// timestamped pass per dispatch) counts each kernel's dispatches exactly as rt.stats does, gives
// each a finite, non-negative GPU time within the wall time around it, leaves the computation and
// the normal counts unchanged, works across submits and across more dispatches than one query
// set holds, and profiles nothing outside start/stop; and bench's summary of per-run profiles
// (bench/profile.ts) against hand-computed medians. Times are bounded, never asserted.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { create } from 'webgpu';
import { summarizeProfile } from '../bench/profile.js';
import { Profiler, type KernelTime } from '../src/kernels/profiler.js';
import { caught, ebm, rejection } from './helpers.js';

let rt: ebm.Runtime;
let a: ebm.Tensor;
let b: ebm.Tensor;
let m: ebm.Tensor;

beforeAll(async () => {
  // Full-resolution timestamps (as bench's Dawn has, bench/gpu.ts): Dawn otherwise rounds them
  // down to 65.5 us, and a short dispatch on a fast GPU would time as 0.
  rt = await ebm.init({ gpu: create(['disable-dawn-features=timestamp_quantization']) });
  // Large enough that each elementwise dispatch takes measurable time on any adapter.
  a = ebm.rand([1 << 20], { seed: 1 });
  b = ebm.rand([1 << 20], { seed: 2 });
  m = ebm.rand([128, 128], { seed: 3 });
  await rt.sync();
});

afterAll(() => {
  for (const t of [a, b, m]) t.dispose();
});

/** Two elementwise ops and a matmul, recorded (the matmul is deferred until its buffer is touched). */
function threeKernels(): ebm.Tensor[] {
  const sum = a.add(b);
  const e = sum.exp();
  const p = m.matmul(m);
  void p.buffer;
  return [sum, e, p];
}

/** The change in rt.stats.byEntry while `fn` runs (entries that did not change left out). */
async function entryCounts<T>(fn: () => T | Promise<T>): Promise<{ value: T; counts: Map<string, number> }> {
  const before = new Map(rt.stats.byEntry);
  const value = await fn();
  const counts = new Map<string, number>();
  for (const [k, n] of rt.stats.byEntry) if (n !== (before.get(k) ?? 0)) counts.set(k, n - (before.get(k) ?? 0));
  return { value, counts };
}

const asCounts = (p: readonly KernelTime[]) => new Map(p.map((k) => [k.entry, k.dispatches]));

/** Every time finite and non-negative, slowest first, and all of them within `wallMs`. */
function expectSaneTimes(p: readonly KernelTime[], wallMs: number): void {
  for (const k of p) {
    expect(Number.isFinite(k.ms), k.entry).toBe(true);
    expect(k.ms, k.entry).toBeGreaterThanOrEqual(0);
  }
  for (let i = 1; i < p.length; i++) expect(p[i]!.ms).toBeLessThanOrEqual(p[i - 1]!.ms);
  // The dispatches ran between the start and the readback of the timestamps: their GPU time
  // cannot exceed that span (a stamp read from the wrong slot would be zero or garbage).
  expect(p.reduce((s, k) => s + k.ms, 0)).toBeLessThanOrEqual(wallMs);
}

/** Profiles `fn`; returns its profile, the byEntry counts it added, its value and the wall ms. */
async function profiled<T>(fn: () => T, options?: Parameters<ebm.Runtime['startProfile']>[0]) {
  const t0 = performance.now();
  const { value, counts } = await entryCounts(async () => {
    rt.startProfile(options);
    const v = fn();
    return { v, profile: await rt.stopProfile() };
  });
  return { value: value.v, profile: value.profile, counts, wallMs: performance.now() - t0 };
}

describe('rt.startProfile / stopProfile', () => {
  test('two elementwise ops and a matmul: each kernel once, a sane time each, the same results and counts as unprofiled', async () => {
    // Unprofiled first (this also compiles the pipelines).
    const plain = await entryCounts(threeKernels);
    const { value, profile, counts, wallMs } = await profiled(threeKernels);
    // The normal counts are the same as without the profile, and the profile counts what they count.
    expect(counts).toEqual(plain.counts);
    expect(asCounts(profile)).toEqual(counts);
    expect(profile.map((k) => k.dispatches).reduce((s, n) => s + n, 0)).toBe(3);
    expect(counts.get('binary.wgsl:main')).toBe(1);
    expect(counts.get('unary.wgsl:main')).toBe(1);
    expect([...counts.keys()].filter((k) => /^matmul[\w-]*\.wgsl:\w+$/.test(k))).toHaveLength(1);
    expectSaneTimes(profile, wallMs);
    // A million-element add takes time on any GPU, and the stamps have full resolution here.
    for (const k of profile) expect(k.ms, k.entry).toBeGreaterThan(0);
    // A pass per dispatch changes nothing in what is computed.
    for (let i = 0; i < 3; i++) {
      const [got, want] = [await value[i]!.data(), await plain.value[i]!.data()];
      expect(got.length).toBe(want.length);
      // (a loop: toEqual over a million elements takes seconds)
      let differ = 0;
      for (let j = 0; j < got.length; j++) if (!Object.is(got[j], want[j])) differ++;
      expect(differ, `output ${i}`).toBe(0);
    }
    for (const t of [...value, ...plain.value]) t.dispose();
  });

  test('nothing is profiled outside start and stop; start and stop pair up', async () => {
    expect(await rt.stopProfile().catch((e: Error) => e.message)).toBe('webgpu-ebm: stopProfile: no profile is running (call startProfile() first)');
    rt.startProfile();
    expect(caught(() => rt.startProfile()).message).toBe('webgpu-ebm: startProfile: a profile is already running (call stopProfile() first)');
    expect(await rt.stopProfile()).toEqual([]);
    // Work recorded after stop (into the shared pass) is not in the next profile, and it counts as usual.
    const after = await entryCounts(threeKernels);
    expect([...after.counts.values()].reduce((s, n) => s + n, 0)).toBe(3);
    rt.startProfile();
    expect(await rt.stopProfile()).toEqual([]);
    for (const t of after.value) t.dispose();
  });

  test('across submits: rt.batchSize forces a submit every 2 dispatches', async () => {
    const saved = rt.batchSize;
    rt.batchSize = 2;
    try {
      const submits = rt.stats.submits;
      const { value, profile, counts, wallMs } = await profiled(() => {
        const outs: ebm.Tensor[] = [a.add(b)];
        for (let i = 0; i < 4; i++) outs.push(outs.at(-1)!.exp());
        return outs;
      });
      // 5 dispatches, 2 per submit: 2 full batches and the rest submitted by stopProfile.
      expect(rt.stats.submits - submits).toBeGreaterThanOrEqual(3);
      expect(asCounts(profile)).toEqual(new Map([['unary.wgsl:main', 4], ['binary.wgsl:main', 1]]));
      expect(asCounts(profile)).toEqual(counts);
      expectSaneTimes(profile, wallMs);
      for (const t of value) t.dispose();
    } finally {
      rt.batchSize = saved;
    }
  });

  test('across query sets: 7 dispatches in sets of 4 queries (2 dispatches each)', async () => {
    const { value, profile, counts, wallMs } = await profiled(
      () => {
        const outs: ebm.Tensor[] = [];
        for (let i = 0; i < 4; i++) outs.push(a.add(b));
        for (let i = 0; i < 3; i++) outs.push(outs[i]!.exp());
        return outs;
      },
      { queriesPerSet: 4 },
    );
    expect(asCounts(profile)).toEqual(new Map([['binary.wgsl:main', 4], ['unary.wgsl:main', 3]]));
    expect(asCounts(profile)).toEqual(counts);
    expectSaneTimes(profile, wallMs);
    // Each set's stamps read from its own place: an unresolved slot would read as 0.
    for (const k of profile) expect(k.ms, k.entry).toBeGreaterThan(0);
    for (const t of value) t.dispose();
  });

  test('refuses a query-set size out of range, and a device without timestamp-query', async () => {
    for (const q of [0, 3, 4098, 1.5])
      expect(caught(() => rt.startProfile({ queriesPerSet: q })).message).toBe(
        `webgpu-ebm: startProfile: queriesPerSet must be an even integer from 2 to 4096 (two per dispatch), got ${q}`,
      );
    // A refused start leaves no profile running.
    expect((await rejection(rt.stopProfile())).message).toMatch(/no profile is running/);
    const noTimestamps = { features: new Set<string>(['shader-f16']) } as unknown as GPUDevice;
    expect(caught(() => new Profiler(noTimestamps)).message).toBe(
      "webgpu-ebm: startProfile: this device lacks the WebGPU feature 'timestamp-query', which per-kernel GPU timing needs (the adapter does not offer it, or the device was created without it)",
    );
  });
});

describe('bench --profile: the summary of per-run profiles', () => {
  const k = (entry: string, dispatches: number, ms: number): KernelTime => ({ entry, dispatches, ms });

  test('one run: its own numbers, the total their sum, the share of the wall time', () => {
    const p = summarizeProfile([[k('b.wgsl:main', 4, 0.25), k('a.wgsl:nn', 1, 1.5)]], 4);
    expect(p.kernels).toEqual([k('a.wgsl:nn', 1, 1.5), k('b.wgsl:main', 4, 0.25)]);
    expect(p.gpu_ms).toBe(1.75);
    expect(p.wall_share).toBe(1.75 / 4);
    expect(p.runs).toBe(1);
  });

  test('three runs: per kernel the mean dispatches and median ms (0 where it did not run), the total the median run', () => {
    const runs = [
      [k('x:m', 2, 1), k('y:m', 1, 0.5)], // total 1.5
      [k('x:m', 2, 3), k('y:m', 1, 0.25), k('z:m', 3, 0.75)], // total 4
      [k('x:m', 2, 2), k('y:m', 1, 0.5)], // total 2.5
    ];
    const p = summarizeProfile(runs, 5);
    expect(p.kernels).toEqual([k('x:m', 2, 2), k('y:m', 1, 0.5), k('z:m', 1, 0)]);
    expect(p.gpu_ms).toBe(2.5);
    expect(p.wall_share).toBe(0.5);
  });

  test('refuses no runs and a wall time that is not positive', () => {
    expect(() => summarizeProfile([], 1)).toThrow('summarizeProfile: no profiled runs');
    expect(() => summarizeProfile([[]], 0)).toThrow('summarizeProfile: wallMs must be a positive number, got 0');
  });
});
