// The browser globals the WebGPU peers expect, installed on Node for the duration of a bench:
// `navigator.gpu` (our Dawn GPU object, so each peer draws its device from the same adapter as
// ours), `navigator.userAgent` (both libraries sniff it) and Dawn's WebGPU constants
// (GPUBufferUsage, GPUMapMode, ...) by name. Each install returns its own uninstall; peers
// remove them in the reverse order they installed them, so nesting restores what was there,
// and Node can exit afterwards (a global reference to Dawn's GPU object keeps it alive).
import { globals } from 'webgpu';

/** A Chrome-like user agent: jax-js tunes kernels by it and tfjs checks it for mobile. */
const userAgentFallback = `Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Node.js/${process.versions.node}`;

export function installWebGPUGlobals(gpu: GPU): () => void {
  const added: string[] = [];
  const g = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(globals)) {
    if (name in g) continue;
    g[name] = value;
    added.push(name);
  }
  const navDesc = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  // Newer Node has a navigator of its own: keep its userAgent, add the GPU.
  const userAgent = String((g.navigator as { userAgent?: unknown } | undefined)?.userAgent ?? userAgentFallback);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent }, configurable: true, writable: true });
  return () => {
    for (const name of added) delete g[name];
    if (navDesc) Object.defineProperty(globalThis, 'navigator', navDesc);
    else delete g.navigator;
  };
}
