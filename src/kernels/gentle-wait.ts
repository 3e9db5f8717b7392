// Waiting for the GPU from Node without taking a CPU core from it.
//
// Dawn's Node binding resolves its promises (mapAsync, onSubmittedWorkDone) by calling
// ProcessEvents from setImmediate for as long as any of them is pending: a busy loop that keeps
// one core at 100% until the GPU is done. On a CPU adapter (lavapipe: its threads run the
// dispatches on the same cores) that core is taken from the GPU work being waited for; on 2
// cores, 30 image-Langevin steps took 1,160 ms when their readback was awaited and under
// 680 ms when the thread slept first. So this wait lets Dawn's turns run as usual for the first
// SPIN_MS (a tiny readback loses nothing: a loop of our own there cost 0.1-0.5 ms on 1-3 ms
// bench cases), then blocks the thread in slices (Atomics.wait: no CPU), handing one event-loop
// turn to Dawn between slices. Browsers (no setImmediate, no blocking on the main thread) and other
// hosts await the promise as it is.

/** Wait this long as Dawn does (its busy turns) before sleeping between turns, ms. */
const SPIN_MS = 2;
/** Each sleep between two turns, ms: the most a completion is noticed late. */
const SLEEP_MS = 0.25;

type Immediate = (callback: () => void) => unknown;
const host = globalThis as { setImmediate?: Immediate; process?: { versions?: { node?: string } } };
const blocker = typeof host.setImmediate === 'function' && typeof host.process?.versions?.node === 'string' && typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : null;

/** Whether waits on this host sleep between event-loop turns (Node) or just await (elsewhere). */
export const sleepsWhileWaiting = blocker !== null;

/** `p`, awaited without keeping a core busy while the GPU works towards it (see above). */
export async function gpuWait<T>(p: Promise<T>): Promise<T> {
  if (!blocker) return p;
  const setImmediate = host.setImmediate!;
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  // A short wait exactly as Dawn runs it (its own turns), so tiny readbacks lose nothing...
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p.then(noop, noop), new Promise<void>((r) => (timer = setTimeout(r, SPIN_MS)))]);
  clearTimeout(timer);
  // ...then sleep between single turns until it settles.
  while (!settled) {
    Atomics.wait(blocker, 0, 0, SLEEP_MS);
    // One turn of the event loop: Dawn's queued ProcessEvents runs and settles p if it can.
    await new Promise<void>((r) => setImmediate(r));
  }
  return p;
}

function noop(): void {}
