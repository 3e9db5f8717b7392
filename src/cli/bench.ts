// `webgpu-ebm bench`: parses the arguments and runs the suites of bench/, timing ours against
// tfjs's WebGPU backend on the same adapter when asked. Node only (it creates Dawn itself so
// that both libraries draw their devices from one GPU object).
import { parseArgs } from 'node:util';
import { createDawnGPU } from '../../bench/gpu.js';
import { jsonLine, skipLine, tableHeader, tableRow, type BenchResult, type Skipped } from '../../bench/report.js';
import type { BenchCase, Suite, Workload } from '../../bench/suite.js';
import { SUITES } from '../../bench/suites.js';
import { createTfjsPeer, type TfjsPeer } from '../../bench/tfjs-peer.js';
import { median, timeAlternating, type TimedSide } from '../../bench/timing.js';
import * as ebm from '../index.js';

const PEERS = ['tfjs'] as const;
type Peer = (typeof PEERS)[number];

export const BENCH_USAGE = `usage: webgpu-ebm bench [suite ...] [--json] [--compare tfjs] [--repeat N] [--warmup N]

  suites: ${SUITES.map((s) => s.name).join(', ')} (default: all)
  --json          one JSON object per line instead of a table
  --compare tfjs  time the same cases on @tensorflow/tfjs's WebGPU backend, same adapter
  --repeat N      timed runs per case; the median is reported (10)
  --warmup N      untimed runs per case first (2)`;

/** A bad command line; the message names the valid values. */
export class BenchUsageError extends Error {}

export interface BenchOptions {
  suites: Suite[];
  json: boolean;
  compare: Peer | null;
  repeat: number;
  warmup: number;
}

function count(name: string, v: string | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min)
    throw new BenchUsageError(`--${name} must be ${min > 0 ? 'a positive' : 'a non-negative'} integer, got '${v}'`);
  return n;
}

/** Parses bench's arguments; null for --help. Suites come from `registry` (tests pass tiny ones). */
export function parseBenchArgs(argv: readonly string[], registry: readonly Suite[] = SUITES): BenchOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        compare: { type: 'string' },
        repeat: { type: 'string' },
        warmup: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new BenchUsageError(`${(e as Error).message}\nvalid options: --json --compare --repeat --warmup`);
  }
  const { values, positionals } = parsed;
  if (values.help) return null;
  const names = registry.map((s) => s.name);
  const suites = positionals.length === 0 ? [...registry] : [];
  for (const p of positionals) {
    const s = registry.find((r) => r.name === p);
    if (!s) throw new BenchUsageError(`unknown suite '${p}' (valid: ${names.join(', ')})`);
    if (!suites.includes(s)) suites.push(s);
  }
  const compare = values.compare ?? null;
  if (compare !== null && !(PEERS as readonly string[]).includes(compare))
    throw new BenchUsageError(`--compare: unknown peer '${compare}' (valid: ${PEERS.join(', ')})`);
  return {
    suites,
    json: values.json ?? false,
    compare: compare as Peer | null,
    repeat: count('repeat', values.repeat, 10, 1),
    warmup: count('warmup', values.warmup, 2, 0),
  };
}

function hasDefaultDevice(): boolean {
  try {
    ebm.getDevice();
    return true;
  } catch {
    return false;
  }
}

/** Times one case: ours, our f32 baseline (f16 suite) and the peer, taking turns. */
async function runCase(rt: ebm.Runtime, suite: Suite, c: BenchCase, opts: BenchOptions, peer: TfjsPeer | null): Promise<BenchResult> {
  const made: Workload[] = [];
  const make = <W extends Workload>(w: W): W => (made.push(w), w);
  try {
    const ours = make(c.ours());
    const f32 = c.f32 ? make(c.f32()) : null;
    const theirs = peer && c.tfjs ? make(c.tfjs(peer.tf)) : null;
    const ourSync = () => rt.sync();
    let dispatches = 0;
    const sides: TimedSide[] = [
      {
        run: () => {
          const before = rt.stats.dispatches;
          ours.run();
          dispatches = rt.stats.dispatches - before;
        },
        sync: ourSync,
      },
    ];
    if (f32) sides.push({ run: () => f32.run(), sync: ourSync });
    if (theirs) sides.push({ run: () => theirs.run(), sync: () => peer!.sync() });
    const times = await timeAlternating(sides, opts.warmup, opts.repeat);
    const ms = median(times[0]!);
    const result: BenchResult = { suite: suite.name, case: c.name, ms, gflops: c.flops === null ? null : c.flops / (ms * 1e6), dispatches };
    if (f32) {
      result.f32_ms = median(times[1]!);
      result.f16_over_f32 = ms / result.f32_ms;
    }
    if (opts.compare) {
      const peerMs = theirs ? median(times[times.length - 1]!) : null;
      result.peer = theirs ? opts.compare : null;
      result.peer_ms = peerMs;
      result.ratio = peerMs === null ? null : peerMs / ms;
    }
    return result;
  } catch (e) {
    throw new Error(`bench ${suite.name} ${c.name}: ${(e as Error).message}`, { cause: e });
  } finally {
    for (const w of made) w.dispose();
  }
}

export interface BenchIO {
  /** Receives each output line (no trailing newline). */
  write(line: string): void;
  /** The suites to choose from (default: all of bench/). */
  suites?: readonly Suite[];
}

/** Runs `webgpu-ebm bench <argv>`; returns what it reported. Throws BenchUsageError on bad arguments. */
export async function runBench(argv: readonly string[], io: BenchIO): Promise<(BenchResult | Skipped)[]> {
  const opts = parseBenchArgs(argv, io.suites);
  if (!opts) {
    io.write(BENCH_USAGE);
    return [];
  }
  // A device made here is ours to destroy; one the caller already had is left alone.
  const ownDevice = !hasDefaultDevice();
  const gpu = ownDevice || opts.compare ? createDawnGPU() : null;
  let peer: TfjsPeer | null = null;
  const reported: (BenchResult | Skipped)[] = [];
  try {
    const rt = await ebm.init(gpu ? { gpu } : {});
    if (opts.compare) peer = await createTfjsPeer(gpu!);
    if (!opts.json) {
      io.write(`device: ${rt.info.description}`);
      io.write(
        `median of ${opts.repeat} runs after ${opts.warmup} warm-up runs, each timed to completed GPU work` +
          (peer ? `; tfjs ${peer.version} (webgpu backend) on the same adapter, runs alternating with ours` : ''),
      );
      io.write('');
      for (const l of tableHeader(opts.compare !== null)) io.write(l);
    }
    for (const suite of opts.suites) {
      const missing = suite.missing();
      if (missing) {
        const s: Skipped = { suite: suite.name, skipped: missing };
        reported.push(s);
        io.write(opts.json ? jsonLine(s) : skipLine(s));
        continue;
      }
      for (const c of suite.cases()) {
        const r = await runCase(rt, suite, c, opts, peer);
        reported.push(r);
        io.write(opts.json ? jsonLine(r) : tableRow(r, opts.compare !== null));
      }
    }
  } finally {
    // Node does not exit while a Dawn device is alive: release tfjs's, then ours.
    peer?.dispose();
    if (ownDevice) ebm.shutdown();
  }
  return reported;
}
