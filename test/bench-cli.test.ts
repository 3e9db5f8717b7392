// The bench CLI, run in-process on tiny cases: the JSON lines carry the promised fields with
// sane values, bad arguments fail naming the valid values, and the devices are released so
// the CLI can exit. Speed is never asserted here.
import { describe, expect, test } from 'vitest';
import { matmulSuite } from '../bench/matmul.js';
import type { Suite } from '../bench/suite.js';
import { BenchUsageError, parseBenchArgs, runBench } from '../src/cli/bench.js';
import * as ebm from '../src/index.js';

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

  test('--compare tfjs adds the peer time and the ratio', async () => {
    const lines = await bench(['--compare', 'tfjs', '--repeat', '2', '--warmup', '1', '--json']);
    const r = JSON.parse(lines[0]!);
    expect(r.peer).toBe('tfjs');
    expect(r.peer_ms).toBeGreaterThan(0);
    expect(r.ms).toBeGreaterThan(0);
    expect(r.dispatches).toBeGreaterThan(0);
    // Printed values are rounded to 0.1 us; the ratio is computed before rounding.
    expect(Math.abs(r.ratio / (r.peer_ms / r.ms) - 1)).toBeLessThan(0.01);
    expectReleased();
  });

  test('the table has a header and a row per case', async () => {
    const lines = await bench(['--repeat', '1', '--warmup', '0']);
    expect(lines[0]).toMatch(/^device: /);
    expect(lines.some((l) => /^suite\s+case\s+ms\s+GFLOP\/s\s+dispatches$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^matmul\s+\[64,64\]@\[64,64\]\s+\d+\.\d\d\s+\d+\.\d\d\s+1$/);
  });

  test('a suite whose op has not landed is skipped with one line', async () => {
    const pending: Suite = { name: 'pending', missing: () => 'ebm.pending not available yet', cases: () => [] };
    expect(await bench(['pending', '--json'], [pending])).toEqual([JSON.stringify({ suite: 'pending', skipped: 'ebm.pending not available yet' })]);
    const table = await bench(['pending'], [pending]);
    expect(table.at(-1)).toBe('suite pending: skipped (ebm.pending not available yet)');
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
    expect(usage(['matmull'])).toBe("unknown suite 'matmull' (valid: matmul, matmul-f16, linear, conv2d, conv2d-backward, spectral-norm, mlp, langevin, train-step)");
    expect(usage(['--repeat', '0'])).toBe("--repeat must be a positive integer, got '0'");
    expect(usage(['--repeat', 'abc'])).toBe("--repeat must be a positive integer, got 'abc'");
    expect(usage(['--repeat', '1.5'])).toBe("--repeat must be a positive integer, got '1.5'");
    expect(usage(['--warmup=-1'])).toBe("--warmup must be a non-negative integer, got '-1'");
    expect(usage(['--compare', 'torch'])).toBe("--compare: unknown peer 'torch' (valid: tfjs)");
    expect(usage(['--fast'])).toMatch(/'--fast'[\s\S]*\nvalid options: --json --compare --repeat --warmup$/);
    expect(parseBenchArgs(['--help'])).toBeNull();
    expect(parseBenchArgs([])!.suites.map((s) => s.name)).toHaveLength(9);
  });
});
