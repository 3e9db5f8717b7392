// The optimizer base: parameter groups, per-parameter GPU state, zeroGrad and state dicts in
// torch.optim's structure. Subclasses name their state and launch one fused kernel per
// parameter; nothing here reads back to the CPU.
import { keep, Tensor } from '../../tensor/index.js';
import { loadOptimState_, optimState, optimStateRegion, optimStateSize, optimStateStep, type UpdateGate } from '../../tensor/ops/fused/index.js';
import { knownKeys, trainable } from './validate.js';

/** Hyperparameters every optimizer has; schedulers change `lr` between steps. */
export interface BaseOptions {
  lr: number;
}

/** A parameter group: its tensors and its own hyperparameters (PyTorch's param_groups). */
export type ParamGroup<O extends BaseOptions> = O & {
  params: Tensor[];
  /** The lr a scheduler started from (PyTorch's 'initial_lr'), set by the first scheduler. */
  initialLr?: number;
};

/** What an optimizer takes: tensors, or groups of tensors with overriding options. */
export type ParamsInput<O extends BaseOptions> = Iterable<Tensor> | readonly ({ params: Iterable<Tensor> } & Partial<O>)[];

/** torch.optim's state dict: state by parameter index, groups with parameter indices. */
export interface OptimizerStateDict<O extends BaseOptions = BaseOptions> {
  /** Per parameter index; tensors are copies made on the GPU (dispose them when done). */
  state: Record<number, Record<string, Tensor | number>>;
  paramGroups: (O & { params: number[]; initialLr?: number })[];
}

interface ParamState {
  /** The packed state (see optimState): step counter slots, then one region per state key. */
  packed: Tensor;
  keys: readonly string[];
  /** Updates dispatched so far: its parity picks the step counter's current slot. */
  calls: number;
}

export abstract class Optimizer<O extends BaseOptions = BaseOptions> {
  readonly paramGroups: ParamGroup<O>[] = [];
  private readonly states = new Map<Tensor, ParamState>();

  /**
   * @param name the class name, used in every error message
   * @param defaults the full default options (PyTorch's defaults)
   * @param options the caller's overrides of the defaults
   */
  protected constructor(
    readonly name: string,
    params: ParamsInput<O>,
    private readonly defaults: O,
    options: Partial<O>,
  ) {
    if (typeof options !== 'object' || options === null) throw new Error(`${name}: options must be an object, got ${options === null ? 'null' : typeof options}`);
    knownKeys(name, options, Object.keys(defaults));
    this.defaults = this.checkOptions({ ...defaults, ...options });
    if (params === null || typeof params !== 'object' || !(Symbol.iterator in params)) throw new Error(`${name}: params must be an array of tensors or of parameter groups`);
    const list = [...params];
    if (list.length === 0) throw new Error(`${name}: got an empty parameter list`);
    const isGroup = (x: unknown) => typeof x === 'object' && x !== null && !(x instanceof Tensor) && 'params' in x;
    if (list.every(isGroup)) for (const g of list as ({ params: Iterable<Tensor> } & Partial<O>)[]) this.addParamGroup(g);
    else this.addGroup({ params: list as Tensor[] } as unknown as { params: Iterable<Tensor> } & Partial<O>, (i) => `params[${i}]`);
  }

  /** Validates a full option set, returning it normalised; throws naming option and value. */
  protected abstract checkOptions(o: O): O;
  /** The names of the per-element state regions for a group's options, in kernel order. */
  protected abstract stateKeys(group: O): readonly string[];
  /** Whether the state dict carries PyTorch's 'step' (Adam does, SGD does not). */
  protected abstract readonly reportsStep: boolean;
  /**
   * Records the fused update of one parameter in place (adamStep_, sgdStep_): `state` is its
   * packed state (null when stateKeys is empty), `parity` the counter slot holding its step.
   */
  protected abstract launch(param: Tensor, grad: Tensor, state: Tensor | null, group: ParamGroup<O>, update: { parity: number; gate: UpdateGate | null }): void;

  /** Adds a group of parameters with its own options (PyTorch's add_param_group). */
  addParamGroup(group: { params: Iterable<Tensor> } & Partial<O>): void {
    const index = this.paramGroups.length;
    this.addGroup(group, (i) => `params[${i}] of group ${index}`);
  }

  private addGroup(group: { params: Iterable<Tensor> } & Partial<O>, label: (i: number) => string): void {
    if (typeof group !== 'object' || group === null || !group.params || typeof group.params !== 'object')
      throw new Error(`${this.name}: a parameter group must be an object with 'params'`);
    const { params, ...opts } = group;
    knownKeys(this.name, opts, [...Object.keys(this.defaults), 'initialLr']);
    const tensors = [...(params instanceof Tensor ? [params] : params)];
    const index = this.paramGroups.length;
    const seen = new Set(this.params);
    tensors.forEach((p, i) => {
      const where = label(i);
      trainable(this.name, p, where);
      if (seen.has(p)) throw new Error(`${this.name}: ${where} (${p.describe()}) appears more than once among the parameters`);
      seen.add(p);
    });
    if (tensors.length === 0) throw new Error(`${this.name}: parameter group ${index} has no parameters`);
    this.paramGroups.push({ ...this.checkOptions({ ...this.defaults, ...opts } as O), params: tensors });
  }

  /** Every parameter, in group order: the indices of the state dict. */
  get params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /**
   * Updates every parameter that has a gradient, in place: one dispatch per parameter.
   * Parameters whose grad is null are skipped (their state does not advance).
   */
  step(): void {
    this.stepWith(null);
  }

  /**
   * step() under a GradScaler's gate (the scaler calls this): the kernels skip the update when
   * the scaler's GPU flag says a gradient overflowed, and unscale the gradients as they read.
   */
  stepWith(gate: UpdateGate | null): void {
    for (const group of this.paramGroups)
      for (const p of group.params) {
        const g = p.grad;
        if (!g) continue;
        this.checkGrad(p, g);
        // An empty parameter has nothing to update (and would launch no workgroups).
        if (p.size === 0) continue;
        const st = this.stateFor(p, group);
        this.launch(p, g, st?.packed ?? null, group, { parity: (st?.calls ?? 0) % 2, gate });
        if (st) st.calls++;
      }
  }

  /** Disposes every gradient and sets it to null (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * PyTorch's state_dict(): { state: { index: { step, exp_avg, ... } }, paramGroups }. The
   * tensors are snapshots copied on the GPU (no readback); the caller disposes them.
   */
  stateDict(): OptimizerStateDict<O> {
    const index = new Map(this.params.map((p, i) => [p, i]));
    const state: OptimizerStateDict<O>['state'] = {};
    for (const [p, st] of this.states) {
      const entry: Record<string, Tensor> = {};
      if (this.reportsStep) entry.step = keep(optimStateStep(st.packed, p, st.calls % 2));
      for (const [k, key] of st.keys.entries()) entry[key] = keep(optimStateRegion(st.packed, p, k, `optim-${key}`));
      state[index.get(p)!] = entry;
    }
    let at = 0;
    const paramGroups = this.paramGroups.map(({ params, ...opts }) => ({ ...structuredClone(opts), params: params.map(() => at++) }) as O & { params: number[] });
    return { state, paramGroups };
  }

  /**
   * Loads a state dict made by stateDict(): hyperparameters per group (camelCase options) and
   * per-parameter state, copied on the GPU. The dict's tensors stay the caller's.
   */
  loadStateDict(sd: OptimizerStateDict<O>): void {
    const where = `${this.name}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object' || sd.state === null)
      throw new Error(`${where}: expected { state, paramGroups }`);
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new Error(`${where}: the state dict has ${sd.paramGroups.length} parameter groups, this optimizer ${this.paramGroups.length}`);
    const groups = sd.paramGroups.map(({ params, ...opts }, i) => {
      if (!Array.isArray(params) || params.length !== this.paramGroups[i]!.params.length)
        throw new Error(`${where}: group ${i} has ${Array.isArray(params) ? params.length : 'no'} parameters in the state dict, ${this.paramGroups[i]!.params.length} here`);
      knownKeys(this.name, opts, [...Object.keys(this.defaults), 'initialLr']);
      return { ...this.checkOptions({ ...this.defaults, ...opts } as O), ...('initialLr' in opts ? { initialLr: opts.initialLr } : {}) };
    });
    const params = this.params;
    const ids = sd.paramGroups.flatMap((g) => g.params);
    const fresh = new Map<Tensor, ParamState>();
    try {
      for (const [key, entry] of Object.entries(sd.state)) {
        const at = ids.indexOf(Number(key));
        if (at < 0) throw new Error(`${where}: state for parameter ${key}, which no group lists`);
        const p = params[at]!;
        const group = groups[this.paramGroups.findIndex((g) => g.params.includes(p))]!;
        fresh.set(p, this.loadState(p, group, entry, `${where}: state[${key}]`));
      }
    } catch (e) {
      for (const st of fresh.values()) st.packed.dispose();
      throw e;
    }
    this.disposeState();
    for (const [p, st] of fresh) this.states.set(p, st);
    groups.forEach((g, i) => Object.assign(this.paramGroups[i]!, g));
  }

  /** Frees the optimizer state (the parameters stay); the optimizer can start over. */
  dispose(): void {
    this.disposeState();
  }

  private disposeState(): void {
    for (const st of this.states.values()) st.packed.dispose();
    this.states.clear();
  }

  private checkGrad(p: Tensor, g: Tensor): void {
    if (g.isDisposed) throw new Error(`${this.name}.step: the grad of ${p.describe()} has been disposed (set it to null instead)`);
    if (g.dtype !== 'f32') throw new Error(`${this.name}.step: the grad of ${p.describe()} has dtype ${g.dtype}; expected f32`);
    if (g.size !== p.size) throw new Error(`${this.name}.step: the grad of ${p.describe()} has shape [${g.shape.join(', ')}]`);
    if (g.device !== p.device) throw new Error(`${this.name}.step: the grad of ${p.describe()} is on another device`);
  }

  /** The parameter's state, created zeroed at its first update (as PyTorch creates it lazily). */
  private stateFor(p: Tensor, group: ParamGroup<O>): ParamState | null {
    const keys = this.stateKeys(group);
    let st = this.states.get(p);
    if (st && st.keys.length !== keys.length) {
      // The group's options changed the state's shape (e.g. momentum turned on): start afresh.
      st.packed.dispose();
      this.states.delete(p);
      st = undefined;
    }
    if (st || keys.length === 0) return st ?? null;
    st = { packed: this.allocate(p, keys.length), keys, calls: 0 };
    this.states.set(p, st);
    return st;
  }

  private allocate(p: Tensor, regions: number): Tensor {
    return keep(optimState(p, regions, `${this.name}-state`));
  }

  private loadState(p: Tensor, group: O, entry: Record<string, Tensor | number>, where: string): ParamState {
    if (typeof entry !== 'object' || entry === null) throw new Error(`${where}: expected an object of state tensors`);
    const keys = this.stateKeys(group);
    for (const key of keys) {
      const t = entry[key];
      if (!(t instanceof Tensor)) throw new Error(`${where}: missing tensor '${key}' (expected ${keys.join(', ')})`);
      t.assertAlive(where);
      if (t.size !== p.size || t.dtype !== 'f32') throw new Error(`${where}: '${key}' is ${t.dtype} [${t.shape.join(', ')}], the parameter is f32 [${p.shape.join(', ')}]`);
    }
    let step = 1;
    const stepEntry = entry.step;
    if (this.reportsStep) {
      if (!(stepEntry instanceof Tensor) && typeof stepEntry !== 'number') throw new Error(`${where}: missing 'step'`);
      if (stepEntry instanceof Tensor && (stepEntry.size !== 1 || stepEntry.dtype !== 'f32')) throw new Error(`${where}: 'step' must be one f32 value`);
      if (typeof stepEntry === 'number') step = stepEntry;
    }
    const packed = keep(Tensor.empty(p.device, [optimStateSize(p.size, keys.length)], `${this.name}-state`));
    // Both slots hold the step, so the parity of the (reset) call count does not matter.
    // (SGD keeps no step: its kernel never reads the counter.)
    try {
      loadOptimState_(packed, p, keys.map((key) => entry[key] as Tensor), this.reportsStep && stepEntry instanceof Tensor ? stepEntry : step);
    } catch (e) {
      packed.dispose();
      throw e;
    }
    return { packed, keys, calls: 0 };
  }
}
