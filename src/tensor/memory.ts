// memory(): what a device holds, for leak tests and for users watching a training loop.
import type { Runtime } from '../kernels/runtime.js';
import { getDevice } from './context.js';
import { liveTensorCount } from './tensor.js';

export interface MemoryInfo {
  /** Tensors created and not yet disposed (views count once each). */
  liveTensors: number;
  /** Bytes of GPU buffers held by live tensors (buffers are rounded up to a size class). */
  liveBytes: number;
  /** Bytes of released buffers kept for reuse, including those waiting for the GPU to finish. */
  pooledBytes: number;
  /** The highest liveBytes so far. */
  peakBytes: number;
}

export function memory(device: Runtime = getDevice()): MemoryInfo {
  return { liveTensors: liveTensorCount(device), liveBytes: device.liveBytes, pooledBytes: device.pool.pooledBytes, peakBytes: device.peakBytes };
}
