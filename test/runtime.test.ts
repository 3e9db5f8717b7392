// The GPU runtime: device features, the no-adapter error, WGSL errors with file and line, the
// wrapper/shader binding check, uniforms written by field name, one shader module per shader,
// deferred submission, the buffer pool's reuse rule, the uniform and pipeline caches, and the
// one-buffer-in-and-out guard.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferPool, sizeClass } from '../src/kernels/buffer-pool.js';
import { BufferUsage } from '../src/kernels/gpu-flags.js';
import { PipelineCache, type KernelSpec } from '../src/kernels/pipeline-cache.js';
import { WANTED_FEATURES } from '../src/kernels/device.js';
import { caught, device, ebm, expectClose, rejection } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

/** What unary.wgsl declares, as src/kernels/elementwise.ts binds it. */
const UNARY: KernelSpec = {
  shader: 'unary.wgsl',
  preamble: 'activations.wgsl',
  entry: 'main',
  bindings: [
    { name: 'x', kind: 'read-only-storage' },
    { name: 'y', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

const unaryParams = (n: number, p0 = 0, p1 = 0) => ({ n, p0, p1 });

describe('device', () => {
  it('init() returns one runtime and exposes the features it got', async () => {
    expect(await ebm.init()).toBe(rt);
    expect(ebm.getDevice()).toBe(rt);
    const { info } = rt;
    // info.features is exactly the wanted features the device was created with.
    for (const f of WANTED_FEATURES) expect(info.features.has(f), f).toBe(rt.device.features.has(f));
    expect([...info.features].every((f) => (WANTED_FEATURES as readonly string[]).includes(f))).toBe(true);
    expect(info.description.length).toBeGreaterThan(0);
    expect(info.isSoftware).toBe(/llvmpipe|lavapipe|swiftshader|software/i.test(info.description));
    if (info.isSoftware) {
      // The CPU test machine: Mesa's lavapipe offers all three, with 8-lane subgroups.
      expect(info.description).toMatch(/llvmpipe/i);
      expect(info.features.has('shader-f16')).toBe(true);
      expect(info.features.has('timestamp-query')).toBe(true);
      expect(info.features.has('subgroups')).toBe(true);
      expect(info.subgroupMinSize).toBeGreaterThanOrEqual(8);
    }
  });

  it('no adapter: the error says how to get one', async () => {
    const calls: unknown[] = [];
    const fakeGpu = {
      requestAdapter: async (opts?: unknown) => {
        calls.push(opts);
        return null;
      },
    } as unknown as GPU;
    const err = await rejection(ebm.createDevice({ gpu: fakeGpu, powerPreference: 'high-performance' }));
    expect(calls).toEqual([{ powerPreference: 'high-performance' }]);
    expect(err.message).toMatch(/no WebGPU adapter found/);
    expect(err.message).toMatch(/lavapipe/);
    expect(err.message).toMatch(/apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1/);
    expect(err.message).toMatch(/XDG_RUNTIME_DIR/);
    // The failed attempt did not replace the default device.
    expect(ebm.getDevice()).toBe(rt);
  });
});

describe('WGSL errors', () => {
  // Broken WGSL is compiled on a device of its own: today it also raises an uncaptured
  // validation error that poisons the runtime it was compiled on (known defect, below).
  let wrt: ebm.Runtime;
  beforeAll(async () => {
    wrt = await ebm.createDevice();
  });
  afterAll(() => {
    wrt?.destroy();
  });

  const broken = [
    '// a deliberately broken shader',
    '@group(0) @binding(0) var<storage, read_write> out: array<f32>;',
    '@compute @workgroup_size(1)',
    'fn main() {',
    '  out[0] = 1.0 + missing_value;',
    '}',
    '',
  ].join('\n');

  it('a compile error names the file and line, and quotes the source line with a caret', async () => {
    const err = await rejection(wrt.pipelines.validate('broken.wgsl', broken));
    expect(err.message).toMatch(/^WGSL compilation failed:/);
    expect(err.message).toMatch(/broken\.wgsl:5:\d+: error: .*missing_value/);
    expect(err.message).toContain('out[0] = 1.0 + missing_value;');
    // The caret sits under the column the compiler reported.
    const lines = err.message.split('\n');
    const at = lines.findIndex((l) => l.includes('out[0] = 1.0 + missing_value;'));
    const col = Number(/broken\.wgsl:5:(\d+):/.exec(err.message)![1]);
    expect(lines[at + 1]!.indexOf('^') - lines[at]!.indexOf('out[0]')).toBe(col - 3);
    expect(lines[at]!.slice(lines[at + 1]!.indexOf('^'))).toMatch(/^missing_value/);
  });

  it('a syntax error on another line reports that line', async () => {
    const src = ['@compute @workgroup_size(1)', 'fn main() {', '  let a = 1', '  let b = 2;', '}'].join('\n');
    const err = await rejection(wrt.pipelines.validate('syntax.wgsl', src));
    expect(err.message).toMatch(/syntax\.wgsl:[34]:\d+: error: /);
    expect(err.message).toMatch(/let [ab] = [12]/);
  });

  it('validateAll names the broken file among several, and valid shaders pass', async () => {
    const good = ['@compute @workgroup_size(1)', 'fn main() {}', ''].join('\n');
    await new PipelineCache(wrt.device, { 'good.wgsl': good }).validate('good.wgsl');
    const err = await rejection(new PipelineCache(wrt.device, { 'good.wgsl': good, 'bad.wgsl': broken }).validateAll());
    expect(err.message).toMatch(/bad\.wgsl:5:/);
    expect(err.message).not.toMatch(/good\.wgsl/);
    // Every shipped shader compiles on this device.
    await rt.pipelines.validateAll();
  });

  it('validating a broken shader does not poison the device it was compiled on', async () => {
    const err = await rejection(wrt.pipelines.validate('broken.wgsl', broken));
    expect(err.message).toMatch(/broken\.wgsl:5:/);
    const x = ebm.tensor([1, -2, 3], { device: wrt });
    expect(Array.from(await x.abs().data())).toEqual([1, 2, 3]);
  });

  it('formatCompilationMessages formats file:line:col, the source line and a caret', () => {
    const msg = ebm.formatCompilationMessages('f.wgsl', 'a\nbb bad\nc', [
      { type: 'error', message: 'nope', lineNum: 2, linePos: 4, offset: 5, length: 3 } as GPUCompilationMessage,
    ]);
    expect(msg).toBe('f.wgsl:2:4: error: nope\n    bb bad\n       ^');
  });
});

describe('binding check', () => {
  const src = [
    'override WG: u32 = 64u;',
    'struct Params { n: u32, scale: f32, _a: u32, _b: u32 }',
    '@group(0) @binding(0) var<storage, read> x: array<f32>;',
    '@group(0) @binding(1) var<storage, read_write> y: array<f32>;',
    '@group(0) @binding(2) var<uniform> params: Params;',
    '@compute @workgroup_size(WG)',
    'fn main(@builtin(global_invocation_id) id: vec3u) {',
    '  if (id.x < params.n) { y[id.x] = x[id.x] * params.scale; }',
    '}',
    '',
  ].join('\n');
  const good: KernelSpec = {
    shader: 'k.wgsl',
    entry: 'main',
    bindings: [
      { name: 'x', kind: 'read-only-storage' },
      { name: 'y', kind: 'storage' },
      { name: 'params', kind: 'uniform' },
    ],
  };
  const cache = () => new PipelineCache(rt.device, { 'k.wgsl': src });
  const withBindings = (bindings: KernelSpec['bindings']): KernelSpec => ({ ...good, bindings });

  it('a spec that matches the WGSL compiles once and is cached', () => {
    const c = cache();
    const p = c.get(good);
    expect(c.compiled).toBe(1);
    expect(c.get(good)).toBe(p);
    expect(c.compiled).toBe(1);
    expect(p.uniforms[2]!.size).toBe(16);
    expect(p.uniforms[2]!.names).toEqual(['n', 'scale', '_a', '_b']);
    expect(p.uniforms[0]).toBeUndefined();
    expect(c.get(good, { WG: 1 }).pipeline).not.toBe(p.pipeline);
    expect(c.compiled).toBe(2);
  });

  it('a binding name that disagrees names the shader, the binding and both names', () => {
    const err = caught(() => cache().get(withBindings([{ name: 'input', kind: 'read-only-storage' }, good.bindings[1]!, good.bindings[2]!])));
    expect(err.message).toBe("k.wgsl (entry 'main'): @group(0) @binding(0) is 'x' (read-only-storage) in WGSL but the wrapper binds 'input' (read-only-storage)");
  });

  it('a binding kind that disagrees (read-only vs read_write vs uniform) names both kinds', () => {
    const ro = caught(() => cache().get(withBindings([good.bindings[0]!, { name: 'y', kind: 'read-only-storage' }, good.bindings[2]!])));
    expect(ro.message).toMatch(/^k\.wgsl \(entry 'main'\): @group\(0\) @binding\(1\) is 'y' \(storage\) in WGSL but the wrapper binds 'y' \(read-only-storage\)/);
    const rw = caught(() => cache().get(withBindings([{ name: 'x', kind: 'storage' }, good.bindings[1]!, good.bindings[2]!])));
    expect(rw.message).toMatch(/@binding\(0\) is 'x' \(read-only-storage\) in WGSL but the wrapper binds 'x' \(storage\)/);
    const uni = caught(() => cache().get(withBindings([good.bindings[0]!, good.bindings[1]!, { name: 'params', kind: 'storage' }])));
    expect(uni.message).toMatch(/@binding\(2\) is 'params' \(uniform\) in WGSL but the wrapper binds 'params' \(storage\)/);
  });

  it('a binding count that disagrees names the missing or extra binding', () => {
    const fewer = caught(() => cache().get(withBindings(good.bindings.slice(0, 2))));
    expect(fewer.message).toBe("k.wgsl (entry 'main'): the shader declares 'params' at @group(0) @binding(2) but the wrapper does not bind it");
    const more = caught(() => cache().get(withBindings([...good.bindings, { name: 'z', kind: 'storage' }])));
    expect(more.message).toBe("k.wgsl (entry 'main'): the wrapper binds 'z' at @group(0) @binding(3) but the shader declares no such binding");
  });

  it('a missing entry point or an unknown shader is named', () => {
    expect(caught(() => cache().get({ ...good, entry: 'nope' })).message).toMatch(/^k\.wgsl \(entry 'nope'\): no @compute entry point named 'nope'/);
    expect(caught(() => cache().get({ ...good, shader: 'missing.wgsl' })).message).toMatch(/unknown shader 'missing\.wgsl' \(known: k\.wgsl\)/);
    expect(caught(() => cache().constValue('k.wgsl', 'OP_x')).message).toMatch(/^k\.wgsl: no `const OP_x` declared/);
  });

  it('every kernel wrapper in src/kernels agrees with its shader (exercised through the ops)', async () => {
    // Each op family dispatches through its wrapper's spec, which get() checks on first use.
    const x = ebm.tensor([[1, 2], [3, 4]]);
    const parts = [
      x.exp(), x.add(x), ebm.where(x.gt(2), x, 0), x.sum(0), x.matmul(x), x.T, x.slice(0, 1), x.indexSelect([1, 0]),
      ebm.rand([3], { seed: 1 }), ebm.arange(3),
    ];
    const s = parts.reduce((acc, t) => acc.add(t.sum()), ebm.zeros([]));
    expect(Number.isFinite(await s.item())).toBe(true);
  });
});

describe('uniforms by field name', () => {
  /** A shader whose uniform struct holds every kind of member a wrapper writes. */
  const shaderWith = (struct: string) =>
    [
      'override K: f32 = 1.0;',
      `struct Params { ${struct} }`,
      '@group(0) @binding(0) var<storage, read_write> y: array<f32>;',
      '@group(0) @binding(1) var<uniform> params: Params;',
      '@compute @workgroup_size(1)',
      'fn main() { y[0] = f32(params.n) + params.scale * K; }',
      '',
    ].join('\n');
  const MEMBERS = ['n: u32', 'scale: f32', 'offset: i32', '_pad0: u32', 'dims: vec4u', 'shape: array<vec4u, 2>', 'hs: array<vec4f, 2>', 'xy: vec2<f32>'];
  const spec: KernelSpec = { shader: 'u.wgsl', entry: 'main', bindings: [{ name: 'y', kind: 'storage' }, { name: 'params', kind: 'uniform' }] };
  const layoutOf = (members: readonly string[]) => new PipelineCache(rt.device, { 'u.wgsl': shaderWith(members.join(', ')) }).get(spec).uniforms[1]!;
  const values = { n: 7, scale: 0.5, offset: -3, dims: [1, 2, 3], shape: [4, 5, 6, 7, 8], hs: [0.25, -1, 2], xy: [9, 10] };

  /** Reads each field back from the written bytes at the offsets the WGSL gives it. */
  function readBack(bytes: Uint8Array, members: readonly string[]): Record<string, number | number[]> {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // WGSL's own layout rules for these member types: scalars align to 4, vec2 to 8, vec4 and arrays to 16.
    const out: Record<string, number | number[]> = {};
    let at = 0;
    for (const m of members) {
      const [name, type] = m.split(/:\s*/) as [string, string];
      const kind = /f32|vec\df/.test(type) ? 'f' : /i32/.test(type) ? 'i' : 'u';
      const words = type.startsWith('array') ? 8 : type.startsWith('vec4') ? 4 : type.startsWith('vec2') ? 2 : 1;
      at = Math.ceil(at / (words >= 4 ? 16 : words * 4)) * (words >= 4 ? 16 : words * 4);
      const get = (i: number) => (kind === 'f' ? view.getFloat32(at + 4 * i, true) : kind === 'i' ? view.getInt32(at + 4 * i, true) : view.getUint32(at + 4 * i, true));
      out[name] = words === 1 ? get(0) : Array.from({ length: words }, (_, i) => get(i));
      at += words * 4;
    }
    return out;
  }

  it('each value lands at its member offset with its member type, in any member order', () => {
    const expected = { n: 7, scale: 0.5, offset: -3, _pad0: 0, dims: [1, 2, 3, 0], shape: [4, 5, 6, 7, 8, 0, 0, 0], hs: [0.25, -1, 2, 0, 0, 0, 0, 0], xy: [9, 10] };
    const orders = [MEMBERS, [...MEMBERS].reverse(), [MEMBERS[5]!, MEMBERS[1]!, MEMBERS[7]!, MEMBERS[0]!, MEMBERS[6]!, MEMBERS[3]!, MEMBERS[2]!, MEMBERS[4]!]];
    for (const order of orders) {
      const layout = layoutOf(order);
      expect(layout.names.sort()).toEqual(Object.keys(values).sort());
      expect(readBack(layout.write(values), order), order.join(', ')).toEqual(expected);
    }
  });

  it('a mismatched field name is an error naming the shader and the field, and nothing is dispatched', () => {
    const x = ebm.tensor([1, 2, 3, 4]);
    const y = ebm.zeros([4]);
    const d0 = rt.stats.dispatches;
    // unary.wgsl's Params is (n, p0, p1, _pad): a wrapper that calls p1 'p2' is caught.
    expect(caught(() => rt.dispatch(UNARY, [x.buffer, y.buffer, { n: 4, p0: 0, p2: 0 }], { workgroups: [1] })).message).toBe(
      "unary.wgsl: uniform 'params' (struct Params): field 'p1' is not given",
    );
    expect(caught(() => rt.dispatch(UNARY, [x.buffer, y.buffer, { n: 4, p0: 0, p1: 0, p2: 0 }], { workgroups: [1] })).message).toBe(
      "unary.wgsl: uniform 'params' (struct Params): no field 'p2' (fields: n, p0, p1)",
    );
    expect(caught(() => rt.dispatch(UNARY, [x.buffer, y.buffer, { n: 4, p0: 0, p1: 0, _pad: 0 }], { workgroups: [1] })).message).toBe(
      "unary.wgsl: uniform 'params' (struct Params): field '_pad' is padding; leave it out (it stays zero)",
    );
    expect(rt.stats.dispatches).toBe(d0);
  });

  it('a struct declared in a preamble is named with the file that declares it', () => {
    const sources = {
      'params.wgsl': ['// the shared uniform', 'struct Params { n: u32, scale: f32 }', ''].join('\n'),
      'body.wgsl': ['// preambles: params.wgsl', '@group(0) @binding(0) var<storage, read_write> y: array<f32>;', '@group(0) @binding(1) var<uniform> params: Params;', '@compute @workgroup_size(1)', 'fn main() { y[0] = f32(params.n) * params.scale; }', ''].join('\n'),
    };
    const layout = new PipelineCache(rt.device, sources).get({ ...spec, shader: 'body.wgsl', preamble: 'params.wgsl' }).uniforms[1]!;
    expect(caught(() => layout.write({ n: 1, scal: 2 })).message).toBe("body.wgsl: uniform 'params' (struct Params in params.wgsl): field 'scale' is not given");
  });

  it('the value must suit the member type: an integer in range for u32 and i32, a list for a vector or array', () => {
    const layout = layoutOf(MEMBERS);
    const msg = (v: Record<string, unknown>) => caught(() => layout.write({ ...values, ...v } as typeof values)).message;
    const field = "u.wgsl: uniform 'params' (struct Params): field";
    expect(msg({ n: 2.5 })).toBe(`${field} 'n' is a u32; got 2.5`);
    expect(msg({ n: -1 })).toBe(`${field} 'n' is a u32; got -1`);
    expect(msg({ n: 2 ** 32 })).toBe(`${field} 'n' is a u32; got 4294967296`);
    expect(msg({ n: NaN })).toBe(`${field} 'n' is a u32; got NaN`);
    expect(msg({ offset: 0.5 })).toBe(`${field} 'offset' is an i32; got 0.5`);
    expect(msg({ offset: 2 ** 31 })).toBe(`${field} 'offset' is an i32; got 2147483648`);
    expect(msg({ scale: [1] })).toBe(`${field} 'scale' is a f32; got [1]`);
    expect(msg({ shape: 3 })).toBe(`${field} 'shape' is a array<vec4u, 2>; got 3, not a list`);
    expect(msg({ shape: [1, 2, 3, 4, 5, 6, 7, 8, 9] })).toBe(`${field} 'shape' (array<vec4u, 2>) holds 8 u32 values; got 9`);
    expect(msg({ shape: [1, 2.5] })).toBe(`${field} 'shape' (array<vec4u, 2>) holds u32 values; got 2.5 at [1]`);
    expect(msg({ dims: [1, -2] })).toBe(`${field} 'dims' (vec4u) holds u32 values; got -2 at [1]`);
    // f32 members take any number.
    expect(() => layout.write({ ...values, scale: -1e-7, hs: [NaN, Infinity] })).not.toThrow();
  });

  it('a member type that cannot be written by name is named when the pipeline is built', () => {
    expect(caught(() => layoutOf(['n: u32', 'm: mat2x2f'])).message).toMatch(/^u\.wgsl: uniform 'params' \(struct Params\): field 'm': type mat2x2/);
  });

  it('the layout is reflected once per shader: every pipeline of it shares one, and a write reuses one block', () => {
    const c = new PipelineCache(rt.device, { 'u.wgsl': shaderWith(MEMBERS.join(', ')) });
    const a = c.get(spec);
    const b = c.get(spec, { K: 2 });
    expect(b.pipeline).not.toBe(a.pipeline);
    expect(b.uniforms[1]).toBe(a.uniforms[1]);
    const first = a.uniforms[1]!.write(values);
    expect(a.uniforms[1]!.write({ ...values, n: 8 })).toBe(first);
    expect(first.byteLength).toBe(a.uniforms[1]!.size);
  });
});

describe('shader modules', () => {
  /** A device whose createShaderModule calls are counted. */
  function countingDevice(): { device: GPUDevice; modules: () => number } {
    let modules = 0;
    const device = new Proxy(rt.device, {
      get(target, prop) {
        if (prop === 'createShaderModule')
          return (d: GPUShaderModuleDescriptor) => {
            modules++;
            return target.createShaderModule(d);
          };
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    return { device, modules: () => modules };
  }
  const shader = (scale: string) =>
    ['@group(0) @binding(0) var<storage, read_write> y: array<f32>;', '@compute @workgroup_size(1)', `fn main() { y[0] = ${scale}; }`, ''].join('\n');
  const spec = (file: string): KernelSpec => ({ shader: file, entry: 'main', bindings: [{ name: 'y', kind: 'storage' }] });

  it('one module per shader serves the compilation check and every pipeline', async () => {
    const { device, modules } = countingDevice();
    const c = new PipelineCache(device, { 'a.wgsl': shader('1.0'), 'b.wgsl': shader('2.0') });
    await c.validateAll();
    expect(modules()).toBe(2);
    c.get(spec('a.wgsl'));
    c.get(spec('b.wgsl'));
    await c.validate('a.wgsl');
    expect(modules()).toBe(2);
    expect(c.compiled).toBe(2);
    // A pipeline built first compiles the module its later check reads.
    const d = new PipelineCache(device, { 'a.wgsl': shader('1.0') });
    d.get(spec('a.wgsl'));
    await d.validate('a.wgsl');
    expect(modules()).toBe(3);
  });
});

describe('deferred submission', () => {
  it('recording ops does not submit; a readback submits once', async () => {
    await rt.sync();
    const s0 = rt.stats.submits;
    const d0 = rt.stats.dispatches;
    const x = ebm.tensor([1, 2, 3, 4]);
    const y = x.square().mul(2).add(1).neg();
    expect(rt.stats.dispatches).toBe(d0 + 4);
    expect(rt.stats.submits).toBe(s0);
    const v = await y.data();
    expect(rt.stats.submits).toBe(s0 + 1);
    expectClose(v, [-3, -9, -19, -33], 1e-6, 'y');
    // Reading again with nothing recorded still needs its own copy submit, but no more.
    await y.data();
    expect(rt.stats.submits).toBe(s0 + 2);
  });

  it('batchSize forces a submit each time that many dispatches are pending', async () => {
    await rt.sync();
    const prev = rt.batchSize;
    rt.batchSize = 3;
    try {
      const s0 = rt.stats.submits;
      const x = ebm.tensor([10, 20]);
      const y = ebm.tidy(() => {
        let t = x;
        for (let i = 0; i < 7; i++) {
          t = t.add(1);
          expect(rt.stats.submits, `after ${i + 1} dispatches`).toBe(s0 + Math.floor((i + 1) / 3));
        }
        return t;
      });
      expect(rt.stats.submits).toBe(s0 + 2);
      expectClose(await y.data(), [17, 27], 1e-6, 'y');
      expect(rt.stats.submits).toBe(s0 + 3);
    } finally {
      rt.batchSize = prev;
    }
  });

  it('sync() with nothing recorded does not submit', async () => {
    await rt.sync();
    const s0 = rt.stats.submits;
    await rt.sync();
    expect(rt.stats.submits).toBe(s0);
  });
});

describe('buffer pool', () => {
  /** Classes over 0..max bytes: each at least the request, 4-byte aligned, monotone; returns the worst waste above 1 KiB. */
  function sweepClasses(max: number): number {
    let prev = 0;
    let worst = 1;
    for (let b = 0; b <= max; b += 37) {
      const c = sizeClass(b);
      expect(c).toBeGreaterThanOrEqual(Math.max(b, 16));
      expect(c % 4).toBe(0);
      expect(c).toBeGreaterThanOrEqual(prev);
      if (b > 1024) worst = Math.max(worst, c / b);
      prev = c;
    }
    return worst;
  }

  it('sizeClass: at least 16 bytes, powers of two up to 1 KiB, finer classes above', () => {
    expect([0, 1, 4, 16].map(sizeClass)).toEqual([16, 16, 16, 16]);
    expect([17, 20, 32, 33, 100, 1000, 1024].map(sizeClass)).toEqual([32, 32, 32, 64, 128, 1024, 1024]);
    // Powers of two are classes of their own; above 1 KiB a class is finer than the next power of two.
    for (const p of [2048, 4096, 2 ** 20]) expect(sizeClass(p)).toBe(p);
    for (const p of [1025, 2049, 4097, 2 ** 20 + 1]) {
      const c = sizeClass(p);
      expect(c).toBeGreaterThan(p);
      expect(c).toBeLessThan(2 * (p - 1));
      expect(sizeClass(c)).toBe(c);
    }
    expect(sweepClasses(70_000)).toBeLessThanOrEqual(1.25 + 1e-9);
  });

  it('sizeClass wastes at most 12.5% above 1 KiB, as documented', () => {
    expect(sizeClass(1025)).toBe(1152);
    expect(sweepClasses(70_000)).toBeLessThanOrEqual(1.125 + 1e-9);
  });

  it("a disposed tensor's buffer is reused at once by later recorded work, which runs after the work that used it", async () => {
    // 1111 floats: a size class nothing else in this file uses.
    const n = 1111;
    const x = ebm.rand([n], { seed: 3 });
    await rt.sync();
    const y = x.exp();
    const yBuf = y.buffer;
    expect(yBuf.size).toBe(sizeClass(n * 4));
    const s = y.sum(); // reads y in the open encoder
    const a0 = rt.stats.bufferAllocations;
    const pooled0 = ebm.memory().pooledBytes;
    y.dispose();
    expect(ebm.memory().pooledBytes).toBe(pooled0 + yBuf.size);
    // Dispatches in one encoder run in order, so the next op may write y's buffer at once
    // (a long recording then reuses the same buffers step after step, see runtime.ts free()).
    const z = x.mul(2);
    expect(z.buffer).toBe(yBuf);
    expect(rt.stats.bufferAllocations).toBe(a0);
    // A host write into it while pending work reads it is copied in encoder order, with no
    // submit: the pending readers still see what they read before.
    const zNeg = z.neg();
    z.dispose();
    const submits = rt.stats.submits;
    const host = Float32Array.from({ length: n }, (_, i) => i);
    const v = ebm.tensor(host);
    expect(v.buffer).toBe(yBuf);
    expect(rt.stats.submits).toBe(submits);
    const xs = await x.data();
    expect(await s.item()).toBeCloseTo(xs.reduce((acc, t) => acc + Math.exp(t), 0), 1);
    expect(Array.from(await zNeg.data())).toEqual(Array.from(xs, (t) => -2 * t));
    expect(Array.from(await v.data())).toEqual(Array.from(host));
    for (const t of [x, s, zNeg, v]) t.dispose();
  });

  it('a buffer no GPU work has touched is reusable at once', () => {
    const t = ebm.tensor(new Float32Array(2222));
    const buf = t.buffer;
    expect(buf.lastUse).toBe(0);
    t.dispose();
    const u = ebm.tensor(new Float32Array(2222));
    expect(u.buffer).toBe(buf);
  });

  it('BufferPool: release before submission waits, markSubmitted frees in order', () => {
    const pool = new BufferPool(rt.device);
    const usage = BufferUsage.STORAGE | BufferUsage.COPY_DST;
    const a = pool.acquire(100, usage);
    const b = pool.acquire(100, usage);
    expect(pool.allocations).toBe(2);
    a.lastUse = 1;
    b.lastUse = 2;
    pool.release(b);
    pool.release(a);
    expect(pool.pooledBytes).toBe(256);
    expect(pool.acquire(100, usage)).not.toBe(a); // neither is submitted yet
    expect(pool.allocations).toBe(3);
    pool.markSubmitted(1);
    expect(pool.acquire(100, usage)).toBe(a);
    expect(pool.acquire(100, usage)).not.toBe(b);
    pool.markSubmitted(2);
    expect(pool.acquire(128, usage)).toBe(b); // same class
    expect(pool.acquire(100, BufferUsage.UNIFORM | BufferUsage.COPY_DST)).not.toBe(b); // usage is part of the key
    pool.trim();
  });
});

describe('caches', () => {
  it('the same op on the same shapes uploads no new uniforms', async () => {
    const x = ebm.rand([333], { seed: 1 });
    const x2 = ebm.rand([333], { seed: 2 });
    const x3 = ebm.rand([334], { seed: 2 });
    x.sin();
    const u0 = rt.stats.uniformUploads;
    x.sin();
    x.sin();
    x2.sin();
    // The uniform block holds (n, p0, p1): cos on the same size has the same bytes.
    x.cos();
    expect(rt.stats.uniformUploads).toBe(u0);
    x3.sin();
    expect(rt.stats.uniformUploads).toBe(u0 + 1);
    x3.sin();
    x.leakyRelu(0.2);
    expect(rt.stats.uniformUploads).toBe(u0 + 2);
    x.leakyRelu(0.2);
    expect(rt.stats.uniformUploads).toBe(u0 + 2);
    await rt.sync();
  });

  it('bind groups are reused when the same buffers are bound again', async () => {
    const x = ebm.rand([257], { seed: 5 });
    const out = ebm.zeros([257]);
    // assign() writes into one buffer, so the op below binds the same (x, out) pair each time.
    const b0 = rt.stats.bindGroups;
    out.assign(x);
    const y = x.exp();
    const created = rt.stats.bindGroups - b0;
    expect(created).toBe(1);
    for (let i = 0; i < 3; i++) {
      const t = ebm.noGrad(() => x.add(out));
      t.dispose();
      await rt.sync();
    }
    // The first add makes a bind group; the later ones get the same pooled output buffer
    // back after sync() and so hit the cache.
    expect(rt.stats.bindGroups - b0).toBe(2);
    y.dispose();
  });

  it('pipelines are compiled once per (shader, entry, specialisation), for every size', () => {
    const x = ebm.rand([50], { seed: 4 });
    const y = ebm.rand([7, 9], { seed: 5 });
    const p0 = rt.stats.pipelines;
    x.erfc();
    expect(rt.stats.pipelines).toBe(p0 + 1);
    x.erfc();
    y.erfc();
    for (let i = 0; i < 5; i++) x.erfc();
    expect(rt.stats.pipelines).toBe(p0 + 1);
    x.expm1();
    expect(rt.stats.pipelines).toBe(p0 + 2);
    y.expm1();
    expect(rt.stats.pipelines).toBe(p0 + 2);
    expect(rt.stats.pipelines).toBe(rt.pipelines.compiled);
  });
});

describe('dispatch', () => {
  it('binding one buffer as both an input and the written output throws, naming both bindings', async () => {
    const x = ebm.tensor([1, 2, 3, 4]);
    const y = ebm.zeros([4]);
    const d0 = rt.stats.dispatches;
    const err = caught(() => rt.dispatch(UNARY, [x.buffer, x.buffer, unaryParams(4)], { workgroups: [1] }));
    expect(err.message).toBe("unary.wgsl:main: one buffer bound as both 'x' and 'y', and it is written");
    expect(rt.stats.dispatches).toBe(d0);
    // Distinct buffers work, and the runtime is still healthy.
    rt.dispatch(UNARY, [x.buffer, y.buffer, unaryParams(4)], { overrides: { OP: rt.pipelines.constValue('unary.wgsl', 'OP_neg', 'activations.wgsl') }, workgroups: [1] });
    expect(rt.stats.dispatches).toBe(d0 + 1);
    expect(Array.from(await y.data())).toEqual([-1, -2, -3, -4]);
  });

  it('one buffer bound twice read-only is fine (x + x)', async () => {
    const x = ebm.tensor([1, 2, 3]);
    expect(Array.from(await x.add(x).data())).toEqual([2, 4, 6]);
    expect(Array.from(await x.mul(x).data())).toEqual([1, 4, 9]);
  });

  it('copy from a buffer to itself throws', () => {
    const x = ebm.tensor([1, 2]);
    expect(caught(() => rt.copy(x.buffer, 0, x.buffer, 4, 4)).message).toMatch(/copy source and destination are the same buffer/);
  });

  it('wrong arguments name the shader and the binding', () => {
    const x = ebm.tensor([1, 2, 3, 4]);
    const y = ebm.zeros([4]);
    const d0 = rt.stats.dispatches;
    expect(caught(() => rt.dispatch(UNARY, [x.buffer, y.buffer], { workgroups: [1] })).message).toBe(
      'unary.wgsl:main: expected 3 bindings (x, y, params), got 2',
    );
    expect(caught(() => rt.dispatch(UNARY, [unaryParams(4), y.buffer, unaryParams(4)], { workgroups: [1] })).message).toMatch(
      /^unary\.wgsl: binding 'x' is a storage buffer; pass a buffer/,
    );
    expect(caught(() => rt.dispatch(UNARY, [x.buffer, y.buffer, y.buffer], { workgroups: [1] })).message).toMatch(
      /^unary\.wgsl: binding 'params' is a uniform block; pass its fields by name/,
    );
    expect(caught(() => rt.dispatch(UNARY, [x.buffer, y.buffer, { n: 4, p0: 0 }], { workgroups: [1] })).message).toBe(
      "unary.wgsl: uniform 'params' (struct Params): field 'p1' is not given",
    );
    expect(caught(() => rt.dispatch(UNARY, [x.buffer, y.buffer, unaryParams(4)], { workgroups: [70_000] })).message).toMatch(
      /^unary\.wgsl:main: 70000 workgroups in one dimension exceeds the device limit \d+/,
    );
    expect(rt.stats.dispatches).toBe(d0);
  });

  it('grid() splits large workgroup counts over two dimensions within the limit', () => {
    const limit = rt.device.limits.maxComputeWorkgroupsPerDimension;
    expect(rt.grid(10)).toEqual([10, 1]);
    expect(rt.grid(limit)).toEqual([limit, 1]);
    const [gx, gy] = rt.grid(limit * 3 + 1);
    expect(gx).toBeLessThanOrEqual(limit);
    expect(gx * gy).toBeGreaterThanOrEqual(limit * 3 + 1);
  });
});

describe('reuse after submission is safe (queue order)', () => {
  it('a buffer released by submitted, unfinished work and rewritten at once leaves earlier results intact', async () => {
    // Chains of ops whose intermediates are released as soon as they are consumed: with reuse
    // after submission, later ops overwrite buffers that earlier (possibly unfinished) ops read.
    const saved = rt.batchSize;
    rt.batchSize = 3;
    try {
      const x = ebm.tensor(Float32Array.from({ length: 4099 }, (_, i) => (i % 17) - 8));
      let y = x;
      const expected = Float32Array.from(x.size ? await x.data() : []);
      for (let i = 0; i < 40; i++) {
        const next = ebm.noGrad(() => y.mul(0.5).add(1));
        if (y !== x) y.dispose();
        y = next;
        for (let j = 0; j < expected.length; j++) expected[j] = Math.fround(Math.fround(expected[j]! * 0.5) + 1);
      }
      expect(Array.from(await y.data())).toEqual(Array.from(expected));
      expect(rt.stats.submits).toBeGreaterThan(10);
    } finally {
      rt.batchSize = saved;
    }
  });
});
