// Writes a kernel's uniform block by field name, from the struct layout wgsl_reflect reads out
// of the WGSL: each member's offset and scalar type come from the shader, so reordering or
// retyping a struct member cannot silently feed a kernel wrong numbers. The layout is built
// once per shader (the pipeline cache holds it); writing is a few typed-array stores into one
// scratch block, which the runtime copies or looks up in its uniform cache before the next write.
import type { TypeInfo, VariableInfo } from 'wgsl_reflect/wgsl_reflect.module.js';

/** A member's value: a number for a scalar, a list for a vector or an array (shorter lists are zero-padded). */
export type UniformValue = number | ArrayLike<number>;

/**
 * The fields of a uniform struct by their WGSL names (e.g. `{ n, seed_lo, shape }`): every
 * member must be given except padding (`_pad*`), which stays zero, and no other name.
 */
export type UniformValues = Readonly<Record<string, UniformValue>>;

type Scalar = 'u32' | 'i32' | 'f32';

interface Field {
  readonly name: string;
  /** The member's WGSL type, for messages. */
  readonly type: string;
  readonly scalar: Scalar;
  /** The 32-bit word of each scalar the member holds, in order (one for a scalar member). */
  readonly words: readonly number[];
  /** Non-null for a scalar member: its one word. */
  readonly word: number | null;
}

const PADDING = /^_pad/;

/** A vector or scalar type as (scalar, lanes); null for anything else. */
function scalarType(t: TypeInfo): { scalar: Scalar; lanes: number } | null {
  const name = t.name;
  if (name === 'u32' || name === 'i32' || name === 'f32') return { scalar: name, lanes: 1 };
  const short = /^vec([234])([uif])$/.exec(name);
  if (short) return { scalar: `${short[2]!}32` as Scalar, lanes: Number(short[1]) };
  // vec4<u32> is a template whose format is the component type.
  const long = /^vec([234])$/.exec(name);
  const format = (t as { format?: TypeInfo | null }).format;
  if (long && format && (format.name === 'u32' || format.name === 'i32' || format.name === 'f32')) return { scalar: format.name, lanes: Number(long[1]) };
  return null;
}

export class UniformLayout {
  /** Bytes of the block (the struct's size). */
  readonly size: number;
  private readonly fields: readonly Field[];
  private readonly byName: ReadonlyMap<string, Field>;
  private readonly padding: ReadonlySet<string>;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly f32: Float32Array;
  private readonly bytes: Uint8Array;
  /** `file: uniform 'params' (struct Params)`, which starts every error (and names a preamble that declares the struct). */
  private readonly label: string;

  /**
   * @param where the shader the struct is read from, named in every error
   * @param variable the reflected `var<uniform>` whose struct type is laid out
   * @param structFile the file that declares the struct, when a preamble does
   */
  constructor(where: string, variable: VariableInfo, structFile?: string) {
    const struct = variable.type;
    const label = `${where}: uniform '${variable.name}' (struct ${struct.getTypeName()}${structFile && structFile !== where ? ` in ${structFile}` : ''})`;
    this.label = label;
    if (!struct.isStruct) throw new Error(`${where}: uniform '${variable.name}' is a ${struct.getTypeName()}, not a struct; only struct uniforms are written by field name`);
    const fields: Field[] = [];
    const padding = new Set<string>();
    for (const m of variable.members ?? []) {
      if (PADDING.test(m.name)) {
        padding.add(m.name);
        continue;
      }
      const words: number[] = [];
      const scalar = this.collect(`${label}: field '${m.name}'`, m.type, m.offset, words);
      fields.push({ name: m.name, type: m.type.getTypeName(), scalar, words, word: m.type.isArray || words.length > 1 ? null : words[0]! });
    }
    this.size = variable.size;
    this.fields = fields;
    this.byName = new Map(fields.map((f) => [f.name, f]));
    this.padding = padding;
    const buffer = new ArrayBuffer(Math.ceil(this.size / 16) * 16);
    this.u32 = new Uint32Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.f32 = new Float32Array(buffer);
    this.bytes = new Uint8Array(buffer, 0, this.size);
  }

  /** The member names a caller must give, in struct order. */
  get names(): string[] {
    return this.fields.map((f) => f.name);
  }

  /**
   * Writes `values` into the scratch block and returns it; the view is overwritten by the next
   * write, so use (copy or upload) it first.
   */
  write(values: UniformValues): Uint8Array {
    const { fields, u32, i32, f32 } = this;
    // Every field is required below, so an equal count means no unknown name was given.
    let given = 0;
    for (const _ in values) given++;
    if (given !== fields.length) this.checkNames(values);
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const v = values[f.name];
      if (f.word !== null) {
        if (typeof v !== 'number') throw this.error(f, v === undefined ? 'is not given' : `is a ${f.type}; got ${describe(v)}`);
        if (f.scalar === 'f32') f32[f.word] = v;
        else if (f.scalar === 'u32') {
          if (v >>> 0 !== v) throw this.error(f, `is a u32; got ${v}`);
          u32[f.word] = v;
        } else {
          if ((v | 0) !== v) throw this.error(f, `is an i32; got ${v}`);
          i32[f.word] = v;
        }
        continue;
      }
      if (v === undefined || typeof v === 'number' || typeof v.length !== 'number')
        throw this.error(f, v === undefined ? 'is not given' : `is a ${f.type}; got ${describe(v)}, not a list`);
      const words = f.words;
      if (v.length > words.length) throw this.error(f, `(${f.type}) holds ${words.length} ${f.scalar} values; got ${v.length}`);
      for (let j = 0; j < words.length; j++) {
        const x = j < v.length ? v[j]! : 0;
        if (f.scalar === 'f32') f32[words[j]!] = x;
        else if (f.scalar === 'u32') {
          if (x >>> 0 !== x) throw this.error(f, `(${f.type}) holds u32 values; got ${x} at [${j}]`);
          u32[words[j]!] = x;
        } else {
          if ((x | 0) !== x) throw this.error(f, `(${f.type}) holds i32 values; got ${x} at [${j}]`);
          i32[words[j]!] = x;
        }
      }
    }
    return this.bytes;
  }

  /** Lists every word of a member of type `t` at byte `offset`; returns its scalar type. */
  private collect(label: string, t: TypeInfo, offset: number, words: number[]): Scalar {
    const s = scalarType(t);
    if (s) {
      for (let lane = 0; lane < s.lanes; lane++) words.push(offset / 4 + lane);
      return s.scalar;
    }
    if (t.isArray) {
      const a = t as TypeInfo & { format: TypeInfo; count: number; stride: number };
      if (!(a.count > 0)) throw new Error(`${label}: a ${t.getTypeName()} has no fixed length`);
      let scalar: Scalar | null = null;
      for (let i = 0; i < a.count; i++) scalar = this.collect(label, a.format, offset + i * a.stride, words);
      return scalar!;
    }
    throw new Error(`${label}: type ${t.getTypeName()} cannot be written by field name (u32, i32, f32, their vectors and arrays of those can)`);
  }

  /** Throws for a name that is not a field (or is padding); returns if every name is one. */
  private checkNames(values: UniformValues): void {
    for (const name in values) {
      if (this.byName.has(name)) continue;
      if (this.padding.has(name)) throw new Error(`${this.label}: field '${name}' is padding; leave it out (it stays zero)`);
      throw new Error(`${this.label}: no field '${name}' (fields: ${this.names.join(', ')})`);
    }
  }

  private error(f: Field, what: string): Error {
    return new Error(`${this.label}: field '${f.name}' ${what}`);
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.join(', ')}]`;
  return String(v);
}
