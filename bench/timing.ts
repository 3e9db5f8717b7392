// Timing: every run is measured from the first enqueue to the end of an awaited readback of its
// result (a small one: each output summed to a scalar, or the one-element loss; suite.ts), on
// every side alike. The readback is what a user waits for, and the only way to time a lazy
// library (jax-js records work until something is read). Sides being compared take turns, so
// drift in the machine's speed (lavapipe shares the CPU with everything else) falls on all of
// them alike.

/** A workload with the way to read its result and to wait for its device. */
export interface TimedSide {
  /** Enqueues one run; returns what `read` takes. */
  run(): unknown;
  /** Awaits the readback of a run's result (and frees it). */
  read(result: unknown): Promise<void>;
  /** Resolves once every GPU command issued so far on this side's device has completed. */
  sync(): Promise<void>;
}

async function timeOnce(side: TimedSide): Promise<number> {
  const t0 = performance.now();
  await side.read(side.run());
  return performance.now() - t0;
}

/**
 * Runs each side `warmup` times untimed (pipeline compilation, buffer pools), then `repeat`
 * timed rounds, each round running every side once in turn, each run starting with every
 * side's device idle. Returns the times per side, in ms.
 */
export async function timeAlternating(sides: readonly TimedSide[], warmup: number, repeat: number): Promise<number[][]> {
  for (const side of sides) {
    // Start from an idle device, so a previous case's work is not billed to this one.
    await side.sync();
    for (let i = 0; i < warmup; i++) await timeOnce(side);
  }
  const times = sides.map((): number[] => []);
  for (let r = 0; r < repeat; r++)
    for (let s = 0; s < sides.length; s++) {
      // Every side's device idle first: work a library leaves queued after its readback (a
      // deferred disposal, say) shares lavapipe's threads and would be billed to the next run.
      for (const side of sides) await side.sync();
      times[s]!.push(await timeOnce(sides[s]!));
    }
  return times;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
