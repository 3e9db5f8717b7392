// The bench CLI, run in-process on tiny cases: the JSON lines carry the promised fields with
// sane values, each peer (tfjs, jax-js) adds its time and ratio, the new suites run a tiny case,
// bad arguments fail naming the valid values, and the devices are released so the CLI can exit.
// Speed is never asserted here.
import { describe, expect, test } from 'vitest';
import { conv2dBackwardSuite } from '../bench/conv2d-backward.js';
import { conv2dGemmSuite, convGemm } from '../bench/conv2d-gemm.js';
import { conv2dSuite } from '../bench/conv2d.js';
import { imageLangevinSuite } from '../bench/image-langevin.js';
import { langevinSuite } from '../bench/langevin.js';
import { matmulLargeSize, matmulLargeSuite } from '../bench/matmul-large.js';
import { matmulSuite } from '../bench/matmul.js';
import { mlpStepSuite } from '../bench/mlp-step.js';
import type { Suite } from '../bench/suite.js';
import { SUITES } from '../bench/suites.js';
import { trainStepSuite } from '../bench/train-step.js';
import { BENCH_USAGE, BenchUsageError, parseBenchArgs, runBench } from '../src/cli/bench.js';
import * as ebm from '../src/index.js';
import { LONG, rejection } from './helpers.js';

const tiny: Suite[] = [matmulSuite([{ m: 64, k: 64, n: 64 }])];
const flops64 = 2 * 64 ** 3;

async function bench(args: string[], suites: readonly Suite[] = tiny): Promise<string[]> {
  const lines: string[] = [];
  await runBench(args, { write: (l) => lines.push(l), suites });
  return lines;
}

function expectReleased(): void {
  // Node does not exit while a Dawn device or a reference to Dawn's GPU object survives.
  expect(() => ebm.getDevice()).toThrow(/no WebGPU device/);
  expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
}

describe('webgpu-ebm bench', () => {
  test('--json prints one result object per case', async () => {
    const lines = await bench(['matmul', '--repeat', '2', '--json']);
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!);
    expect(r).toMatchObject({ suite: 'matmul', case: '[64,64]@[64,64]' });
    expect(r.ms).toBeGreaterThan(0);
    expect(r.dispatches).toBeGreaterThan(0);
    expect(r.gflops).toBeCloseTo(flops64 / (r.ms * 1e6), 2);
    expect(r).not.toHaveProperty('peer');
    expectReleased();
  });

  /** A result line's time and ratio for a peer: present, positive, and the ratio is peer / ours. */
  function expectPeer(r: Record<string, number>, peer: string): void {
    expect(r[`${peer}_ms`]).toBeGreaterThan(0);
    // Printed values are rounded to 0.1 us; the ratio is computed before rounding.
    expect(Math.abs(r[`${peer}_ratio`]! / (r[`${peer}_ms`]! / r.ms!) - 1)).toBeLessThan(0.01);
  }

  test('--compare tfjs adds the peer time and the ratio', async () => {
    const lines = await bench(['--compare', 'tfjs', '--repeat', '2', '--warmup', '1', '--json']);
    const r = JSON.parse(lines[0]!);
    expect(r.ms).toBeGreaterThan(0);
    expect(r.dispatches).toBeGreaterThan(0);
    expectPeer(r, 'tfjs');
    expect(r).not.toHaveProperty('jax_ms');
    expectReleased();
  });

  test('--compare jax times jax-js on the same adapter', async () => {
    const lines = await bench(['--compare', 'jax', '--repeat', '2', '--warmup', '1', '--json']);
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!);
    expect(r).toMatchObject({ suite: 'matmul', case: '[64,64]@[64,64]' });
    expect(r.dispatches).toBeGreaterThan(0);
    expectPeer(r, 'jax');
    expect(r).not.toHaveProperty('tfjs_ms');
    expectReleased();
  });

  test('--compare tfjs,jax reports both peers', async () => {
    const r = JSON.parse((await bench(['--compare', 'tfjs,jax', '--repeat', '1', '--warmup', '1', '--json']))[0]!);
    expectPeer(r, 'tfjs');
    expectPeer(r, 'jax');
    expectReleased();
  });

  test('a case a peer has no equivalent of reports null for it', async () => {
    const oursOnly: Suite = { name: 'ours-only', missing: () => null, cases: () => [{ ...tiny[0]!.cases()[0]!, tfjs: undefined, jax: undefined }] };
    const r = JSON.parse((await bench(['--compare', 'jax', '--repeat', '1', '--warmup', '0', '--json'], [oursOnly]))[0]!);
    expect(r).toMatchObject({ jax_ms: null, jax_ratio: null });
    expect(r.ms).toBeGreaterThan(0);
  });

  test('the table has a header and a row per case, with each peer in the order asked', async () => {
    const lines = await bench(['--repeat', '1', '--warmup', '0', '--compare', 'jax,tfjs']);
    expect(lines[0]).toMatch(/^device: /);
    expect(lines[1]).toMatch(/awaited readback.*; jax-js [\d.]+ \(webgpu backend, jit\) and tfjs [\d.]+ \(webgpu backend\) on the same adapter/);
    expect(lines.some((l) => /^suite\s+case\s+ms\s+GFLOP\/s\s+dispatches\s+jax ms\s+x jax\s+tfjs ms\s+x tfjs$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^matmul\s+\[64,64\]@\[64,64\](\s+\d+\.\d\d){2}\s+1(\s+\d+\.\d\d\s+\d+\.\d\dx){2}$/);
    expectReleased();
  });

  test('a suite whose op has not landed is skipped with one line', async () => {
    const pending: Suite = { name: 'pending', missing: () => 'ebm.pending not available yet', cases: () => [] };
    expect(await bench(['pending', '--json'], [pending])).toEqual([JSON.stringify({ suite: 'pending', skipped: 'ebm.pending not available yet' })]);
    const table = await bench(['pending'], [pending]);
    expect(table.at(-1)).toBe('suite pending: skipped (ebm.pending not available yet)');
  });

  test('--profile prints each kernel\'s GPU time under the case, and --json carries it', async () => {
    const lines = await bench(['matmul', '--profile', '--repeat', '1', '--warmup', '0']);
    const row = lines.findIndex((l) => l.startsWith('matmul '));
    const dispatches = Number(lines[row]!.trim().split(/\s+/).at(-1));
    expect(dispatches).toBeGreaterThan(0);
    const [summary, head, ...kernels] = lines.slice(row + 1);
    expect(summary).toMatch(/^    GPU profile, 1 run: (\d+\.\d{3}) ms of GPU time per run \(median\), (\d+\.\d)% of the (\d+\.\d\d) ms wall time$/);
    expect(head).toMatch(/^ +GPU ms\/run +% GPU +dispatches +kernel$/);
    expect(kernels.length).toBeGreaterThan(0);
    for (const k of kernels) expect(k).toMatch(/^ {4,}\d+\.\d{3} +(\d+\.\d%|-) +\d+ +[\w-]+\.wgsl:\w+$/);
    // The profiled run is the timed run's span: the same dispatches, the readback's not counted.
    expect(kernels.map((k) => Number(k.trim().split(/\s+/).at(-2))).reduce((s, n) => s + n, 0)).toBe(dispatches);
    expectReleased();

    const r = JSON.parse((await bench(['matmul', '--profile', '--repeat', '2', '--warmup', '0', '--json']))[0]!);
    expect(r.profile.runs).toBe(2);
    const ks = r.profile.kernels as { entry: string; dispatches: number; ms: number }[];
    expect(ks.reduce((s, k) => s + k.dispatches, 0)).toBe(r.dispatches);
    for (const k of ks) {
      expect(k.entry).toMatch(/^[\w-]+\.wgsl:\w+$/);
      expect(Number.isFinite(k.ms) && k.ms >= 0).toBe(true);
    }
    expect(r.profile.gpu_ms).toBeGreaterThanOrEqual(0);
    // Printed values are rounded to 0.1 us; the share is computed before rounding.
    expect(r.profile.wall_share).toBeCloseTo(r.profile.gpu_ms / r.ms, 2);
    expectReleased();
  });

  test('--profile on a device without timestamp-query fails before timing anything, naming the flag and the feature', async () => {
    await ebm.init({ features: ['shader-f16'] });
    const lines: string[] = [];
    const err = await rejection(runBench(['matmul', '--profile'], { write: (l) => lines.push(l), suites: tiny }));
    expect(err.message).toBe(
      "--profile: this device lacks the WebGPU feature 'timestamp-query', which per-kernel GPU timing needs (the adapter does not offer it, or the device was created without it)",
    );
    expect(lines).toEqual([]);
    ebm.shutdown();
  });

  test('a device the caller made is left alone', async () => {
    const rt = await ebm.init();
    await bench(['--repeat', '1', '--json']);
    expect(rt.isDestroyed).toBe(false);
    ebm.shutdown();
  });

  test('bad arguments fail with the valid values', () => {
    const usage = (args: string[]) => {
      try {
        parseBenchArgs(args);
      } catch (e) {
        expect(e).toBeInstanceOf(BenchUsageError);
        return (e as Error).message;
      }
      throw new Error(`bench ${args.join(' ')} was accepted`);
    };
    expect(usage(['matmull'])).toBe(`unknown suite 'matmull' (valid: ${SUITES.map((x) => x.name).join(', ')})`);
    expect(usage(['--repeat', '0'])).toBe("--repeat must be a positive integer, got '0'");
    expect(usage(['--repeat', 'abc'])).toBe("--repeat must be a positive integer, got 'abc'");
    expect(usage(['--repeat', '1.5'])).toBe("--repeat must be a positive integer, got '1.5'");
    expect(usage(['--warmup=-1'])).toBe("--warmup must be a non-negative integer, got '-1'");
    expect(usage(['--compare', 'torch'])).toBe("--compare: unknown peer 'torch' (valid: tfjs, jax; several separated by commas)");
    expect(usage(['--compare', 'tfjs,jaxx'])).toBe("--compare: unknown peer 'jaxx' (valid: tfjs, jax; several separated by commas)");
    expect(usage(['--compare='])).toBe("--compare: unknown peer '' (valid: tfjs, jax; several separated by commas)");
    expect(parseBenchArgs(['--compare', 'jax, tfjs,jax'])!.compare).toEqual(['jax', 'tfjs']);
    expect(parseBenchArgs([])!.compare).toEqual([]);
    expect(usage(['--fast'])).toMatch(/'--fast'[\s\S]*\nvalid options: --json --compare --repeat --warmup --profile$/);
    expect(parseBenchArgs(['--profile'])!.profile).toBe(true);
    expect(parseBenchArgs([])!.profile).toBe(false);
    expect(BENCH_USAGE).toMatch(/^usage: .*\[--profile\]$/m);
    expect(BENCH_USAGE).toMatch(/^  --profile +\S/m);
    expect(parseBenchArgs(['--help'])).toBeNull();
    expect(parseBenchArgs([])!.suites.map((s) => s.name)).toEqual(expect.arrayContaining(['mlp-step', 'image-langevin', 'matmul-large']));
  });

  test('matmul-large takes its size from the environment, or says how to set it', () => {
    expect(matmulLargeSize({})).toBeNull();
    expect(matmulLargeSize({ EBM_BENCH_MATMUL_SIZE: '64' })).toBe(64);
    expect(() => matmulLargeSize({ EBM_BENCH_MATMUL_SIZE: '1.5' })).toThrow("EBM_BENCH_MATMUL_SIZE must be an integer from 1 to 16384, got '1.5'");
    const suite = matmulLargeSuite();
    const saved = process.env.EBM_BENCH_MATMUL_SIZE;
    try {
      delete process.env.EBM_BENCH_MATMUL_SIZE;
      expect(suite.missing()).toMatch(/^set EBM_BENCH_MATMUL_SIZE=N to time/);
      process.env.EBM_BENCH_MATMUL_SIZE = '32';
      expect(suite.missing()).toBeNull();
      expect(suite.cases().map((c) => c.name)).toEqual(['[32,32]@[32,32] f32', '[32,32]@[32,32] f16']);
    } finally {
      if (saved === undefined) delete process.env.EBM_BENCH_MATMUL_SIZE;
      else process.env.EBM_BENCH_MATMUL_SIZE = saved;
    }
  });
});

// The suites issue 12 added (mlp-step, image-langevin) and those it extended with jax-js, each on
// one tiny case of its own shape. npm test runs the new ones on ours; the peers' first runs
// compile their kernels (jax-js's conv and grad programs take tens of seconds on a loaded
// lavapipe), so with EBM_TEST_LONG=1 every one of them also runs on tfjs and jax-js.
const firstCase = (s: Suite): Suite => ({ ...s, cases: () => s.cases().slice(0, 1) });
const newSuites: Suite[] = [mlpStepSuite([{ batch: 16, widths: [2, 8, 8, 1] }]), imageLangevinSuite([{ images: 2, channels: 1, size: 8, steps: 3, convChannels: [4] }])];
const extendedSuites: Suite[] = [
  conv2dSuite([{ batch: 2, inChannels: 3, outChannels: 4, size: 6, kernel: 3, stride: 2, padding: 1 }]),
  conv2dBackwardSuite([{ batch: 2, inChannels: 3, outChannels: 4, size: 6, kernel: 3, stride: 2, padding: 1 }]),
  langevinSuite([{ chains: 8, steps: 3, widths: [2, 8, 1] }]),
  trainStepSuite([{ batch: 8, kSteps: 2, widths: [2, 8, 1] }]),
].map(firstCase);

describe('conv2d-gemm', () => {
  test("times each conv case's forward GEMM as a matmul: [pixels, Cin KH KW] @ [Cin KH KW, Cout], the conv's FLOPs", async () => {
    const s = { batch: 2, inChannels: 3, outChannels: 4, size: 6, kernel: 3, stride: 2, padding: 1 };
    // Output 3 x 3 per image: 18 pixels, K = 27.
    expect(convGemm(s)).toEqual({ m: 18, k: 27, n: 4 });
    const [r] = (await runBench(['--repeat', '1', '--warmup', '0', '--json'], { write: () => {}, suites: [conv2dGemmSuite([s])] })) as unknown as Record<string, number>[];
    expect(`${r!.suite}: ${r!.case}`).toBe('conv2d-gemm: b2 3->4 6x6 [18,27]@[27,4]');
    expect(r!.gflops).toBeCloseTo((2 * 18 * 27 * 4) / (r!.ms! * 1e6), 3);
  });
});

describe('the new and extended suites run a tiny case', () => {
  test('mlp-step and image-langevin on ours: time, dispatches, GFLOP/s and dispatches per step', async () => {
    const results = (await runBench(['--repeat', '1', '--warmup', '0', '--json'], { write: () => {}, suites: newSuites })) as unknown as Record<string, number>[];
    expect(results.map((r) => `${r.suite}: ${r.case}`)).toEqual(['mlp-step: 2-8-8-1 b16 plain ops adam', 'image-langevin: 2x[1,8,8] x3 conv 4']);
    const [mlp, image] = results as [Record<string, number>, Record<string, number>];
    // Forward and weight gradient of every layer, input gradient of all but the first (2 FLOPs a multiply-add).
    const mlpFlops = 2 * 16 * (2 * 8 * 2 + 8 * 8 * 3 + 8 * 1 * 3);
    expect(mlp.gflops).toBeCloseTo(mlpFlops / (mlp.ms! * 1e6), 3);
    // A plain-ops step is several dispatches (forward, backward, Adam), the loss read back.
    expect(mlp.dispatches).toBeGreaterThan(3);
    // Forward + input gradient of conv 1->4 (8x8 -> 4x4) and fc 64->128->1, per step, 3 steps.
    const imageFlops = 3 * 2 * (2 * 2 * 4 * 16 * 9 + 2 * 2 * (64 * 128 + 128));
    expect(image.gflops).toBeCloseTo(imageFlops / (image.ms! * 1e6), 3);
    expect(image.dispatches_per_step).toBeCloseTo(image.dispatches! / 3, 3);
    // At least a forward, a backward and an update per step.
    expect(image.dispatches_per_step).toBeGreaterThan(1);
    expectReleased();
    // Pipeline compilation dominates (seconds quiet, minutes on a lavapipe shared by many jobs).
  }, 300_000);

  test.skipIf(!LONG)('with --compare tfjs,jax every suite runs on ours and on both peers', async () => {
    const suites = [...newSuites, ...extendedSuites];
    const results = (await runBench(['--compare', 'tfjs,jax', '--repeat', '1', '--warmup', '1', '--json'], { write: () => {}, suites })) as unknown as Record<string, number | null>[];
    expect(results).toHaveLength(suites.length);
    for (const r of results) {
      expect(r.ms).toBeGreaterThan(0);
      for (const peer of ['tfjs', 'jax']) expect(r[`${peer}_ms`], `${r.suite} ${r.case} ${peer}`).toBeGreaterThan(0);
    }
    expectReleased();
  });
  if (!LONG) console.log('bench-cli: the tiny suites on tfjs and jax-js are skipped in npm test (their kernels compile for minutes on a loaded lavapipe); EBM_TEST_LONG=1 npx vitest run test/bench-cli.test.ts runs them');
});
