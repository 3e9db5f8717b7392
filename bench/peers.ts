// The peers `--compare` can time against ours, behind one interface: each runs a case's
// workload in its own library, on a device from the same Dawn GPU object as ours, and reads
// its results back the same way ours are read (suite.ts).
import { createJaxPeer } from './jax-peer.js';
import type { BenchCase, RunResult, Workload } from './suite.js';
import { createTfjsPeer } from './tfjs-peer.js';

export const PEER_NAMES = ['tfjs', 'jax'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

export interface Peer {
  name: PeerName;
  /** What the report's header says of it: library, version, backend. */
  label: string;
  /** The case's workload in this library, or null where it has no equivalent. */
  workload(c: BenchCase): Workload<unknown> | null;
  /** Awaits the readback of a run's result. */
  read(r: RunResult<unknown>): Promise<void>;
  /** Waits until its device has completed everything submitted. */
  sync(): Promise<void>;
  /** Releases what it holds, so Node can exit. */
  dispose(): void;
}

export async function createPeer(name: PeerName, gpu: GPU): Promise<Peer> {
  if (name === 'tfjs') {
    const p = await createTfjsPeer(gpu);
    return {
      name,
      label: `tfjs ${p.version} (webgpu backend)`,
      workload: (c) => c.tfjs?.(p.tf) ?? null,
      read: (r) => p.read(r as Parameters<typeof p.read>[0]),
      sync: () => p.sync(),
      dispose: () => p.dispose(),
    };
  }
  const p = await createJaxPeer(gpu);
  return {
    name,
    label: `jax-js ${p.version} (webgpu backend, jit)`,
    workload: (c) => c.jax?.(p.jax) ?? null,
    read: (r) => p.read(r as Parameters<typeof p.read>[0]),
    sync: () => p.sync(),
    dispose: () => p.dispose(),
  };
}
