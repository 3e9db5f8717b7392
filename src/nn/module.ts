// Module: PyTorch's nn.Module, the TypeScript way. A module owns named parameters, buffers
// (persistent ones go into the state dict) and submodules, each kept in registration order, and
// names them the way PyTorch does ('network.0.weight'), so state dicts and checkpoints move
// between the two unchanged. TypeScript has no __call__: `forward(...)` is the call.
//
// Parametrizations are the one hook for layers whose forward must not read a parameter as
// stored (spectral norm): a parametrization registered under a parameter's name computes, per
// forward, the tensor that stands for it, and layers read every parameter through
// `this.param(name)`, so they never need to know whether one is parametrized.
import { keep, noGrad, tidy, zeros, Tensor, type DType } from '../tensor/index.js';
import { fmt } from '../tensor/shape.js';
import { Parameter } from './parameter.js';

/**
 * Computes the tensor a module's forward uses in place of one of its parameters (spectral
 * norm: weight_orig / sigma). Registered with `module.registerParametrization(name, p)`; the
 * module then has no parameter `name`, and keeps what the parametrization needs (its original
 * parameter, buffers) under its own names, found by name on every call.
 */
export interface Parametrization {
  /** The tensor that stands for parameter `name` in this forward (recorded on the tape). */
  compute(module: Module, name: string): Tensor;
  /** The parameter holding the trainable values behind `name` (spectral norm: `${name}_orig`). */
  original(module: Module, name: string): Parameter;
  /** Undoes the parametrization, leaving a plain parameter `name` behind. */
  remove?(module: Module, name: string): void;
  /** For the module's printout. */
  describe?(): string;
}

export type StateDict = Map<string, Tensor>;

export interface LoadStateDictOptions {
  /** Every key must match (default): a missing, unexpected or wrongly shaped key fails the load. */
  strict?: boolean;
}

export interface ShapeMismatch {
  key: string;
  expected: number[];
  received: number[];
}

export interface LoadStateDictResult {
  /** Keys of this module's state dict that the given dict lacks (left as they were). */
  missingKeys: string[];
  /** Keys of the given dict that this module does not have (ignored). */
  unexpectedKeys: string[];
  /** Keys present on both sides with different shapes (left as they were). */
  mismatched: ShapeMismatch[];
}

export interface BufferOptions {
  /** Part of the state dict (default true), like torch's register_buffer(persistent=...). */
  persistent?: boolean;
}

/**
 * What a model that is a plain MLP declares (Module.asPlainMlp): the modules its forward applies
 * in order, so the fused Langevin sampler can run the whole network per chain in one kernel.
 * For an energy, E(x) = the layers applied to x [batch, inputDim], which gives [batch, 1],
 * squeezed to [batch].
 */
export interface PlainMlp {
  /**
   * Linear layers, each hidden one followed by at most one activation module, the last a
   * Linear to one output. The fused sampler checks each (exact Linear, an activation its
   * kernel computes, the widths it supports) and runs the general path where one fails.
   */
  readonly layers: readonly Module[];
}

/**
 * Whether `obj` runs each of the methods `names` exactly as class `cls` defines (or inherits)
 * it: a subclass or an instance that replaces one does not, so what `cls` declares about its
 * forward no longer holds for it.
 */
export function runsAsDefinedBy(obj: object, cls: abstract new (...args: never[]) => object, names: readonly string[]): boolean {
  return names.every((name) => (obj as Record<string, unknown>)[name] === (cls.prototype as Record<string, unknown>)[name]);
}

const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);
const describeValue = (v: unknown) => (v === null ? 'null' : v instanceof Tensor ? v.toString() : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v);

export class Module {
  /** Training mode (the default) or evaluation mode; set with train() / eval(). */
  training = true;
  private readonly _parameters = new Map<string, Parameter | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _nonPersistent = new Set<string>();
  private readonly _modules = new Map<string, Module | null>();
  private readonly _parametrizations = new Map<string, Parametrization>();

  /** The computation; subclasses implement it (and narrow its signature). */
  forward(..._inputs: any[]): any {
    throw new Error(`${this.constructor.name}: forward() is not implemented; a Module subclass must define forward(...)`);
  }

  /**
   * The plain MLP this module's forward computes, or null (the default: nothing declared).
   * MLPEnergyModel, CustomEnergyModel, NeuralEnergyFunction and Sequential declare theirs unless
   * a subclass or the instance replaces forward(); a model of your own that applies Linear
   * layers and activation modules in order can return { layers } here to get the fused Langevin
   * path. Return null from a subclass whose forward() no longer is that network.
   */
  asPlainMlp(): PlainMlp | null {
    return null;
  }

  // -------------------------------------------------------------------------------------------
  // Registration

  private checkName(what: string, name: string, replacing: Map<string, unknown> | null): void {
    const cls = this.constructor.name;
    if (typeof name !== 'string') throw new Error(`${cls}.${what}: the name must be a string, got ${typeof name}`);
    if (name === '') throw new Error(`${cls}.${what}: the name must not be empty`);
    if (name.includes('.')) throw new Error(`${cls}.${what}: the name must not contain '.', got '${name}'`);
    const kinds: [string, Map<string, unknown>][] = [
      ['parameter', this._parameters],
      ['buffer', this._buffers],
      ['submodule', this._modules],
      ['parametrization', this._parametrizations],
    ];
    for (const [kind, map] of kinds)
      if (map !== replacing && map.has(name)) throw new Error(`${cls}.${what}: '${name}' is already registered as a ${kind}`);
  }

  /** Registers (or replaces, keeping its place) parameter `name`; null marks an absent one (bias=False). */
  registerParameter<P extends Parameter | null>(name: string, param: P): P {
    this.checkName('registerParameter', name, this._parameters);
    if (param !== null) {
      if (!(param instanceof Parameter))
        throw new Error(`${this.constructor.name}.registerParameter: '${name}' must be a Parameter or null, got ${describeValue(param)} (wrap a tensor with new Parameter(t))`);
      param.assertAlive(`${this.constructor.name}.registerParameter`);
    }
    this._parameters.set(name, param);
    return param;
  }

  /** Registers (or replaces, keeping its place) buffer `name`: state that is not trained (spectral norm's u, v). */
  registerBuffer<T extends Tensor | null>(name: string, tensor: T, opts: BufferOptions = {}): T {
    this.checkName('registerBuffer', name, this._buffers);
    const persistent = opts.persistent ?? true;
    if (typeof persistent !== 'boolean') throw new Error(`${this.constructor.name}.registerBuffer: persistent must be a boolean, got ${typeof persistent}`);
    if (tensor !== null) {
      if (!(tensor instanceof Tensor)) throw new Error(`${this.constructor.name}.registerBuffer: '${name}' must be a Tensor or null, got ${describeValue(tensor)}`);
      tensor.assertAlive(`${this.constructor.name}.registerBuffer`);
      keep(tensor);
    }
    this._buffers.set(name, tensor);
    if (persistent) this._nonPersistent.delete(name);
    else this._nonPersistent.add(name);
    return tensor;
  }

  /** Registers (or replaces, keeping its place) submodule `name`. */
  registerModule<M extends Module | null>(name: string, module: M): M {
    this.checkName('registerModule', name, this._modules);
    if (module !== null && !(module instanceof Module))
      throw new Error(`${this.constructor.name}.registerModule: '${name}' must be a Module or null, got ${describeValue(module)}`);
    this._modules.set(name, module);
    return module;
  }

  /** torch's add_module: registerModule. */
  addModule<M extends Module | null>(name: string, module: M): M {
    return this.registerModule(name, module);
  }

  /**
   * Removes whatever is registered under `name` (parameter, buffer or submodule, like torch's
   * delattr) and returns it, undisposed; undefined when nothing was.
   */
  unregister(name: string): Parameter | Tensor | Module | null | undefined {
    for (const map of [this._parameters, this._buffers, this._modules] as Map<string, Parameter | Tensor | Module | null>[]) {
      if (map.has(name)) {
        const v = map.get(name)!;
        map.delete(name);
        this._nonPersistent.delete(name);
        return v;
      }
    }
    return undefined;
  }

  /** What `name` is registered as on this module (not its submodules), or undefined. */
  registeredAs(name: string): 'parameter' | 'buffer' | 'submodule' | 'parametrization' | undefined {
    if (this._parameters.has(name)) return 'parameter';
    if (this._buffers.has(name)) return 'buffer';
    if (this._modules.has(name)) return 'submodule';
    if (this._parametrizations.has(name)) return 'parametrization';
    return undefined;
  }

  /** The registered submodules in order, null entries and repeats included (what Sequential runs). */
  protected submoduleEntries(): [string, Module | null][] {
    return [...this._modules];
  }

  /** Makes `name` a computed parameter (see Parametrization); nothing else may be registered under it. */
  registerParametrization(name: string, p: Parametrization): void {
    this.checkName('registerParametrization', name, null);
    if (p === null || typeof p !== 'object' || typeof p.compute !== 'function' || typeof p.original !== 'function')
      throw new Error(`${this.constructor.name}.registerParametrization: '${name}' needs an object with compute() and original()`);
    this._parametrizations.set(name, p);
  }

  /** Forgets the parametrization of `name` (its remove() is the caller's business) and returns it. */
  unregisterParametrization(name: string): Parametrization | undefined {
    const p = this._parametrizations.get(name);
    this._parametrizations.delete(name);
    return p;
  }

  get parametrizations(): ReadonlyMap<string, Parametrization> {
    return this._parametrizations;
  }

  /**
   * The tensor a forward uses for parameter `name`: the Parameter itself (null for an absent
   * one, such as bias=false), or, when `name` is parametrized, the value the parametrization
   * computes for this call (spectral norm: W / sigma, with a power iteration in training).
   */
  param(name: string): Tensor | null {
    const p = this._parametrizations.get(name);
    if (p) return p.compute(this, name);
    if (!this._parameters.has(name))
      throw new Error(`${this.constructor.name}: no parameter or parametrization named '${name}' (has: ${[...this._parameters.keys(), ...this._parametrizations.keys()].join(', ') || 'none'})`);
    return this._parameters.get(name)!;
  }

  /**
   * The Parameter that holds `name`'s trainable values: the parameter itself, or for a
   * parametrized one, its original (spectral norm: `${name}_orig`). null for an absent one.
   * Initialise through this, not through param() (which computes a new tensor).
   */
  rawParameter(name: string): Parameter | null {
    const p = this._parametrizations.get(name);
    if (p) return p.original(this, name);
    if (!this._parameters.has(name)) throw new Error(`${this.constructor.name}: no parameter named '${name}'`);
    return this._parameters.get(name)!;
  }

  // -------------------------------------------------------------------------------------------
  // Lookup by dotted name

  /** The submodule at a dotted path ('network.0'); '' is this module. */
  getSubmodule(target: string): Module {
    if (target === '') return this;
    let mod: Module = this;
    let path = '';
    for (const part of target.split('.')) {
      const next = mod._modules.get(part);
      if (!next) throw new Error(`${mod.constructor.name}${path ? ` (at '${path}')` : ''} has no submodule '${part}' (looking up '${target}')`);
      mod = next;
      path = join(path, part);
    }
    return mod;
  }

  private splitTarget(target: string): [Module, string] {
    const at = target.lastIndexOf('.');
    return at < 0 ? [this, target] : [this.getSubmodule(target.slice(0, at)), target.slice(at + 1)];
  }

  /** The parameter at a dotted name ('network.0.weight'). */
  getParameter(target: string): Parameter {
    const [mod, name] = this.splitTarget(target);
    const p = mod._parameters.get(name);
    if (!p) throw new Error(`${mod.constructor.name} has no parameter '${name}' (looking up '${target}')`);
    return p;
  }

  /** The buffer at a dotted name ('network.0.weight_u'). */
  getBuffer(target: string): Tensor {
    const [mod, name] = this.splitTarget(target);
    const b = mod._buffers.get(name);
    if (!b) throw new Error(`${mod.constructor.name} has no buffer '${name}' (looking up '${target}')`);
    return b;
  }

  // -------------------------------------------------------------------------------------------
  // Iteration: pre-order (a module, then its children), registration order, deduplicated by
  // identity like PyTorch's named_* (removeDuplicate = false keeps shared entries under every name).

  namedModules(prefix = '', removeDuplicate = true, memo: Set<Module> = new Set()): [string, Module][] {
    const out: [string, Module][] = [];
    const visit = (mod: Module, pre: string) => {
      if (removeDuplicate) {
        if (memo.has(mod)) return;
        memo.add(mod);
      }
      out.push([pre, mod]);
      for (const [name, child] of mod._modules) if (child) visit(child, join(pre, name));
    };
    visit(this, prefix);
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** The direct submodules, each once. */
  namedChildren(): [string, Module][] {
    const seen = new Set<Module>();
    const out: [string, Module][] = [];
    for (const [name, child] of this._modules)
      if (child && !seen.has(child)) {
        seen.add(child);
        out.push([name, child]);
      }
    return out;
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  private namedMembers<T extends Tensor>(get: (m: Module) => Map<string, T | null>, prefix: string, recurse: boolean, removeDuplicate: boolean): [string, T][] {
    const mods: [string, Module][] = recurse ? this.namedModules(prefix, removeDuplicate) : [[prefix, this]];
    const memo = new Set<Tensor>();
    const out: [string, T][] = [];
    for (const [pre, mod] of mods)
      for (const [name, t] of get(mod)) {
        if (!t || (removeDuplicate && memo.has(t))) continue;
        memo.add(t);
        out.push([join(pre, name), t]);
      }
    return out;
  }

  namedParameters(prefix = '', recurse = true, removeDuplicate = true): [string, Parameter][] {
    return this.namedMembers((m) => m._parameters, prefix, recurse, removeDuplicate);
  }

  parameters(recurse = true): Parameter[] {
    return this.namedParameters('', recurse).map(([, p]) => p);
  }

  /** Every buffer, persistent or not. */
  namedBuffers(prefix = '', recurse = true, removeDuplicate = true): [string, Tensor][] {
    return this.namedMembers((m) => m._buffers, prefix, recurse, removeDuplicate);
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers('', recurse).map(([, b]) => b);
  }

  /** Calls fn on every submodule (children first) and then on this module, like torch's apply. */
  apply(fn: (module: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  // -------------------------------------------------------------------------------------------
  // Modes

  /** Sets training mode on this module and every submodule; returns this. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new Error(`${this.constructor.name}.train: mode must be a boolean, got ${typeof mode}`);
    this.training = mode;
    for (const child of this.children()) child.train(mode);
    return this;
  }

  /** train(false). */
  eval(): this {
    return this.train(false);
  }

  // -------------------------------------------------------------------------------------------
  // State dicts

  /**
   * The parameters and persistent buffers under PyTorch's key names, in PyTorch's order (each
   * module's parameters, then its buffers, then its children's). The values are the module's own
   * tensors, not copies: read or save them, do not dispose them. A parameter shared by two
   * submodules appears under both keys, as in PyTorch.
   */
  stateDict(prefix = ''): StateDict {
    const out: StateDict = new Map();
    const visit = (mod: Module, pre: string) => {
      for (const [name, p] of mod._parameters) if (p) out.set(join(pre, name), p);
      for (const [name, b] of mod._buffers) if (b && !mod._nonPersistent.has(name)) out.set(join(pre, name), b);
      for (const [name, child] of mod._modules) if (child) visit(child, join(pre, name));
    };
    visit(this, prefix);
    return out;
  }

  /**
   * Copies a state dict's values into this module's parameters and buffers, in place (their
   * identities stay; a value of another dtype is cast). Everything is checked before anything
   * is written. strict (the default): a missing, unexpected or wrongly shaped key fails with
   * one message listing every such key with its shapes, and nothing is modified. Non-strict:
   * loads the keys that match and returns those it skipped. A value that is not a live tensor on
   * this module's device fails either way.
   */
  loadStateDict(dict: Map<string, Tensor> | Record<string, Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const cls = this.constructor.name;
    if (dict === null || typeof dict !== 'object') throw new Error(`${cls}.loadStateDict: expected a Map or an object of tensors, got ${dict === null ? 'null' : typeof dict}`);
    if (opts === null || typeof opts !== 'object') throw new Error(`${cls}.loadStateDict: options must be an object { strict }, got ${String(opts)}`);
    const strict = opts.strict ?? true;
    if (typeof strict !== 'boolean') throw new Error(`${cls}.loadStateDict: strict must be a boolean, got ${typeof strict}`);
    const given = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const own = this.stateDict();

    const invalid: string[] = [];
    for (const [key, value] of given) {
      if (!(value instanceof Tensor)) invalid.push(`  "${key}": not a Tensor (got ${describeValue(value)})`);
      else if (value.isDisposed) invalid.push(`  "${key}": ${value.describe()} has been disposed`);
      else {
        const target = own.get(key);
        if (target && target.device !== value.device) invalid.push(`  "${key}": on a different device than the module's tensor`);
      }
    }
    if (invalid.length) throw new Error(`${cls}.loadStateDict: ${invalid.length} value(s) cannot be loaded; nothing was loaded:\n${invalid.join('\n')}`);

    const missingKeys = [...own.keys()].filter((k) => !given.has(k));
    const unexpectedKeys = [...given.keys()].filter((k) => !own.has(k));
    const mismatched: ShapeMismatch[] = [];
    const loads: [Tensor, Tensor][] = [];
    for (const [key, target] of own) {
      const value = given.get(key);
      if (!value) continue;
      if (target.shape.length !== value.shape.length || target.shape.some((d, i) => d !== value.shape[i]))
        mismatched.push({ key, expected: [...target.shape], received: [...value.shape] });
      else loads.push([target, value]);
    }

    if (strict && (missingKeys.length || unexpectedKeys.length || mismatched.length)) {
      const lines: string[] = [];
      for (const k of missingKeys) lines.push(`  missing key "${k}": expected shape ${fmt(own.get(k)!.shape)}`);
      for (const k of unexpectedKeys) lines.push(`  unexpected key "${k}": received shape ${fmt(given.get(k)!.shape)}`);
      for (const m of mismatched) lines.push(`  size mismatch for "${m.key}": expected shape ${fmt(m.expected)}, received ${fmt(m.received)}`);
      throw new Error(
        `${cls}.loadStateDict: error(s) in loading the state dict (${missingKeys.length} missing, ${unexpectedKeys.length} unexpected, ${mismatched.length} wrongly shaped); nothing was loaded:\n${lines.join('\n')}\n(loadStateDict(dict, { strict: false }) loads the keys that match)`,
      );
    }

    noGrad(() =>
      tidy(() => {
        for (const [target, value] of loads) target.assign(value.dtype === target.dtype ? value : value.to(target.dtype));
      }),
    );
    return { missingKeys, unexpectedKeys, mismatched };
  }

  // -------------------------------------------------------------------------------------------
  // Gradients, dtypes, memory

  /** Drops every parameter's gradient (setToNone, the default, like torch; disposes it) or zeroes it in place. */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      if (!p.grad) continue;
      if (setToNone) {
        p.grad.dispose();
        p.grad = null;
      } else {
        const g = p.grad;
        noGrad(() => tidy(() => void g.assign(zeros(g.shape, { device: g.device, dtype: g.dtype }))));
      }
    }
  }

  /**
   * Casts every parameter and buffer to `dtype` in place of the old ones. A tensor already of
   * that dtype keeps its identity; the others are replaced by new tensors registered under the
   * same names, in the same order (shared ones stay shared), and the old ones are disposed, so
   * make optimizers after this call. Returns this.
   */
  toDtype(dtype: DType): this {
    if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`${this.constructor.name}.toDtype: dtype must be 'f32' or 'f16', got ${JSON.stringify(dtype)}`);
    const replaced = new Map<Tensor, Tensor>();
    const convert = <T extends Tensor>(t: T, make: (c: Tensor) => T): T => {
      let n = replaced.get(t) as T | undefined;
      if (!n) {
        n = make(noGrad(() => t.to(dtype)));
        replaced.set(t, n);
      }
      return n;
    };
    for (const mod of this.modules()) {
      for (const [name, p] of mod._parameters)
        if (p && p.dtype !== dtype) mod._parameters.set(name, convert(p, (c) => Parameter.adopt(c, p.requiresGrad)));
      for (const [name, b] of mod._buffers)
        if (b && b.dtype !== dtype) mod._buffers.set(name, convert(b, (c) => keep(c)));
    }
    for (const old of replaced.keys()) {
      old.grad?.dispose();
      old.dispose();
    }
    return this;
  }

  /** Disposes every parameter (and its gradient) and buffer of this module and its submodules. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
      p.dispose();
    }
    for (const b of this.buffers()) b.dispose();
  }

  // -------------------------------------------------------------------------------------------
  // Printing

  /** The layer's settings, for toString() (torch's extra_repr). */
  extraRepr(): string {
    return '';
  }

  toString(): string {
    const lines: string[] = [];
    for (const [name, child] of this._modules) if (child) lines.push(`(${name}): ${child.toString().replace(/\n/g, '\n  ')}`);
    for (const [name, p] of this._parametrizations) lines.push(`[${name}: ${p.describe?.() ?? 'parametrized'}]`);
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    return lines.length ? `${head}\n  ${lines.join('\n  ')}\n)` : `${head})`;
  }
}
