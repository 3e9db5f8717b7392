// Seeded randomness on the host, for choices made in JavaScript rather than on the GPU (batch
// orders, replay-buffer rows, a page's minibatches, test inputs). The GPU's streams are Philox
// (shaders/philox.wgsl); this is the one CPU generator, so the same seed gives the same choices
// wherever they are made.

/**
 * mulberry32: a small, fast 32-bit generator of floats in [0, 1). Its whole state is one u32
 * (`state`), so a caller can save and restore it to resume a stream exactly.
 */
export class Mulberry32 {
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }
}

/** A mulberry32 stream as a function: each call gives the next float in [0, 1). */
export function mulberry32(seed: number): () => number {
  const g = new Mulberry32(seed);
  return () => g.next();
}

/** A uniformly shuffled 0..n-1 (Fisher-Yates, drawing from `random`). */
export function permutation(n: number, random: () => number): Uint32Array {
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
