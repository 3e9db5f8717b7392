// Shader modules and compute pipelines, cached by (shader, entry point, override constants).
// Each kernel wrapper declares the bindings it binds; they are checked against the WGSL's own
// declarations (read with wgsl_reflect) the first time a shader is used, so a wrapper and its
// shader cannot drift apart silently.
import { WgslReflect, ResourceType } from 'wgsl_reflect/wgsl_reflect.module.js';
import { shaderSources } from './shader-sources.generated.js';
import { ShaderStage } from './gpu-flags.js';

export type BindingKind = 'uniform' | 'storage' | 'read-only-storage';

export interface KernelSpec {
  /** File name under shaders/, e.g. 'unary.wgsl'. */
  readonly shader: string;
  readonly entry: string;
  /** What the TS wrapper binds at @group(0) @binding(i), in binding order. */
  readonly bindings: readonly { readonly name: string; readonly kind: BindingKind }[];
}

export type Overrides = Readonly<Record<string, number | boolean>>;

interface ShaderInfo {
  module: GPUShaderModule;
  source: string;
  /** `const NAME = 3u;` declarations, so op tables name codes instead of repeating numbers. */
  consts: Map<string, number>;
  /** Byte size of each uniform binding, by binding index. */
  uniformSizes: Map<number, number>;
  checkedEntries: Set<string>;
  reflect: WgslReflect;
}

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  uniformSizes: Map<number, number>;
}

/** Formats WebGPU compilation messages as `file:line:col: error: msg` plus the source line. */
export function formatCompilationMessages(file: string, source: string, messages: readonly GPUCompilationMessage[]): string {
  const lines = source.split('\n');
  return messages
    .map((m) => {
      const src = m.lineNum > 0 ? lines[m.lineNum - 1] ?? '' : '';
      const caret = m.linePos > 0 ? `${' '.repeat(m.linePos - 1)}^` : '';
      return `${file}:${m.lineNum}:${m.linePos}: ${m.type}: ${m.message}\n    ${src}\n    ${caret}`;
    })
    .join('\n');
}

function reflectedKind(v: { resourceType: ResourceType; access: string }): BindingKind | string {
  if (v.resourceType === ResourceType.Uniform) return 'uniform';
  if (v.resourceType === ResourceType.Storage) return v.access === 'read_write' ? 'storage' : 'read-only-storage';
  return `resource type ${ResourceType[v.resourceType]}`;
}

function bindingSignature(spec: KernelSpec): string {
  return spec.bindings.map((b) => `${b.name}:${b.kind}`).join(',');
}

export class PipelineCache {
  private readonly shaders = new Map<string, ShaderInfo>();
  private readonly pipelines = new Map<string, CachedPipeline>();
  compiled = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly sources: Readonly<Record<string, string>> = shaderSources,
  ) {}

  /** Compiles a shader and throws with file, line and source line if WGSL rejects it. */
  async validate(file: string, source = this.sourceOf(file)): Promise<void> {
    // The scope keeps Dawn's own validation error from reaching the device's uncaptured-error
    // handler, which would fail the next, unrelated op.
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: source, label: file });
    const scope = this.device.popErrorScope();
    const info = await module.getCompilationInfo();
    await scope;
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) throw new Error(`WGSL compilation failed:\n${formatCompilationMessages(file, source, errors)}`);
  }

  async validateAll(): Promise<void> {
    await Promise.all(Object.keys(this.sources).map((f) => this.validate(f)));
  }

  constValue(file: string, name: string): number {
    const v = this.shader(file).consts.get(name);
    if (v === undefined) throw new Error(`${file}: no \`const ${name}\` declared; the op table and the shader disagree`);
    return v;
  }

  get(spec: KernelSpec, overrides: Overrides = {}): CachedPipeline {
    const signature = bindingSignature(spec);
    const key = `${spec.shader}#${spec.entry}#${signature}#${JSON.stringify(overrides)}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    const sh = this.shader(spec.shader);
    this.checkBindings(spec, sh, signature);
    const declared = new Set(sh.reflect.overrides.map((o) => o.name));
    for (const name of Object.keys(overrides))
      if (!declared.has(name)) throw new Error(`${spec.shader}: no \`override ${name}\` declared (declared: ${[...declared].join(', ') || 'none'})`);
    const layout = this.device.createBindGroupLayout({
      label: `${spec.shader}:${spec.entry}`,
      entries: spec.bindings.map((b, i) => ({ binding: i, visibility: ShaderStage.COMPUTE, buffer: { type: b.kind } })),
    });
    const constants: Record<string, number> = {};
    for (const [k, v] of Object.entries(overrides)) constants[k] = typeof v === 'boolean' ? Number(v) : v;
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: sh.module, entryPoint: spec.entry, constants },
    });
    this.compiled++;
    p = { pipeline, layout, uniformSizes: sh.uniformSizes };
    this.pipelines.set(key, p);
    return p;
  }

  private sourceOf(file: string): string {
    const src = this.sources[file];
    if (src === undefined) throw new Error(`webgpu-ebm: unknown shader '${file}' (known: ${Object.keys(this.sources).join(', ')})`);
    return src;
  }

  private shader(file: string): ShaderInfo {
    let sh = this.shaders.get(file);
    if (sh) return sh;
    const source = this.sourceOf(file);
    const reflect = new WgslReflect(source);
    const consts = new Map<string, number>();
    for (const m of source.matchAll(/^\s*const\s+(\w+)\s*(?::\s*\w+\s*)?=\s*(-?[\d.]+)[uif]?\s*;/gm)) consts.set(m[1]!, Number(m[2]));
    const uniformSizes = new Map<number, number>();
    for (const v of reflect.getBindGroups()[0] ?? []) if (v && v.resourceType === ResourceType.Uniform) uniformSizes.set(v.binding, v.size);
    sh = { module: this.device.createShaderModule({ code: source, label: file }), source, consts, uniformSizes, checkedEntries: new Set(), reflect };
    this.shaders.set(file, sh);
    return sh;
  }

  private checkBindings(spec: KernelSpec, sh: ShaderInfo, signature: string): void {
    if (sh.checkedEntries.has(`${spec.entry}#${signature}`)) return;
    const where = `${spec.shader} (entry '${spec.entry}')`;
    const entry = sh.reflect.entry.compute.find((f) => f.name === spec.entry);
    if (!entry) throw new Error(`${where}: no @compute entry point named '${spec.entry}'`);
    const declared = new Map<number, { name: string; kind: string; group: number }>();
    for (const group of sh.reflect.getBindGroups()) for (const v of group ?? []) if (v) declared.set(v.binding + 1000 * v.group, { name: v.name, kind: reflectedKind(v), group: v.group });
    spec.bindings.forEach((b, i) => {
      const d = declared.get(i);
      if (!d) throw new Error(`${where}: the wrapper binds '${b.name}' at @group(0) @binding(${i}) but the shader declares no such binding`);
      if (d.name !== b.name || d.kind !== b.kind)
        throw new Error(`${where}: @group(0) @binding(${i}) is '${d.name}' (${d.kind}) in WGSL but the wrapper binds '${b.name}' (${b.kind})`);
      declared.delete(i);
    });
    for (const [k, d] of declared)
      throw new Error(`${where}: the shader declares '${d.name}' at @group(${d.group}) @binding(${k % 1000}) but the wrapper does not bind it`);
    sh.checkedEntries.add(`${spec.entry}#${signature}`);
  }
}
