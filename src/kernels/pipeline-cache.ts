// Shader modules and compute pipelines, cached by (shader, entry point, override constants).
// Each kernel wrapper declares the bindings it binds; they are checked against the WGSL's own
// declarations (read with wgsl_reflect) the first time a shader is used, so a wrapper and its
// shader cannot drift apart silently.
import { WgslReflect, ResourceType } from 'wgsl_reflect/wgsl_reflect.module.js';
import { shaderSources } from './shader-sources.generated.js';
import { ShaderStage } from './gpu-flags.js';
import { UniformLayout } from './uniform.js';

export type BindingKind = 'uniform' | 'storage' | 'read-only-storage';

export interface KernelSpec {
  /** File name under shaders/, e.g. 'unary.wgsl'. */
  readonly shader: string;
  readonly entry: string;
  /**
   * A shader of shaders/ prepended to this one: it declares what differs between variants of
   * one kernel body (e.g. f16 storage natively or packed in u32s), or math several bodies
   * share. The body names the preambles it accepts on its first line:
   * `// preambles: a.wgsl b.wgsl`; `a.wgsl+c.wgsl` is a chain, prepended in that order.
   */
  readonly preamble?: string;
  /** What the TS wrapper binds at @group(0) @binding(i), in binding order. */
  readonly bindings: readonly { readonly name: string; readonly kind: BindingKind }[];
}

export type Overrides = Readonly<Record<string, number | boolean>>;

/** One compiled module per (preamble, shader): the compilation check and every pipeline share it. */
interface CompiledModule {
  module: GPUShaderModule;
  /** Resolves once the compilation messages are read; rejects with them formatted on an error. */
  checked: Promise<void> | null;
}

interface ShaderInfo {
  module: GPUShaderModule;
  source: string;
  /** `const NAME = 3u;` declarations, so op tables name codes instead of repeating numbers. */
  consts: Map<string, number>;
  /** The layout of each uniform binding of group 0, by binding index (undefined elsewhere). */
  uniforms: (UniformLayout | undefined)[];
  checkedEntries: Set<string>;
  reflect: WgslReflect;
}

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** The layout of each uniform binding, by binding index: the runtime writes fields with it. */
  uniforms: readonly (UniformLayout | undefined)[];
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

/** The preambles a shader body accepts, from its first line: `// preambles: a.wgsl b.wgsl`. */
function preamblesOf(source: string): string[] {
  const m = /^\/\/\s*preambles:\s*(.+)$/m.exec(source.split('\n', 1)[0] ?? '');
  return m ? m[1]!.trim().split(/\s+/) : [];
}

function bindingSignature(spec: KernelSpec): string {
  return spec.bindings.map((b) => `${b.name}:${b.kind}`).join(',');
}

export class PipelineCache {
  private readonly modules = new Map<string, CompiledModule>();
  private readonly shaders = new Map<string, ShaderInfo>();
  private readonly pipelines = new Map<string, CachedPipeline>();
  compiled = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly sources: Readonly<Record<string, string>> = shaderSources,
  ) {}

  /**
   * Compiles a shader (after `preamble`, if given) and throws with file, line and source line
   * if WGSL rejects it; a line in the preamble is reported against the preamble's file. A
   * shipped shader's module is the one its pipelines use; a `source` of its own (not the
   * registered one) is compiled on its own and then dropped.
   */
  async validate(file: string, source?: string, preamble?: string): Promise<void> {
    if (source !== undefined && source !== this.sources[file]) {
      const pre = preamble === undefined ? '' : `${this.sourceOf(preamble)}\n`;
      await this.check(this.createModule(pre + source, file, preamble), file, source, preamble, pre);
      return;
    }
    const compiled = this.compiledModule(file, preamble);
    await (compiled.checked ??= (() => {
      const pre = preamble === undefined ? '' : `${this.sourceOf(preamble)}\n`;
      return this.check(compiled.module, file, this.sourceOf(file), preamble, pre);
    })());
  }

  /**
   * Creates a module inside an error scope: Dawn's own validation error for a broken shader
   * would otherwise reach the device's uncaptured-error handler and fail the next, unrelated
   * op; `check` reports it with file and line instead.
   */
  private createModule(code: string, file: string, preamble?: string): GPUShaderModule {
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: preamble ? `${preamble} + ${file}` : file });
    // The scope's error is the compile error check() reads from the module's messages.
    this.device.popErrorScope().catch(() => undefined);
    return module;
  }

  private async check(module: GPUShaderModule, file: string, source: string, preamble: string | undefined, pre: string): Promise<void> {
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (!errors.length) return;
    const preLines = pre ? pre.split('\n').length - 1 : 0;
    const inPre = errors.filter((m) => m.lineNum <= preLines);
    // Dawn's messages expose their fields as getters, so they are copied field by field.
    const inBody = errors
      .filter((m) => m.lineNum > preLines)
      .map((m) => ({ message: m.message, type: m.type, lineNum: m.lineNum - preLines, linePos: m.linePos, offset: m.offset, length: m.length }));
    const text = [
      inPre.length ? formatCompilationMessages(preamble!, pre, inPre) : '',
      inBody.length ? formatCompilationMessages(file, source, inBody as unknown as GPUCompilationMessage[]) : '',
    ].filter(Boolean);
    throw new Error(`WGSL compilation failed:\n${text.join('\n')}`);
  }

  /**
   * Compiles every shader this device can run: a body with the preambles it names, a shader
   * that enables f16 only where the device has shader-f16.
   */
  async validateAll(): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const file of Object.keys(this.sources)) {
      if (!this.runnable(file)) continue;
      const preambles = preamblesOf(this.sourceOf(file));
      if (preambles.length) for (const p of preambles) this.runnable(p) && jobs.push(this.validate(file, undefined, p));
      else if (!this.isPreamble(file)) jobs.push(this.validate(file));
    }
    await Promise.all(jobs);
  }

  /** False for a shader that enables an extension (f16, subgroups) the device lacks. */
  runnable(file: string): boolean {
    if (file.includes('+')) return file.split('+').every((f) => this.runnable(f));
    const src = this.sourceOf(file);
    return (!/^\s*enable\s+f16\s*;/m.test(src) || this.device.features.has('shader-f16')) && (!/^\s*enable\s+subgroups\s*;/m.test(src) || this.device.features.has('subgroups'));
  }

  private isPreamble(file: string): boolean {
    return Object.values(this.sources).some((src) => preamblesOf(src).some((p) => p.split('+').includes(file)));
  }

  constValue(file: string, name: string, preamble?: string): number {
    const v = this.shader(file, preamble).consts.get(name);
    if (v === undefined) throw new Error(`${file}: no \`const ${name}\` declared; the op table and the shader disagree`);
    return v;
  }

  get(spec: KernelSpec, overrides: Overrides = {}): CachedPipeline {
    const signature = bindingSignature(spec);
    const key = `${spec.preamble ?? ''}+${spec.shader}#${spec.entry}#${signature}#${JSON.stringify(overrides)}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    const sh = this.shader(spec.shader, spec.preamble);
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
    p = { pipeline, layout, uniforms: sh.uniforms };
    this.pipelines.set(key, p);
    return p;
  }

  /** A shader's source; `a.wgsl+b.wgsl` names a chain of preambles, joined in order. */
  private sourceOf(file: string): string {
    if (file.includes('+')) return file.split('+').map((f) => this.sourceOf(f)).join('\n');
    const src = this.sources[file];
    if (src === undefined) throw new Error(`webgpu-ebm: unknown shader '${file}' (known: ${Object.keys(this.sources).join(', ')})`);
    return src;
  }

  /** The module of a shader after its preamble (if any), created once. */
  private compiledModule(file: string, preamble?: string): CompiledModule {
    const key = `${preamble ?? ''}+${file}`;
    let compiled = this.modules.get(key);
    if (compiled) return compiled;
    const accepted = preamblesOf(this.sourceOf(file));
    if (preamble === undefined && accepted.length) throw new Error(`${file}: needs one of its preambles (${accepted.join(', ')}); set the kernel spec's preamble`);
    if (preamble !== undefined && !accepted.includes(preamble))
      throw new Error(`${file}: '${preamble}' is not one of the preambles it accepts (${accepted.join(', ') || 'none'})`);
    compiled = { module: this.createModule(this.fullSource(file, preamble), file, preamble), checked: null };
    this.modules.set(key, compiled);
    return compiled;
  }

  private fullSource(file: string, preamble?: string): string {
    return preamble === undefined ? this.sourceOf(file) : `${this.sourceOf(preamble)}\n${this.sourceOf(file)}`;
  }

  private shader(file: string, preamble?: string): ShaderInfo {
    const key = `${preamble ?? ''}+${file}`;
    let sh = this.shaders.get(key);
    if (sh) return sh;
    const { module } = this.compiledModule(file, preamble);
    const source = this.fullSource(file, preamble);
    const reflect = new WgslReflect(source);
    const consts = new Map<string, number>();
    for (const m of source.matchAll(/^\s*const\s+(\w+)\s*(?::\s*\w+\s*)?=\s*(-?[\d.]+)[uif]?\s*;/gm)) consts.set(m[1]!, Number(m[2]));
    const uniforms: (UniformLayout | undefined)[] = [];
    for (const v of reflect.getBindGroups()[0] ?? [])
      if (v && v.resourceType === ResourceType.Uniform) uniforms[v.binding] = new UniformLayout(file, v, this.fileAtLine([...(preamble?.split('+') ?? []), file], (v.type as { startLine?: number }).startLine));
    sh = { module, source, consts, uniforms, checkedEntries: new Set(), reflect };
    this.shaders.set(key, sh);
    return sh;
  }

  /** Which of `files` (joined by newlines, as fullSource joins them) holds 1-based `line`. */
  private fileAtLine(files: readonly string[], line: number | undefined): string | undefined {
    if (line === undefined) return undefined;
    let start = 1;
    for (const f of files) {
      start += this.sourceOf(f).split('\n').length;
      if (line < start) return f;
    }
    return undefined;
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
