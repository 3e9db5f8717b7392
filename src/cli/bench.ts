// `webgpu-ebm bench`: parses the arguments and runs the suites of bench/, timing ours against
// tfjs's and jax-js's WebGPU backends on the same adapter when asked. Node only (it creates
// Dawn itself so that every library draws its device from one GPU object).
import { parseArgs } from 'node:util';
import { createDawnGPU } from '../../bench/gpu.js';
import { readOurs, recordOutputs } from '../../bench/ours-readback.js';
import { createPeer, PEER_NAMES, type Peer, type PeerName } from '../../bench/peers.js';
import { profileRuns, summarizeProfile } from '../../bench/profile.js';
import { profileLines } from '../../bench/profile-report.js';
import { jsonLine, skipLine, tableHeader, tableRow, type BenchResult, type Skipped } from '../../bench/report.js';
import type { BenchCase, RunResult, Suite, Workload } from '../../bench/suite.js';
import { SUITES } from '../../bench/suites.js';
import { median, timeAlternating, type TimedSide } from '../../bench/timing.js';
import * as ebm from '../index.js';
import { assertTimestamps } from '../kernels/profiler.js';

export const BENCH_USAGE = `usage: webgpu-ebm bench [suite ...] [--json] [--compare tfjs,jax] [--repeat N] [--warmup N] [--profile]

  suites: ${SUITES.map((s) => s.name).join(', ')} (default: all)
  --json               one JSON object per line instead of a table
  --compare P[,P...]   also time the same cases on each peer, same adapter, runs alternating:
                       tfjs (@tensorflow/tfjs, webgpu backend), jax (@jax-js/jax, webgpu, jit)
  --repeat N           timed runs per case; the median is reported (10)
  --warmup N           untimed runs per case first (2)
  --profile            then as many runs of ours again, each dispatch timed on the GPU
                       (timestamp queries): per kernel, its dispatches and median GPU ms
                       per run, and the share of the wall time the GPU time covers

  Every run is timed to an awaited readback of its result, on every side.`;

/** A bad command line; the message names the valid values. */
export class BenchUsageError extends Error {}

export interface BenchOptions {
  suites: Suite[];
  json: boolean;
  /** The peers to compare against, in the order given (empty: none). */
  compare: PeerName[];
  repeat: number;
  warmup: number;
  /** Per-kernel GPU times of ours after each case's timing (bench/profile.ts). */
  profile: boolean;
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
        profile: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new BenchUsageError(`${(e as Error).message}\nvalid options: --json --compare --repeat --warmup --profile`);
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
  return {
    suites,
    json: values.json ?? false,
    compare: parsePeers(values.compare),
    repeat: count('repeat', values.repeat, 10, 1),
    warmup: count('warmup', values.warmup, 2, 0),
    profile: values.profile ?? false,
  };
}

/** `--compare tfjs,jax`: a comma-separated list of peers, each once. */
function parsePeers(v: string | undefined): PeerName[] {
  if (v === undefined) return [];
  const peers: PeerName[] = [];
  for (const name of v.split(',').map((p) => p.trim())) {
    if (!(PEER_NAMES as readonly string[]).includes(name))
      throw new BenchUsageError(`--compare: unknown peer '${name}' (valid: ${PEER_NAMES.join(', ')}; several separated by commas)`);
    if (!peers.includes(name as PeerName)) peers.push(name as PeerName);
  }
  return peers;
}

function hasDefaultDevice(): boolean {
  try {
    ebm.getDevice();
    return true;
  } catch {
    return false;
  }
}

/** Times one case: ours, our f32 baseline (f16 suite) and each peer, taking turns. */
async function runCase(rt: ebm.Runtime, suite: Suite, c: BenchCase, peers: readonly Peer[], opts: BenchOptions): Promise<BenchResult> {
  const made: Workload<unknown>[] = [];
  const make = <W extends Workload<unknown>>(w: W): W => (made.push(w), w);
  try {
    const ours = make(c.ours());
    const f32 = c.f32 ? make(c.f32()) : null;
    const theirs = peers.map((p) => {
      const w = p.workload(c);
      return w ? make(w) : null;
    });
    const ourSync = () => rt.sync();
    const ourRead = (r: unknown) => readOurs(r as RunResult<ebm.Tensor>);
    let dispatches = 0;
    const sides: TimedSide[] = [
      {
        run: () => {
          const before = rt.stats.dispatches;
          const r = ours.run();
          recordOutputs(r);
          dispatches = rt.stats.dispatches - before;
          return r;
        },
        read: ourRead,
        sync: ourSync,
      },
    ];
    if (f32) sides.push({ run: () => f32.run(), read: ourRead, sync: ourSync });
    const peerSide = new Map<Peer, number>();
    peers.forEach((p, i) => {
      const w = theirs[i];
      if (!w) return;
      peerSide.set(p, sides.length);
      sides.push({ run: () => w.run(), read: (r) => p.read(r as RunResult<unknown>), sync: () => p.sync() });
    });
    const times = await timeAlternating(sides, opts.warmup, opts.repeat);
    const ms = median(times[0]!);
    const result: BenchResult = { suite: suite.name, case: c.name, ms, gflops: c.flops === null ? null : c.flops / (ms * 1e6), dispatches };
    if (c.steps !== undefined) result.dispatches_per_step = dispatches / c.steps;
    if (f32) {
      result.f32_ms = median(times[1]!);
      result.f16_over_f32 = ms / result.f32_ms;
    }
    for (const p of peers) {
      const side = peerSide.get(p);
      const peerMs = side === undefined ? null : median(times[side]!);
      result[`${p.name}_ms`] = peerMs;
      result[`${p.name}_ratio`] = peerMs === null ? null : peerMs / ms;
    }
    if (opts.profile) result.profile = summarizeProfile(await profileRuns(rt, ours, opts.repeat), ms);
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
  const gpu = ownDevice || opts.compare.length > 0 ? createDawnGPU() : null;
  const peers: Peer[] = [];
  const reported: (BenchResult | Skipped)[] = [];
  try {
    const rt = await ebm.init(gpu ? { gpu } : {});
    if (opts.profile) assertTimestamps(rt.device, '--profile');
    for (const name of opts.compare) peers.push(await createPeer(name, gpu!));
    const names = peers.map((p) => p.name);
    if (!opts.json) {
      io.write(`device: ${rt.info.description}`);
      io.write(
        `median of ${opts.repeat} runs after ${opts.warmup} warm-up runs, each timed to an awaited readback of its result` +
          (peers.length ? `; ${peers.map((p) => p.label).join(' and ')} on the same adapter, runs alternating with ours` : ''),
      );
      io.write('');
      for (const l of tableHeader(names)) io.write(l);
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
        const r = await runCase(rt, suite, c, peers, opts);
        reported.push(r);
        io.write(opts.json ? jsonLine(r) : tableRow(r, names));
        if (!opts.json && r.profile) for (const l of profileLines(r.profile, r.ms)) io.write(l);
      }
    }
  } finally {
    // Node does not exit while a Dawn device is alive: release the peers' (last made, first
    // released, so the globals they installed unwind in order), then ours.
    for (const p of peers.reverse()) p.dispose();
    if (ownDevice) ebm.shutdown();
  }
  return reported;
}
