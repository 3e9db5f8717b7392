// WebGPU's flag values, fixed by the spec. Used instead of the GPUBufferUsage / GPUMapMode /
// GPUShaderStage globals, which Dawn for Node does not install and which do not exist at
// module-evaluation time before a device is found.
export const BufferUsage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
export const MapMode = { READ: 0x1 } as const;
export const ShaderStage = { COMPUTE: 0x4 } as const;
