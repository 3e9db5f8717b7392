// Where a sampler call's random numbers come from. Each call has one 64-bit Philox key: the
// seed it was given, or else a fresh key from a per-process sequence (so successive unseeded
// calls, like the negatives of successive training steps, never share noise). Within the call
// the kernels index the stream by (element, step, purpose), see shaders/langevin.wgsl and
// hmc.wgsl; the starting points, when the caller gives none, use a key derived from the call's.
import { deriveSeed } from '../../nn/init.js';

/** The derived-key streams of a call (the kernels' own purposes are counter words instead). */
export const STREAM_INIT = 0x1417;

const UNSEEDED = 0x5eed_ebc0;
let unseededCalls = 0;

export interface CallKey {
  /** The key as a seed (for ebm.randn and deriveSeed). */
  seed: number;
  lo: number;
  hi: number;
}

export function callKey(seed: number | undefined): CallKey {
  const s = seed ?? deriveSeed(UNSEEDED, unseededCalls++)!;
  return { seed: s, lo: s >>> 0, hi: Math.floor(s / 2 ** 32) >>> 0 };
}

/** The seed of a derived stream of the call (its starting points). */
export function streamSeed(key: CallKey, stream: number): number {
  return deriveSeed(key.seed, stream)!;
}

/** How many unseeded sampler calls this process has keyed (the counter behind callKey(undefined)). */
export function unseededSamplerCalls(): number {
  return unseededCalls;
}

/** Sets that counter, e.g. from a trainer's state dict, so a resumed run keys its calls as before. */
export function setUnseededSamplerCalls(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`setUnseededSamplerCalls: expected an integer >= 0, got ${String(n)}`);
  unseededCalls = n;
}
