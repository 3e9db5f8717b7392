// webgpu-ebm: energy-based models on WebGPU. One entry point for the browser and Node.
export * from './tensor/index.js';
export { Runtime, type RuntimeStats } from './kernels/runtime.js';
export type { DeviceInfo, DeviceOptions } from './kernels/device.js';
export { formatCompilationMessages } from './kernels/pipeline-cache.js';
