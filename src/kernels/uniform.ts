// Packs a kernel's uniform block. The WGSL structs put four 32-bit scalars per 16-byte row
// first, then arrays of vec4<u32>; this writer follows the same order.
export class UniformWriter {
  private readonly u32: Uint32Array;
  private readonly f32: Float32Array;
  private at = 0;

  constructor(words: number) {
    const buf = new ArrayBuffer(Math.ceil(words / 4) * 16);
    this.u32 = new Uint32Array(buf);
    this.f32 = new Float32Array(buf);
  }

  u(...values: number[]): this {
    for (const v of values) this.u32[this.at++] = v >>> 0;
    return this;
  }

  f(...values: number[]): this {
    for (const v of values) this.f32[this.at++] = v;
    return this;
  }

  /** Pads to the next 16-byte row. */
  row(): this {
    this.at = Math.ceil(this.at / 4) * 4;
    return this;
  }

  /** An array<vec4u, len/4> of unsigned ints, zero-padded. */
  vec(values: readonly number[], len = 8): this {
    this.row();
    if (values.length > len) throw new Error(`uniform array of ${values.length} exceeds ${len} slots`);
    for (let i = 0; i < len; i++) this.u32[this.at++] = (values[i] ?? 0) >>> 0;
    return this;
  }

  bytes(): Uint32Array {
    return this.u32;
  }
}

