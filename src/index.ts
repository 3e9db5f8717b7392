// webgpu-ebm: energy-based models on WebGPU. One entry point for the browser and Node.
export * from './tensor/index.js';
export { Runtime, type RuntimeStats } from './kernels/runtime.js';
export type { DeviceInfo, DeviceOptions } from './kernels/device.js';
export { formatCompilationMessages } from './kernels/pipeline-cache.js';
export * from './nn/index.js';
// nn's spectralNorm(module | weight, ...) also serves the tensor op's calls; it resolves the name clash of the two star exports.
export { spectralNorm } from './nn/index.js';
export * from './train/index.js';
