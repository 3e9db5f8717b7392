// Wrapper for cast.wgsl: f32 <-> f16 (packed in u32 words, so no shader-f16 is needed).
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import { elementChunks, needsWindows, windowAt } from './binding-window.js';

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
  const spec = to === 'f16' ? TO_F16 : TO_F32;
  const invocations = (count: number) => (to === 'f16' ? Math.ceil(count / 2) : count);
  if (!needsWindows(rt, n * 4, src, dst)) {
    rt.dispatch(spec, [src, dst, { n }], { workgroups: rt.grid(Math.ceil(invocations(n) / 256)) });
    return;
  }
  // Over one binding: the same chunk of elements in both (an aligned start in f32 and f16 bytes).
  const [f32, f16] = to === 'f16' ? [src, dst] : [dst, src];
  for (const [s, e] of elementChunks(rt, n, [4, 2], 2)) {
    const wide = windowAt(rt, f32, s * 4, e * 4).arg;
    const half = windowAt(rt, f16, s * 2, e * 2).arg;
    rt.dispatch(spec, to === 'f16' ? [wide, half, { n: e - s }] : [half, wide, { n: e - s }], { workgroups: rt.grid(Math.ceil(invocations(e - s) / 256)) });
  }
}
