// Wrapper for cast.wgsl: f32 <-> f16 (packed in u32 words, so no shader-f16 is needed).
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';

const bindings = [
  { name: 'src', kind: 'read-only-storage' },
  { name: 'dst', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
] as const;
const TO_F16: KernelSpec = { shader: 'cast.wgsl', entry: 'to_f16', bindings };
const TO_F32: KernelSpec = { shader: 'cast.wgsl', entry: 'to_f32', bindings };

/** Bytes an f16 tensor of n elements occupies: whole vec4<f16>s, so kernels may load 4 at once. */
export function f16Bytes(n: number): number {
  return Math.ceil(n / 4) * 8;
}

export function castKernel(rt: Runtime, to: 'f16' | 'f32', src: PooledBuffer, dst: PooledBuffer, n: number): void {
  const invocations = to === 'f16' ? Math.ceil(n / 2) : n;
  rt.dispatch(to === 'f16' ? TO_F16 : TO_F32, [src, dst, { n }], { workgroups: rt.grid(Math.ceil(invocations / 256)) });
}
