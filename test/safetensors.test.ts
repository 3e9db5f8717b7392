// Checkpoints in safetensors: byte-identical to Python's safetensors (the reference file from
// scripts/make_safetensors_fixtures.py), bit-exact round trips through GPU tensors, bytes and
// files, the temporary-name-and-rename write, every malformed file rejected before a tensor is
// made, and loading into a module (strict and not). The script also loads the files written
// here into PyTorch: WRITE_FIXTURES=1 regenerates them, otherwise they must still match.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Tensor } from '../src/index.js';
import { nodeFileIO, writeFileAtomic, type FileIO } from '../src/nn/checkpoint-io.js';
import { f16ToF32, f32BitsToF16Bits, fromLittleEndian } from '../src/nn/float-bits.js';
import { parseSafetensors, serializeSafetensors, toFloat16Bits, toFloat32, type RawTensor, type TensorEntry } from '../src/nn/safetensors-format.js';
import { device, ebm } from './helpers.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const refBytes = new Uint8Array(readFileSync(join(FIXTURES, 'safetensors-reference.safetensors')));
const ref = parseSafetensors(refBytes);
const WRITTEN_METADATA = { written_by: 'webgpu-ebm test/safetensors.test.ts' };

beforeAll(async () => {
  await device();
});

/** Asserts two byte strings are identical, naming the first differing byte. */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i < n || actual.length !== expected.length)
    expect.fail(`${what}: ${actual.length} bytes against ${expected.length}; first difference at byte ${i} (${actual[i]} vs ${expected[i]})`);
}

const raw = (name: string): RawTensor => ref.tensors.get(name)!;
const halves = (t: RawTensor) => fromLittleEndian(t.bytes, Uint16Array);
const u32 = (f: Float32Array) => new Uint32Array(f.buffer, f.byteOffset, f.length);

/** A reference tensor as serializer input: F32 values or F16/BF16 bits, exactly as in the file. */
function entryOf(t: RawTensor): TensorEntry {
  return { dtype: t.dtype as TensorEntry['dtype'], shape: t.shape, data: t.dtype === 'F32' ? toFloat32(t) : halves(t) };
}

/** Bits equal except where the expected value is NaN, where the actual must be NaN too (torch writes one canonical NaN). */
function expectSameBitsOrNaN(actual: Uint16Array, expected: Uint16Array, isNaN: (b: number) => boolean, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++)
    if (isNaN(expected[i]!)) expect(isNaN(actual[i]!), `${what}[${i}] is NaN`).toBe(true);
    else expect(actual[i], `${what}[${i}]`).toBe(expected[i]);
}
const f16IsNaN = (b: number) => (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0;
const bf16IsNaN = (b: number) => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;

/** A file with a hand-written header (an object, or raw JSON text) and body. */
function rawFile(header: object | string | Uint8Array, body: number | Uint8Array = 0, headerLength?: number): Uint8Array {
  const json = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const b = typeof body === 'number' ? new Uint8Array(body) : body;
  const out = new Uint8Array(8 + json.length + b.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(b, 8 + json.length);
  return out;
}

const live = () => ebm.memory().liveTensors;

function disposeAll(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

/** The reference's tensors whose dtype webgpu-ebm keeps as is (F32 -> f32, F16 -> f16), on the GPU. */
async function gpuStateDict(): Promise<Map<string, Tensor>> {
  const { tensors } = await ebm.readSafetensors(refBytes);
  for (const [name, t] of tensors)
    if (raw(name).dtype === 'BF16') {
      t.dispose();
      tensors.delete(name);
    }
  return tensors;
}

describe('serializeSafetensors', () => {
  test("writes Python's reference file byte for byte: sorted by dtype then name, padded to 8, same escapes", () => {
    expect(ref.metadata).toEqual({ format: 'pt' });
    // Insertion order must not matter: reversed here.
    const entries = new Map([...ref.tensors].reverse().map(([name, t]) => [name, entryOf(t)] as const));
    const ours = serializeSafetensors(entries, ref.metadata);
    expectSameBytes(ours, refBytes, 'serializer output');
    expect(Number(new DataView(ours.buffer).getBigUint64(0, true)) % 8).toBe(0);
  });

  test('matches the bytes pinned by the safetensors crate’s own tests', () => {
    // safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement, test_empty.
    const f32 = Float32Array.from([0, 1, 2, 3, 4, 5]);
    const one = (name: string, shape: number[]) => serializeSafetensors(new Map([[name, { dtype: 'F32', shape, data: f32 }]]));
    const header = (json: string, pad: number) => [...new TextEncoder().encode(json), ...Array(pad).fill(32)];
    const body = [...new Uint8Array(f32.buffer)];
    expect([...one('attn.0', [1, 2, 3])]).toEqual([64, 0, 0, 0, 0, 0, 0, 0, ...header('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', 0), ...body]);
    expect([...one('attn0', [1, 1, 2, 3])]).toEqual([72, 0, 0, 0, 0, 0, 0, 0, ...header('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}', 7), ...body]);
    expect([...serializeSafetensors(new Map())]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect([...serializeSafetensors(new Map(), { framework: 'pt' })]).toEqual([40, 0, 0, 0, 0, 0, 0, 0, ...header('{"__metadata__":{"framework":"pt"}}', 5)]);
  });

  test('round-trips f32, f16 and bf16 bits: NaN payloads, infinities, -0, subnormals', () => {
    const names = ['specials.f32', 'specials.f16', 'specials.bf16', 'scalar', 'empty', 'half.empty'];
    const back = parseSafetensors(serializeSafetensors(new Map(names.map((n) => [n, entryOf(raw(n))]))));
    for (const n of names) {
      expect(back.tensors.get(n)!.dtype, n).toBe(raw(n).dtype);
      expect(back.tensors.get(n)!.shape, n).toEqual(raw(n).shape);
      expectSameBytes(back.tensors.get(n)!.bytes, raw(n).bytes, n);
    }
    // Decoding is bit-exact too: f32 NaN payloads survive toFloat32, f16 survives the widening.
    expect([...u32(toFloat32(raw('specials.f32')))]).toEqual([...new Uint32Array(raw('specials.f32').bytes.slice().buffer)]);
    expect([...u32(f16ToF32(halves(raw('specials.f16'))))].map(f32BitsToF16Bits)).toEqual([...halves(raw('specials.f16'))]);
    expect(toFloat32(raw('specials.f16'))[8]).toBe(1023 * 2 ** -24);
  });

  test('rounds f32 values to f16 and bf16 like torch .half() and .bfloat16()', () => {
    const values = toFloat32(raw('rounding.f32'));
    const back = parseSafetensors(serializeSafetensors(new Map<string, TensorEntry>([
      ['h', { dtype: 'F16', shape: [values.length], data: values }],
      ['b', { dtype: 'BF16', shape: [values.length], data: values }],
    ])));
    expectSameBitsOrNaN(halves(back.tensors.get('h')!), halves(raw('rounding.as_f16')), f16IsNaN, 'f16');
    expectSameBitsOrNaN(halves(back.tensors.get('b')!), halves(raw('rounding.as_bf16')), bf16IsNaN, 'bf16');
  });

  test.each([
    ['an F32 tensor given bits', new Map([['w', { dtype: 'F32', shape: [2], data: new Uint16Array(2) }]]), undefined, /tensor 'w': F32 data must be a Float32Array/],
    ['a length that disagrees with the shape', new Map([['w', { dtype: 'F16', shape: [2, 3], data: new Uint16Array(5) }]]), undefined, /tensor 'w' has shape \[2, 3\] \(6 elements\) but 5 values/],
    ['an unwritable dtype', new Map([['w', { dtype: 'F64', shape: [1], data: new Float32Array(1) }]]), undefined, /tensor 'w': cannot write dtype "F64"/],
    ['a bad shape', new Map([['w', { dtype: 'F32', shape: [-1], data: new Float32Array(1) }]]), undefined, /tensor 'w' has an invalid shape \[-1\]/],
    ['a tensor named __metadata__', new Map([['__metadata__', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]]), undefined, /'__metadata__' is reserved/],
    ['metadata that is not a string', new Map(), { n: 3 }, /metadata 'n' must be a string, got number/],
  ])('rejects %s', (_what, tensors, metadata, message) => {
    expect(() => serializeSafetensors(tensors as Map<string, TensorEntry>, metadata as unknown as Record<string, string>)).toThrow(message);
  });
});

// A module stand-in that behaves as src/nn/module.ts's Module does: stateDict() hands out its
// own tensors, loadStateDict copies into them (strict: every key and shape must match, or
// nothing loads) and reports what it skipped.
class StandIn {
  readonly params = new Map<string, Tensor>();
  constructor(spec: Record<string, { shape: number[]; dtype?: 'f32' | 'f16' }>) {
    for (const [name, { shape, dtype = 'f32' }] of Object.entries(spec)) this.params.set(name, ebm.zeros(shape, { dtype }));
  }
  stateDict(): Map<string, Tensor> {
    return new Map(this.params);
  }
  loadStateDict(dict: Map<string, Tensor>, { strict }: { strict: boolean }) {
    const missingKeys = [...this.params.keys()].filter((k) => !dict.has(k));
    const unexpectedKeys = [...dict.keys()].filter((k) => !this.params.has(k));
    const shapeOf = (t: Tensor) => `[${t.shape.join(', ')}]`;
    const mismatched = [...dict]
      .filter(([k, t]) => this.params.has(k) && shapeOf(t) !== shapeOf(this.params.get(k)!))
      .map(([key, t]) => ({ key, expected: [...this.params.get(key)!.shape], received: [...t.shape] }));
    if (strict && (missingKeys.length || unexpectedKeys.length || mismatched.length))
      throw new Error(`loadStateDict: missing [${missingKeys}], unexpected [${unexpectedKeys}], wrongly shaped [${mismatched.map((m) => m.key)}]`);
    for (const [k, t] of dict) if (this.params.has(k) && !mismatched.some((m) => m.key === k)) this.params.get(k)!.assign(t);
    return { missingKeys, unexpectedKeys, mismatched };
  }
  dispose(): void {
    for (const t of this.params.values()) t.dispose();
  }
}

/** A tensor's bytes as stored in a checkpoint (f16: its raw halves). */
async function storedBytes(t: Tensor): Promise<Uint8Array> {
  return parseSafetensors(await ebm.saveSafetensors({ t })).tensors.get('t')!.bytes;
}

describe('malformed files are rejected before any tensor is made', () => {
  // A valid file to corrupt: 'a' F32 [2, 3] at [0, 24], 'b' F16 [4] at [24, 32].
  const good = serializeSafetensors(new Map<string, TensorEntry>([
    ['a', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
    ['b', { dtype: 'F16', shape: [4], data: Float32Array.from([1, 2, 3, 4]) }],
  ]));
  const a = (offsets: number[], extra: object = {}) => ({ a: { dtype: 'F32', shape: [2, 3], data_offsets: offsets }, ...extra });
  const cases: [string, Uint8Array, RegExp][] = [
    ['a truncated body', good.subarray(0, good.length - 3), /tensor 'b' ends at byte 32 but the body has 29 bytes \(truncated file\?\)/],
    ['a file too short for the header length', good.subarray(0, 5), /file is 5 bytes, too short for the 8-byte header length/],
    ['a header length past the end of the file', rawFile(a([0, 24]), 24, 5000), /header length 5000 runs past the end of the \d+-byte file/],
    ['an oversized header', rawFile('{}', 0, 200_000_000), /header length 200000000 exceeds the 100000000-byte limit/],
    ['a header length beyond 2^53', rawFile('{}', 0, Number.MAX_SAFE_INTEGER), /header length 9007199254740991 exceeds/],
    ['bad JSON', rawFile('{"a": {"dtype": "F32",', 0), /header is not valid JSON/],
    ['a header that is not UTF-8', rawFile(Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d), 0), /header is not valid UTF-8/],
    ['a header that is not an object', rawFile('[1, 2]'), /header must be a JSON object/],
    ['an unknown dtype', rawFile({ a: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, 4), /tensor 'a' has unknown dtype "F8_E4M3"/],
    ['an integer dtype', rawFile({ n: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8), /tensor 'n' has dtype I64; only floating-point tensors/],
    ['offsets that lie about the length', rawFile(a([0, 20]), 20), /tensor 'a' \(F32 \[2, 3\]\) needs 24 bytes but its data_offsets \[0, 20\] span 20/],
    ['reversed offsets', rawFile(a([24, 0]), 24), /tensor 'a' has invalid data_offsets \[24,0\]/],
    ['overlapping tensors', rawFile(a([0, 24], { b: { dtype: 'F32', shape: [2], data_offsets: [16, 24] } }), 24), /tensors 'a' and 'b' overlap: 'b' starts at byte 16 but 'a' ends at byte 24/],
    ['a gap before a tensor', rawFile(a([8, 32]), 32), /tensor 'a' starts at byte 8 but the data before it ends at byte 0 \(a gap of 8 bytes\)/],
    ['trailing bytes', rawFile(a([0, 24]), 30), /the body has 30 bytes but the tensors cover only 24/],
    ['offsets past the end of the body', rawFile(a([0, 24]), 16), /tensor 'a' ends at byte 24 but the body has 16 bytes/],
    ['an invalid shape', rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), /tensor 'a' has an invalid shape \[-1\]/],
    ['a shape too large to address', rawFile({ a: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 0] } }), /tensor 'a' has shape \[1073741824, 1073741824, 1073741824\], too many elements/],
    ['non-string metadata', rawFile({ __metadata__: { epoch: 3 } }), /__metadata__.epoch must be a string, got 3/],
    ['an entry that is not an object', rawFile({ a: 7 }), /entry 'a' must be an object/],
  ];

  test.each(cases)('%s', async (_what, bytes, message) => {
    const module = new StandIn({ a: { shape: [2, 3] }, b: { shape: [4], dtype: 'f16' } });
    const before = live();
    const full = (m: RegExp) => new RegExp(`^safetensors: ${m.source}`);
    await expect(ebm.readSafetensors(bytes)).rejects.toThrow(full(message));
    await expect(ebm.loadSafetensors(module, bytes)).rejects.toThrow(full(message));
    await expect(ebm.loadSafetensors(module, bytes, { strict: false })).rejects.toThrow(full(message));
    expect(live()).toBe(before);
    expect([...(await module.params.get('a')!.data())]).toEqual([0, 0, 0, 0, 0, 0]);
    module.dispose();
  });

  test('the uncorrupted file loads', async () => {
    const module = new StandIn({ a: { shape: [2, 3] }, b: { shape: [4], dtype: 'f16' } });
    await ebm.loadSafetensors(module, good);
    expect([...(await module.params.get('b')!.data())]).toEqual([1, 2, 3, 4]);
    module.dispose();
  });
});

describe('GPU tensors round-trip bit-exactly', () => {
  test('f32 and f16 tensors through saveSafetensors and readSafetensors (bytes)', async () => {
    const before = live();
    const dict = await gpuStateDict();
    for (const [name, t] of dict) expect(t.dtype, name).toBe(raw(name).dtype === 'F16' ? 'f16' : 'f32');
    const want = serializeSafetensors(new Map([...dict.keys()].map((n) => [n, entryOf(raw(n))])), { format: 'pt' });
    const bytes = await ebm.saveSafetensors(dict, undefined, { metadata: { format: 'pt' } });
    expectSameBytes(bytes, want, 'saved bytes');
    // And again after a second trip through the GPU.
    const again = await ebm.readSafetensors(bytes);
    expect(again.metadata).toEqual({ format: 'pt' });
    expectSameBytes(await ebm.saveSafetensors(again.tensors, undefined, { metadata: again.metadata }), want, 'second trip');
    disposeAll(dict);
    disposeAll(again.tensors);
    expect(live()).toBe(before);
  });

  test('bf16 values through f32 tensors and back (dtype: bf16)', async () => {
    const names = ['specials.bf16', 'bf16.weight'];
    const { tensors } = await ebm.readSafetensors(refBytes);
    const dict = new Map(names.map((n) => [n, tensors.get(n)!]));
    expect(dict.get('specials.bf16')!.dtype).toBe('f32');
    const back = parseSafetensors(await ebm.saveSafetensors(dict, undefined, { dtype: 'bf16' }));
    for (const n of names) {
      expect(back.tensors.get(n)!.dtype).toBe('BF16');
      expectSameBytes(back.tensors.get(n)!.bytes, raw(n).bytes, n);
    }
    disposeAll(tensors);
  });

  test('the dtype option converts: f32 to f16 rounds like torch, f16 to f32 widens exactly', async () => {
    const { tensors } = await ebm.readSafetensors(refBytes);
    const asF16 = parseSafetensors(await ebm.saveSafetensors({ x: tensors.get('rounding.f32')! }, undefined, { dtype: 'f16' }));
    expectSameBitsOrNaN(halves(asF16.tensors.get('x')!), halves(raw('rounding.as_f16')), f16IsNaN, 'f32 -> f16');
    const asF32 = parseSafetensors(await ebm.saveSafetensors({ x: tensors.get('specials.f16')! }, undefined, { dtype: 'f32' })).tensors.get('x')!;
    expect(asF32.dtype).toBe('F32');
    expect([...toFloat16Bits(asF32)]).toEqual([...halves(raw('specials.f16'))]);
    disposeAll(tensors);
  });

  test('readSafetensors takes an ArrayBuffer or a Blob, and can make every tensor f16', async () => {
    const fromBuffer = await ebm.readSafetensors(refBytes.slice().buffer);
    const fromBlob = await ebm.readSafetensors(new Blob([refBytes]));
    const asF16 = await ebm.readSafetensors(refBytes, { dtype: 'f16' });
    for (const [name, t] of fromBlob.tensors) {
      expectSameBytes(await storedBytes(t), await storedBytes(fromBuffer.tensors.get(name)!), name);
      expect(asF16.tensors.get(name)!.dtype).toBe('f16');
    }
    expectSameBytes(await storedBytes(asF16.tensors.get('network.0.weight')!), new Uint8Array(toFloat16Bits(raw('network.0.weight')).buffer), 'F32 read as f16');
    for (const r of [fromBuffer, fromBlob, asF16]) disposeAll(r.tensors);
  });

  test('bad sources and bad state dicts are named', async () => {
    await expect(ebm.readSafetensors(42 as unknown as Uint8Array)).rejects.toThrow(/readSafetensors: expected a file path, a Uint8Array, an ArrayBuffer or a Blob, got number/);
    await expect(ebm.readSafetensors(join(tmpdir(), 'no-such-dir', 'x.safetensors'))).rejects.toThrow(/readSafetensors: could not read '.*x\.safetensors': ENOENT/);
    await expect(ebm.saveSafetensors({ w: [1, 2] as unknown as Tensor })).rejects.toThrow(/saveSafetensors: 'w' is not a Tensor \(got object\)/);
    const t = ebm.zeros([2]);
    t.dispose();
    await expect(ebm.saveSafetensors({ w: t })).rejects.toThrow(/'w'.*has been disposed/);
    const u = ebm.zeros([2]);
    await expect(ebm.saveSafetensors({ u }, undefined, { dtype: 'f64' as 'f32' })).rejects.toThrow(/unknown dtype 'f64'/);
    u.dispose();
    await expect(ebm.loadSafetensors({} as StandIn, refBytes)).rejects.toThrow(/loadSafetensors: expected a module with stateDict\(\) and loadStateDict\(\)/);
  });
});

describe('files: a temporary name and a rename', () => {
  const scratch = () => mkdtempSync(join(tmpdir(), 'ebm-ckpt-'));

  test('saves to a path, leaves only the checkpoint, and loads back bit-exact', async () => {
    const dir = scratch();
    const path = join(dir, 'model.safetensors');
    const dict = await gpuStateDict();
    await expect(ebm.saveSafetensors(dict, path, { metadata: { step: '10' } })).resolves.toBeUndefined();
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    const want = await ebm.saveSafetensors(dict, undefined, { metadata: { step: '10' } });
    expectSameBytes(new Uint8Array(readFileSync(path)), want, 'file');
    const back = await ebm.readSafetensors(path);
    expect(back.metadata).toEqual({ step: '10' });
    expectSameBytes(await ebm.saveSafetensors(back.tensors, undefined, { metadata: back.metadata }), want, 'read back');
    // Overwriting replaces the old file whole.
    await ebm.saveSafetensors({ w: dict.get('scalar')! }, path);
    expect([...parseSafetensors(new Uint8Array(readFileSync(path))).tensors.keys()]).toEqual(['w']);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    disposeAll(dict);
    disposeAll(back.tensors);
  });

  /** The real file system, except that writing the temporary file dies half-way. */
  async function dyingIO(onWrite: (tmp: string) => void): Promise<FileIO> {
    const real = await nodeFileIO();
    return {
      ...real,
      async writeNew(tmp, bytes) {
        onWrite(tmp);
        await real.writeNew(tmp, bytes.subarray(0, bytes.length >> 1));
        throw new Error('ENOSPC: no space left on device (simulated)');
      },
    };
  }

  test('a write that fails part-way leaves no file and no temporary file', async () => {
    const dir = scratch();
    const path = join(dir, 'model.safetensors');
    let tmp = '';
    const io = await dyingIO((t) => (tmp = t));
    await expect(writeFileAtomic(path, refBytes, io)).rejects.toThrow(/saveSafetensors: could not write '.*model\.safetensors': ENOSPC/);
    expect(tmp.startsWith(`${path}.`) && tmp.endsWith('.tmp')).toBe(true); // same folder, not *.safetensors
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a write that fails part-way leaves the previous checkpoint untouched', async () => {
    const dir = scratch();
    const path = join(dir, 'model.safetensors');
    const old = serializeSafetensors(new Map([['old', { dtype: 'F32', shape: [1], data: Float32Array.of(1) }]]));
    writeFileSync(path, old);
    const io = await dyingIO(() => {
      // While the new bytes are being written, the target still holds the old checkpoint.
      expectSameBytes(new Uint8Array(readFileSync(path)), old, 'target during the write');
    });
    await expect(writeFileAtomic(path, refBytes, io)).rejects.toThrow(/ENOSPC/);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expectSameBytes(new Uint8Array(readFileSync(path)), old, 'target after the failed write');
  });

  test('a rename that fails (the target is a folder) removes the temporary file', async () => {
    const dir = scratch();
    const target = join(dir, 'model.safetensors');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    const w = ebm.zeros([3]);
    await expect(ebm.saveSafetensors({ w }, target)).rejects.toThrow(/saveSafetensors: could not write '.*model\.safetensors': E(ISDIR|NOTEMPTY|EXIST)/);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect(readdirSync(target)).toEqual(['keep']);
    w.dispose();
  });
});

describe('loadSafetensors into a module', () => {
  test('strict: converts to each parameter’s dtype (F32 -> f16 rounds like torch, F16 and BF16 -> f32 exactly)', async () => {
    const module = new StandIn({
      'network.0.weight': { shape: [4, 3] },
      'rounding.f32': { shape: [125], dtype: 'f16' },
      'half.weight': { shape: [3, 5] },
      'bf16.weight': { shape: [2, 3] },
      'specials.f16': { shape: [14], dtype: 'f16' },
    });
    const names = [...module.params.keys()];
    const file = serializeSafetensors(new Map(names.map((n) => [n, entryOf(raw(n))])));
    const before = live();
    const result = await ebm.loadSafetensors(module, file);
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [], mismatched: [] });
    expect(live()).toBe(before); // the tensors made for loading are gone
    const p = (n: string) => module.params.get(n)!;
    expectSameBytes(await storedBytes(p('network.0.weight')), raw('network.0.weight').bytes, 'f32 <- F32');
    expectSameBitsOrNaN(new Uint16Array((await storedBytes(p('rounding.f32'))).slice().buffer), halves(raw('rounding.as_f16')), f16IsNaN, 'f16 <- F32');
    expect([...u32(await p('half.weight').data())]).toEqual([...u32(toFloat32(raw('half.weight')))]);
    expect([...u32(await p('bf16.weight').data())]).toEqual([...u32(toFloat32(raw('bf16.weight')))]);
    expectSameBytes(await storedBytes(p('specials.f16')), raw('specials.f16').bytes, 'f16 <- F16, NaN payloads and subnormals');
    module.dispose();
  });

  test('F64 tensors load with a cast to f32', async () => {
    const values = [0.1, 1 / 3, -2.5e-40, 1e300, -0];
    const file = rawFile({ w: { dtype: 'F64', shape: [5], data_offsets: [0, 40] } }, new Uint8Array(Float64Array.from(values).buffer));
    const module = new StandIn({ w: { shape: [5] } });
    await ebm.loadSafetensors(module, file);
    expect([...u32(await module.params.get('w')!.data())]).toEqual([...u32(Float32Array.from(values))]);
    module.dispose();
  });

  test('strict: missing, unexpected or mis-shaped keys fail with the module’s message, and nothing loads', async () => {
    const file = serializeSafetensors(new Map([
      ['a', { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) }],
      ['b', { dtype: 'F32', shape: [3], data: Float32Array.of(3, 4, 5) }],
      ['extra', { dtype: 'F32', shape: [1], data: Float32Array.of(6) }],
    ]));
    const module = new StandIn({ a: { shape: [2] }, b: { shape: [2] }, gone: { shape: [1] } });
    const before = live();
    await expect(ebm.loadSafetensors(module, file)).rejects.toThrow('loadStateDict: missing [gone], unexpected [extra], wrongly shaped [b]');
    expect(live()).toBe(before);
    expect([...(await module.params.get('a')!.data())]).toEqual([0, 0]);
    // Non-strict: loads what matches and reports the rest.
    const result = await ebm.loadSafetensors(module, file, { strict: false });
    expect(result).toEqual({ missingKeys: ['gone'], unexpectedKeys: ['extra'], mismatched: [{ key: 'b', expected: [2], received: [3] }] });
    expect([...(await module.params.get('a')!.data())]).toEqual([1, 2]);
    expect([...(await module.params.get('b')!.data())]).toEqual([0, 0]);
    expect(live()).toBe(before);
    module.dispose();
  });

  test('from a path and from a Blob', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebm-ckpt-'));
    const path = join(dir, 'm.safetensors');
    const src = new StandIn({ w: { shape: [2, 2] }, h: { shape: [3], dtype: 'f16' } });
    const w = ebm.tensor([[1, -2], [3.5, 1e-40]]);
    const h = ebm.tensor([0.5, -0, 65504], { dtype: 'f16' });
    src.params.get('w')!.assign(w);
    src.params.get('h')!.assign(h);
    await ebm.saveSafetensors(src, path);
    for (const source of [path, new Blob([readFileSync(path)])]) {
      const dst = new StandIn({ w: { shape: [2, 2] }, h: { shape: [3], dtype: 'f16' } });
      await ebm.loadSafetensors(dst, source);
      for (const n of ['w', 'h']) expectSameBytes(await storedBytes(dst.params.get(n)!), await storedBytes(src.params.get(n)!), n);
      dst.dispose();
    }
    for (const t of [w, h]) t.dispose();
    src.dispose();
  });
});

test('a real Module (Linear) saves and loads: PyTorch key names, strict shape checks', async () => {
  const src = new ebm.Linear(3, 4);
  const bytes = await ebm.saveSafetensors(src);
  expect([...parseSafetensors(bytes).tensors.keys()].sort()).toEqual(['bias', 'weight']);
  const dst = new ebm.Linear(3, 4);
  const before = live();
  expect(await ebm.loadSafetensors(dst, bytes)).toEqual({ missingKeys: [], unexpectedKeys: [], mismatched: [] });
  expect(live()).toBe(before);
  expectSameBytes(await ebm.saveSafetensors(dst), bytes, 'reloaded Linear');
  const wrong = new ebm.Linear(3, 5);
  await expect(ebm.loadSafetensors(wrong, bytes)).rejects.toThrow(/size mismatch for "weight": expected shape \[5, 3\], received \[4, 3\]/);
  expect(live()).toBe(before + 2);
  for (const m of [src, dst, wrong]) m.dispose();
});

describe('the files PyTorch loads (scripts/make_safetensors_fixtures.py checks them)', () => {
  const regenerate = process.env.WRITE_FIXTURES === '1';

  /** With WRITE_FIXTURES=1 writes the file (through the path API); otherwise it must not have changed. */
  async function writtenFile(file: string, dict: Map<string, Tensor>, dtype?: 'bf16'): Promise<void> {
    const path = join(FIXTURES, file);
    const bytes = await ebm.saveSafetensors(dict, undefined, { metadata: WRITTEN_METADATA, dtype });
    if (regenerate) await ebm.saveSafetensors(dict, path, { metadata: WRITTEN_METADATA, dtype });
    expect(existsSync(path), `${file} is committed (make it with WRITE_FIXTURES=1)`).toBe(true);
    expectSameBytes(new Uint8Array(readFileSync(path)), bytes, file);
  }

  test('written-by-webgpu-ebm.safetensors: every F32 and F16 reference tensor through GPU tensors', async () => {
    const dict = await gpuStateDict();
    await writtenFile('written-by-webgpu-ebm.safetensors', dict);
    disposeAll(dict);
  });

  test('written-by-webgpu-ebm-bf16.safetensors: f32 tensors saved as bf16', async () => {
    const { tensors } = await ebm.readSafetensors(refBytes);
    await writtenFile('written-by-webgpu-ebm-bf16.safetensors', new Map([
      ['rounding.as_bf16', tensors.get('rounding.f32')!],
      ['specials.bf16', tensors.get('specials.bf16')!],
    ]), 'bf16');
    disposeAll(tensors);
  });
});
