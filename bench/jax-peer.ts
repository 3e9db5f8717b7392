// jax-js (@jax-js/jax) as a peer: its WebGPU backend on a device drawn from our Dawn GPU object,
// through the browser globals it expects (webgpu-globals.ts). jax-js is lazy: its ops and jitted
// calls only record work, which is submitted when a result is read, so every run of a jax case
// ends on an awaited `data()` (as every side's does; timing.ts), never on a queue wait alone.
//
// jax-js starts each backend once per process and has no way to stop one; its device is kept
// for the life of the process (it does not keep Node from exiting) and later benches in the
// same process reuse it. That is only the same adapter as ours if the GPU object is the same:
// gpu.ts hands out one per process, and a different one is refused here.
import type * as JaxNamespace from '@jax-js/jax';
import type { Array as JaxArray } from '@jax-js/jax';
import { isReadback, type RunResult } from './suite.js';
import { installWebGPUGlobals } from './webgpu-globals.js';

export type Jax = typeof JaxNamespace;

export interface JaxPeer {
  jax: Jax;
  version: string;
  /** Reads a run's result back (each output summed to a scalar first, unless it has one element). */
  read(r: RunResult<JaxArray>): Promise<void>;
  /** Waits until the GPU has completed everything jax-js submitted. */
  sync(): Promise<void>;
  /** Restores the default device and removes the globals installed for it. */
  dispose(): void;
}

/** The GPU object jax-js's WebGPU backend drew its device from, once started. */
let startedOn: GPU | null = null;

async function importJax(): Promise<Jax> {
  try {
    return await import('@jax-js/jax');
  } catch (e) {
    throw new Error(`--compare jax needs @jax-js/jax (a devDependency; run \`npm install\`): ${(e as Error).message}`);
  }
}

async function jaxVersion(): Promise<string> {
  try {
    const { createRequire } = await import('node:module');
    const { readFileSync } = await import('node:fs');
    const { dirname, join } = await import('node:path');
    const entry = createRequire(import.meta.url).resolve('@jax-js/jax');
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    // Bundled (the GPU kit): no package.json beside it.
    return 'bundled';
  }
}

export async function createJaxPeer(gpu: GPU): Promise<JaxPeer> {
  if (startedOn && startedOn !== gpu)
    throw new Error('--compare jax: jax-js already started its WebGPU backend on another GPU object in this process, and it cannot be restarted');
  // jax-js reads navigator.gpu once, at init; its kernels use GPUBufferUsage etc. at every run.
  const uninstall = installWebGPUGlobals(gpu);
  try {
    const jax = await importJax();
    const available = await jax.init('webgpu');
    if (!available.includes('webgpu')) throw new Error('jax-js could not start its webgpu backend on this adapter');
    startedOn = gpu;
    const previous = jax.defaultDevice();
    jax.defaultDevice('webgpu');
    const device = jax.getWebGPUDevice();
    return {
      jax,
      version: await jaxVersion(),
      async read(r) {
        if (isReadback(r)) {
          await r.readback();
          return;
        }
        const outs = Array.isArray(r) ? (r as readonly JaxArray[]) : [r as JaxArray];
        // data() submits the array's pending work (a jitted call's whole program) and consumes it.
        await Promise.all(outs.map((a) => (a.size === 1 ? a : a.sum()).data()));
      },
      sync: () => device.queue.onSubmittedWorkDone(),
      dispose() {
        jax.defaultDevice(previous);
        uninstall();
      },
    };
  } catch (e) {
    uninstall();
    throw e;
  }
}

/**
 * jax-js's conv nets on a CPU rasteriser (lavapipe, SwiftShader), measured on lavapipe with 2
 * cores under load (the image Langevin step of image-langevin.ts, jitted): a one-time jit compile
 * of about 2 minutes (the same at batch 8 and 128), then 3-5 s per step at batch 128 and about
 * 0.25 s at batch 8, i.e. the calls themselves are that slow (their time scales with the batch;
 * nothing is recompiled): about 0.06 GFLOP/s.
 */
export const JAX_CONV_CPU_GFLOPS = 0.06;
/** The longest jax-js conv run (projected at that rate) the bench waits for on a CPU adapter. */
export const JAX_CONV_CPU_BUDGET_S = 60;

/**
 * Why a conv case's jax-js side is not timed here (null: it is): on a CPU adapter, a run
 * projected from its FLOPs at JAX_CONV_CPU_GFLOPS to take over JAX_CONV_CPU_BUDGET_S, unless
 * EBM_BENCH_JAX_CONV=1 asks for it anyway. On a GPU every case runs.
 */
export function jaxConvSkipReason(flops: number, adapter: string): string | null {
  if (typeof process !== 'undefined' && process.env.EBM_BENCH_JAX_CONV === '1') return null;
  if (!/llvmpipe|lavapipe|swiftshader/i.test(adapter)) return null;
  const seconds = flops / (JAX_CONV_CPU_GFLOPS * 1e9);
  if (seconds <= JAX_CONV_CPU_BUDGET_S) return null;
  return `jax-js skipped: ~${Math.round(seconds)} s a run here (its conv steps: ~${JAX_CONV_CPU_GFLOPS} GFLOP/s on this CPU adapter after a ~2 min jit compile); EBM_BENCH_JAX_CONV=1 times it`;
}
