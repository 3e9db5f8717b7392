// Containers: Sequential (runs its children in order, fusing each Linear or Conv2d + activation
// pair into one ebm.linear or ebm.conv2d dispatch) and ModuleList (holds modules, has no forward). Children are named
// '0', '1', … as in PyTorch, so state-dict keys match ('network.0.weight').
import type { Tensor } from '../../tensor/index.js';
import { Module, runsAsDefinedBy, type PlainMlp } from '../module.js';
import { fusableEpilogue } from './activation.js';
import { Conv2d } from './conv.js';
import { Linear } from './linear.js';

function checkModule(cls: string, m: unknown, i: number | string): asserts m is Module {
  if (!(m instanceof Module)) throw new Error(`${cls}: entry ${i} must be a Module, got ${m === null ? 'null' : typeof m === 'object' ? (m.constructor?.name ?? 'object') : typeof m}`);
}

/** Index i of a list of length n, negative counting from the end (Python style). */
function index(cls: string, i: number, n: number): number {
  if (!Number.isInteger(i) || i < -n || i >= n) throw new Error(`${cls}: index ${i} is out of range for ${n} modules`);
  return i < 0 ? i + n : i;
}

/** The part Sequential and ModuleList share: children '0', '1', … in order, indexed and appended. */
abstract class ModuleSequence extends Module {
  /** The class name used in messages. */
  protected abstract readonly kind: string;

  /** The registered children in order (repeats included: PyTorch's Sequential runs them all). */
  protected list(): Module[] {
    return this.submoduleEntries().flatMap(([, m]) => (m ? [m] : []));
  }

  get length(): number {
    return this.list().length;
  }

  at(i: number): Module {
    const list = this.list();
    return list[index(this.kind, i, list.length)]!;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.list()[Symbol.iterator]();
  }

  /** Appends a module under the next index; returns this. */
  append(m: Module): this {
    checkModule(this.kind, m, this.length);
    this.registerModule(String(this.submoduleEntries().length), m);
    return this;
  }
}

export class Sequential extends ModuleSequence {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => {
      checkModule('Sequential', m, i);
      this.registerModule(String(i), m);
    });
  }

  protected readonly kind = 'Sequential';

  /**
   * Its children in order, as the plain MLP it is when they are Linear layers and activation
   * modules (the fused sampler checks which); null for a subclass or instance that replaces forward().
   */
  override asPlainMlp(): PlainMlp | null {
    return runsAsDefinedBy(this, Sequential, ['forward']) ? { layers: this.list() } : null;
  }

  /**
   * Runs the children in order. A Linear followed by an activation module of the activation
   * table (FUSABLE_ACTIVATIONS: ReLU, LeakyReLU, SiLU, Tanh, exact GELU, Sigmoid, ELU, Softplus
   * at threshold 20) runs as one ebm.linear call with that activation fused, and a Conv2d so
   * followed as one ebm.conv2d call (exact classes only: a subclass that changes forward() is
   * run as written).
   */
  override forward(x: Tensor): Tensor {
    const list = this.list();
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      const epilogue = m.constructor === Linear || m.constructor === Conv2d ? fusableEpilogue(list[i + 1]) : null;
      if (epilogue) {
        x = (m as Linear | Conv2d).forwardActivated(x, epilogue.activation, epilogue.param);
        i++;
      } else x = m.forward(x);
    }
    return x;
  }
}

export class ModuleList extends ModuleSequence {
  constructor(modules: Iterable<Module> = []) {
    super();
    this.extend(modules);
  }

  protected readonly kind = 'ModuleList';

  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** Inserts m before index i (0 <= i <= length); the later ones are renamed. */
  insert(i: number, m: Module): this {
    checkModule('ModuleList', m, i);
    const list = this.list();
    if (!Number.isInteger(i) || i < -list.length || i > list.length) throw new Error(`ModuleList: insert index ${i} is out of range for ${list.length} modules`);
    const at = i < 0 ? i + list.length : i;
    list.splice(at, 0, m);
    for (const [name] of this.submoduleEntries()) this.unregister(name);
    list.forEach((mod, j) => this.registerModule(String(j), mod));
    return this;
  }

  override forward(): never {
    throw new Error('ModuleList: has no forward(); iterate over it and call each module');
  }
}
