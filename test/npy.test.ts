// Users' own images: .npy (read by src/train/npy.ts) and .safetensors files holding [N, C, H, W]
// float32 / float64 / uint8, into f32 images in [-1, 1]; and every refusal naming the file, what
// it holds and what is allowed. The files are made here, byte by byte, as NumPy writes them
// (np.save's header dict, padded to a 64-byte boundary), so the test needs no Python.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm } from './helpers.js';

beforeAll(async () => {
  await device();
});

/** A .npy file as NumPy 1.x writes it: magic, version, u16 header length, the dict, the data. */
function npy(descr: string, shape: number[], data: Uint8Array, opts: { fortran?: boolean; version?: number } = {}): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  const version = opts.version ?? 1;
  const lenBytes = version === 1 ? 2 : 4;
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': (${dims}), }`;
  const total = Math.ceil((8 + lenBytes + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 8 - lenBytes - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[8 + lenBytes + i] = header.charCodeAt(i);
  out.set(data, total);
  return out;
}

const bytesOf = (a: Float32Array | Float64Array) => new Uint8Array(a.buffer);
const dir = mkdtempSync(join(tmpdir(), 'mnist-npy-'));

describe('parseNpy', () => {
  test('float32, float64 and uint8, versions 1 and 2; serializeNpy round-trips', () => {
    const f = Float32Array.from({ length: 24 }, (_, i) => i / 24 - 0.5);
    expect(ebm.parseNpy(npy('<f4', [2, 1, 3, 4], bytesOf(f)))).toEqual({ dtype: 'f4', shape: [2, 1, 3, 4], data: f });
    const d = Float64Array.from(f, (v) => v + 1e-9);
    const p = ebm.parseNpy(npy('<f8', [2, 3, 2, 2], bytesOf(d), { version: 2 }));
    expect(p.shape).toEqual([2, 3, 2, 2]);
    expect(p.data).toEqual(Float32Array.from(d));
    const u = Uint8Array.from({ length: 8 }, (_, i) => i * 30);
    expect(ebm.parseNpy(npy('|u1', [2, 1, 2, 2], u)).data).toEqual(u);
    expect(ebm.parseNpy(ebm.serializeNpy(f, [2, 1, 3, 4]))).toEqual({ dtype: 'f4', shape: [2, 1, 3, 4], data: f });
    expect(ebm.parseNpy(ebm.serializeNpy(u, [8])).shape).toEqual([8]);
    // NumPy's alignment rule: the data start on a 64-byte boundary.
    expect((ebm.serializeNpy(f, [24]).length - 96) % 64).toBe(0);
  });

  test('refusals name the file and what is allowed', () => {
    const f = bytesOf(new Float32Array(8));
    expect(() => ebm.parseNpy(new Uint8Array(20), 'a.npy')).toThrow(/^a\.npy: not a \.npy file/);
    expect(() => ebm.parseNpy(npy('>f4', [8], f), 'b.npy')).toThrow(/^b\.npy: dtype '>f4' is not supported: save the images as little-endian float32 \('<f4'\), float64 \('<f8'\) or uint8 \('\|u1'\)/);
    expect(() => ebm.parseNpy(npy('<i8', [1], f), 'c.npy')).toThrow(/dtype '<i8' is not supported/);
    expect(() => ebm.parseNpy(npy('<f4', [2, 4], f, { fortran: true }), 'd.npy')).toThrow(/^d\.npy: is in Fortran order; save a C-order array/);
    const whole = npy('<f4', [8], f);
    expect(() => ebm.parseNpy(whole.subarray(0, whole.length - 4), 'e.npy')).toThrow(/^e\.npy: truncated: shape \(8\) of <f4 needs 32 data bytes, the file has 28/);
    expect(() => ebm.parseNpy(whole.subarray(0, 40), 'f.npy')).toThrow(/^f\.npy: truncated: its header says/);
    const extra = new Uint8Array(whole.length + 4);
    extra.set(whole);
    expect(() => ebm.parseNpy(extra, 'g.npy')).toThrow(/^g\.npy: has 4 bytes after its \(8\) <f4 data/);
  });
});

describe('loadImages / loadImageDataset', () => {
  test('a uint8 .npy file maps bytes p to p / 127.5 - 1; a float32 one is taken as it is', async () => {
    const u = Uint8Array.from({ length: 2 * 3 * 4 * 4 }, (_, i) => (i * 7) % 256);
    const path = join(dir, 'u8.npy');
    writeFileSync(path, npy('|u1', [2, 3, 4, 4], u));
    const set = await ebm.loadImageDataset(path);
    expect(set.images.shape).toEqual([2, 3, 4, 4]);
    expect(set.range).toEqual({ min: -1, max: 1 });
    const x = await set.images.data();
    for (let i = 0; i < u.length; i++) expect(x[i]).toBeCloseTo(u[i]! / 127.5 - 1, 6);
    const f = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const fpath = join(dir, 'f32.npy');
    writeFileSync(fpath, npy('<f4', [1, 1, 4, 4], bytesOf(f)));
    const g = await ebm.loadImages(fpath);
    expect(await g.images.data()).toEqual(f);
    set.images.dispose();
    g.images.dispose();
  });

  test('a .safetensors file: its one tensor, or the one named images, F32 or U8', async () => {
    const f = Float32Array.from({ length: 2 * 1 * 2 * 2 }, (_, i) => i / 8);
    const one = ebm.serializeSafetensors(new Map([['x', { dtype: 'F32', shape: [2, 1, 2, 2], data: f }]]));
    const a = await ebm.loadImages(one, { name: 'one.safetensors' });
    expect(await a.images.data()).toEqual(f);
    const two = ebm.serializeSafetensors(
      new Map([
        ['labels', { dtype: 'F32', shape: [2], data: new Float32Array(2) }],
        ['images', { dtype: 'F32', shape: [2, 1, 2, 2], data: f }],
      ]),
    );
    const b = await ebm.loadImages(two, { name: 'two.safetensors' });
    expect(b.images.shape).toEqual([2, 1, 2, 2]);
    const path = join(dir, 'two.safetensors');
    writeFileSync(path, two);
    const c = await ebm.loadImages(path, { key: 'images' });
    expect(await c.images.data()).toEqual(f);
    for (const s of [a, b, c]) s.images.dispose();
  });

  test('refusals: rank, dtype, range, format, names', async () => {
    const flat = npy('<f4', [4, 4], bytesOf(new Float32Array(16)));
    await expect(ebm.loadImages(flat, { name: 'flat.npy' })).rejects.toThrow(
      /^flat\.npy: holds a float32 array of shape \[4, 4\]; expected an \[N, C, H, W\] array of float32 or uint8/,
    );
    const big = npy('<f4', [1, 1, 1, 2], bytesOf(Float32Array.of(0.5, 3)));
    await expect(ebm.loadImages(big, { name: 'big.npy' })).rejects.toThrow(/^big\.npy: float images must lie in \[-1, 1\].*these span \[0\.5, 3\]; rescale them, or save uint8 0\.\.255/);
    const nan = npy('<f4', [1, 1, 1, 2], bytesOf(Float32Array.of(0.5, NaN)));
    await expect(ebm.loadImages(nan, { name: 'nan.npy' })).rejects.toThrow(/^nan\.npy: element 1 of the float32 \[1, 1, 1, 2\] images is NaN/);
    const i32 = ebm.serializeSafetensors(new Map([['images', { dtype: 'F16', shape: [1, 1, 1, 2], data: new Float32Array(2) }]]));
    await expect(ebm.loadImages(i32, { name: 'h.safetensors' })).rejects.toThrow(/^h\.safetensors: tensor 'images' is F16 \[1, 1, 1, 2\]; expected an \[N, C, H, W\] tensor of F32 or U8/);
    const many = ebm.serializeSafetensors(
      new Map([
        ['a', { dtype: 'F32', shape: [1], data: new Float32Array(1) }],
        ['b', { dtype: 'F32', shape: [1], data: new Float32Array(1) }],
      ]),
    );
    await expect(ebm.loadImages(many, { name: 'm.safetensors' })).rejects.toThrow(/^m\.safetensors: holds 2 tensors \(a, b\); name the images 'images' or pass \{ key \}/);
    await expect(ebm.loadImages(many, { name: 'm.safetensors', key: 'c' })).rejects.toThrow(/^m\.safetensors: has no tensor 'c'/);
    await expect(ebm.loadImages(new Uint8Array(4), { name: 'x.png' })).rejects.toThrow(/x\.png: cannot tell the format; images load from \.npy or \.safetensors files/);
    await expect(ebm.loadImageDataset('cifar10')).rejects.toThrow(/'cifar10' is neither an image dataset \(mnist\) nor a \.npy \/ \.safetensors file/);
    await expect(ebm.loadImageDataset(join(dir, 'missing.npy'))).rejects.toThrow(/loadImages: could not read '.*missing\.npy'/);
  });
});
