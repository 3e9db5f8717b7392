// Blocks of chains for the MCMC kernels (mala.ts, hmc.ts) when their state is over one binding:
// each block binds windows of its chains' rows, and the chain table ([rows, chains]: energy,
// accepted, counts), whose rows a block touches in strided columns, goes through a compact
// scratch copy [rows, block] copied in before the block's dispatch and back after it.
import { elementChunks, windowAt, windowBytes } from './binding-window.js';
import type { BufferWindow, PooledBuffer, Runtime } from './runtime.js';

/**
 * Blocks [c0, c1) of `chains` chains of `dim` floats whose rows, per-chain values and chain-table
 * columns (`tableRows` floats a chain) each fit one window and start on an aligned byte offset
 * (so c0 * dim is a multiple of 4: a Philox call's four elements never straddle blocks). `op`
 * names the op in the refusal of chains too long for the smallest block.
 */
export function chainBlocks(rt: Runtime, op: string, chains: number, dim: number, tableRows: number): [number, number][] {
  // A block starts on an aligned chain: the fewest chains a block may hold.
  const least = rt.bindingAlignment / 4;
  const bytes = least * Math.max(dim, tableRows, 1) * 4;
  if (bytes > windowBytes(rt))
    throw new Error(
      `${op}: ${least} chains of ${dim} floats (${bytes} bytes, the fewest a block of chains over one binding may hold) are over this device's binding window of ${windowBytes(rt)} bytes (maxStorageBufferBindingSize ${rt.maxBindingSize}). Use chains of fewer dims.`,
    );
  return elementChunks(rt, chains, [dim * 4, 4, tableRows * 4]);
}

/** The window of `b` holding `per` floats a chain for chains [c0, c1). */
export function rowsWindow(rt: Runtime, b: PooledBuffer, per: number, c0: number, c1: number): BufferWindow {
  return windowAt(rt, b, c0 * per * 4, c1 * per * 4).arg;
}

/** A compact [rows, most] scratch chain table for blocks of at most `most` chains. */
export class ChainTableScratch {
  readonly buffer: PooledBuffer;

  constructor(
    private readonly rt: Runtime,
    private readonly table: PooledBuffer,
    private readonly chains: number,
    private readonly rows: readonly number[],
    most: number,
  ) {
    this.buffer = rt.allocate(Math.max(...rows, 0) * most * 4 + most * 4, 'chain table block');
  }

  /** Runs `dispatch(chainsInBlock)` with rows `rows` of the table's columns [c0, c1) at row k * (c1 - c0) of the scratch. */
  run(c0: number, c1: number, dispatch: () => void): void {
    const b = c1 - c0;
    for (const k of this.rows) this.rt.copy(this.table, (k * this.chains + c0) * 4, this.buffer, k * b * 4, b * 4);
    dispatch();
    for (const k of this.rows) this.rt.copy(this.buffer, k * b * 4, this.table, (k * this.chains + c0) * 4, b * 4);
  }

  dispose(): void {
    this.rt.free(this.buffer);
  }
}
