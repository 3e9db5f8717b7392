// The default device. Ops are synchronous (they only record GPU work), but finding a device
// is not, so `init()` must have resolved before the first tensor is made.
import { acquireDevice, type DeviceOptions } from '../kernels/device.js';
import { Runtime } from '../kernels/runtime.js';

let defaultRuntime: Runtime | null = null;
let pending: Promise<Runtime> | null = null;

/** Creates an independent device (tensors on it cannot be mixed with the default device's). */
export async function createDevice(opts: DeviceOptions = {}): Promise<Runtime> {
  const rt = new Runtime(await acquireDevice(opts));
  try {
    // Compile every shader once so a WGSL error surfaces here, with file and line, not as a
    // silent validation error at the first dispatch.
    await rt.pipelines.validateAll();
  } catch (e) {
    rt.destroy();
    throw e;
  }
  return rt;
}

/**
 * Finds a WebGPU device and makes it the default. Safe to call more than once; after the
 * default device was lost it makes a fresh one (the lost one's tensors stay unusable).
 */
export async function init(opts: DeviceOptions = {}): Promise<Runtime> {
  if (defaultRuntime && !defaultRuntime.isDestroyed && !defaultRuntime.isLost) return defaultRuntime;
  // Release the lost device's GPU instance (Node would not exit while it lives); its tensors
  // keep saying it was lost.
  if (defaultRuntime?.isLost) defaultRuntime.destroy();
  pending ??= createDevice(opts).then(
    (rt) => ((defaultRuntime = rt), (pending = null), rt),
    (e) => {
      pending = null;
      throw e;
    },
  );
  return pending;
}

export function getDevice(): Runtime {
  if (defaultRuntime?.isLost)
    throw new Error('webgpu-ebm: the default GPU device was lost; `await ebm.init()` makes a fresh one (then recreate the tensors and model, e.g. from a checkpoint)');
  if (!defaultRuntime || defaultRuntime.isDestroyed)
    throw new Error('webgpu-ebm: no WebGPU device yet; `await ebm.init()` before creating tensors');
  return defaultRuntime;
}

/** Releases the default device (Node keeps running while a Dawn device is alive). */
export function shutdown(): void {
  defaultRuntime?.destroy();
  defaultRuntime = null;
}
