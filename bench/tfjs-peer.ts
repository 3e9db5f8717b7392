// TensorFlow.js's WebGPU backend as the peer, on a GPU object we hand it. tfjs expects a
// browser: it finds the GPU at navigator.gpu, registers its backend only if that exists when
// the backend module is first imported, and uses the WebGPU globals (GPUBufferUsage, ...)
// by name. All of that is installed for the duration of the bench and removed afterwards
// (webgpu-globals.ts), because Node does not exit while anything still references Dawn.
import type * as TfNamespace from '@tensorflow/tfjs';
import type { Tensor } from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { isReadback, type RunResult } from './suite.js';
import { installWebGPUGlobals } from './webgpu-globals.js';

export type Tf = typeof TfNamespace;

export interface TfjsPeer {
  tf: Tf;
  version: string;
  /** Reads a run's result back (each output summed to a scalar first, unless it has one element). */
  read(r: RunResult<Tensor>): Promise<void>;
  /** Submits tfjs's pending commands and waits until the GPU has completed them. */
  sync(): Promise<void>;
  /** Disposes the backend, destroys its device and removes the globals installed for it. */
  dispose(): void;
}

// tfjs registers its backend factory once per process, at import; removeBackend() forgets it.
// Keep it so a second peer in the same process (the tests run two) can register it again.
let webgpuFactory: ReturnType<Tf['findBackendFactory']> | null = null;

async function importTfjs(): Promise<Tf> {
  let mod: Tf & { default?: Tf };
  try {
    // The full package: importing tfjs-core alone registers no gradients.
    mod = (await import('@tensorflow/tfjs')) as Tf & { default?: Tf };
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new Error(
      `--compare tfjs needs @tensorflow/tfjs and @tensorflow/tfjs-backend-webgpu (devDependencies; run \`npm install\`): ${(e as Error).message}`,
    );
  }
  // tfjs's Node build is CommonJS; depending on how Node sees its exports they sit on default.
  return typeof mod.matMul === 'function' ? mod : mod.default!;
}

export async function createTfjsPeer(gpu: GPU): Promise<TfjsPeer> {
  const uninstall = installWebGPUGlobals(gpu);
  try {
    const tf = await importTfjs();
    webgpuFactory ??= tf.findBackendFactory('webgpu');
    if (!webgpuFactory) throw new Error('tfjs did not register its webgpu backend (navigator.gpu was missing when it was imported)');
    if (!tf.findBackendFactory('webgpu')) tf.registerBackend('webgpu', webgpuFactory, 3);
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not initialise its webgpu backend');
    const be = tf.backend() as WebGPUBackend;
    return {
      tf,
      version: tf.version.tfjs,
      async read(r) {
        if (isReadback(r)) {
          await r.readback();
          return;
        }
        const outs = Array.isArray(r) ? (r as readonly Tensor[]) : [r as Tensor];
        const small = outs.map((t) => (t.size === 1 ? t : tf.sum(t)));
        for (const t of outs) if (!small.includes(t)) t.dispose();
        await Promise.all(small.map((t) => t.data()));
        tf.dispose(small);
      },
      async sync() {
        // What tfjs's own readback does before mapping its staging buffer, minus the copy:
        // close the open compute pass, submit, and wait for the queue.
        be.ensureCommandEncoderReady();
        be.endComputePassEncoder();
        be.submitQueue();
        await be.device.queue.onSubmittedWorkDone();
      },
      dispose() {
        tf.removeBackend('webgpu');
        // tfjs's dispose() frees its buffers but leaves the device alive, which keeps Node up.
        be.device.destroy();
        uninstall();
      },
    };
  } catch (e) {
    uninstall();
    throw e;
  }
}
