// GradScaler: torch.amp.GradScaler's dynamic loss scaling, kept entirely on the GPU.
//
// The scale is a 0-d GPU tensor; a small tensor of flag words holds the good-step counter and
// one found-inf flag per optimizer. step(optimizer) records the inf/NaN check over the gradients
// (six per dispatch) and then the optimizer's fused kernels, which read the flag and the scale
// themselves: they skip the update when the flag is set and unscale the gradient as they read
// it, so whether to skip is never decided on the CPU. update() is one single-invocation kernel
// that grows or backs off the scale. Nothing reads back unless getScale(), foundInf(),
// getGrowthTracker() or stateDict() is called.
import { keep, noGrad, reciprocal, Tensor, type Runtime } from '../tensor/index.js';
import { checkFinite_, readWords, scalerFlagWord, updateScale_, writeData_, type UpdateGate } from '../tensor/ops/fused/index.js';
import type { BaseOptions, Optimizer } from './optim/optimizer.js';

export interface GradScalerOptions {
  /** The first scale (PyTorch: 2^16). */
  initScale: number;
  /** Multiplies the scale after growthInterval consecutive good steps (2). */
  growthFactor: number;
  /** Multiplies the scale after a step with an inf or NaN gradient (0.5). */
  backoffFactor: number;
  /** Good steps before the scale grows (2000). */
  growthInterval: number;
  /** false: scale() returns its input and step() is optimizer.step(). */
  enabled: boolean;
}

export interface GradScalerState {
  scale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  growthTracker: number;
}

const DEFAULTS: GradScalerOptions = { initScale: 2 ** 16, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000, enabled: true };
/** Flag words: a header (tracker, last found-inf, skipped count) and one flag per optimizer. */
const FLAG_WORDS = 16;

type Stage = 'ready' | 'unscaled' | 'stepped';
type AnyOptimizer = Optimizer<BaseOptions>;

interface Device {
  rt: Runtime;
  scale: Tensor;
  /** FLAG_WORDS u32 words (see scalerFlagWord). */
  flags: Tensor;
}

export class GradScaler {
  readonly options: GradScalerOptions;
  private dev: Device | null = null;
  /** Each optimizer's flag word and where it is in the scale / unscale / step / update cycle. */
  private readonly optimizers = new Map<AnyOptimizer, { flag: number; stage: Stage }>();
  /** A growth tracker loaded before the scale and flag words exist. */
  private pendingTracker = 0;

  constructor(options: Partial<GradScalerOptions> = {}) {
    for (const k of Object.keys(options)) if (!(k in DEFAULTS)) throw new Error(`GradScaler: unknown option '${k}' (known: ${Object.keys(DEFAULTS).join(', ')})`);
    const o = { ...DEFAULTS, ...options };
    const bad = (option: string, rule: string, v: unknown): never => {
      throw new Error(`GradScaler: option '${option}' ${rule}, got ${String(v)}`);
    };
    if (!(o.initScale > 0) || !Number.isFinite(o.initScale)) bad('initScale', 'must be a finite number > 0', o.initScale);
    if (!(o.growthFactor > 1) || !Number.isFinite(o.growthFactor)) bad('growthFactor', 'must be a finite number > 1', o.growthFactor);
    if (!(o.backoffFactor > 0 && o.backoffFactor < 1)) bad('backoffFactor', 'must be in (0, 1)', o.backoffFactor);
    if (!Number.isInteger(o.growthInterval) || o.growthInterval < 1) bad('growthInterval', 'must be an integer >= 1', o.growthInterval);
    if (typeof o.enabled !== 'boolean') bad('enabled', 'must be a boolean', o.enabled);
    this.options = o;
  }

  isEnabled(): boolean {
    return this.options.enabled;
  }

  /** The current scale as a 0-d GPU tensor (null before the first scale() or step()). */
  get scaleTensor(): Tensor | null {
    return this.dev?.scale ?? null;
  }

  /** loss * scale, on the tape: backward() then yields scaled gradients. */
  scale(loss: Tensor): Tensor;
  scale(losses: readonly Tensor[]): Tensor[];
  scale(outputs: Tensor | readonly Tensor[]): Tensor | Tensor[] {
    if (Array.isArray(outputs)) return outputs.map((t) => this.scale(t as Tensor));
    const t = outputs as Tensor;
    if (!(t instanceof Tensor)) throw new Error(`GradScaler.scale: expected a Tensor or an array of tensors, got ${t === null ? 'null' : typeof t}`);
    if (!this.options.enabled) return t;
    if (t.dtype !== 'f32') throw new Error(`GradScaler.scale: the loss has dtype ${t.dtype}; scale an f32 loss`);
    return t.mul(this.device(t.device).scale);
  }

  /**
   * Unscales the optimizer's gradients now (PyTorch's unscale_), e.g. before clipping them:
   * each grad is replaced by grad / scale, and the inf check is recorded for step().
   */
  unscale(optimizer: AnyOptimizer): void {
    if (!this.options.enabled) return;
    const st = this.stateOf(optimizer, 'GradScaler.unscale');
    if (st.stage === 'unscaled') throw new Error('GradScaler.unscale: already called on this optimizer since the last update()');
    if (st.stage === 'stepped') throw new Error('GradScaler.unscale: called after step(); call it before step(), once per update()');
    const dev = this.check(optimizer, st.flag);
    noGrad(() => {
      const inv = reciprocal(dev.scale);
      // One replacement per gradient object: parameters may share one (add passes g to both).
      const done = new Map<Tensor, Tensor>();
      for (const p of optimizer.params) {
        const g = p.grad;
        if (!g) continue;
        let u = done.get(g);
        if (!u) done.set(g, (u = keep(g.mul(inv))));
        p.grad = u;
      }
      for (const g of done.keys()) g.dispose();
      inv.dispose();
    });
    st.stage = 'unscaled';
  }

  /**
   * optimizer.step() unless a gradient holds inf or NaN; decided on the GPU, so this records
   * work and returns at once. Gradients not yet unscaled are unscaled inside the update.
   */
  step(optimizer: AnyOptimizer): void {
    if (!this.options.enabled) return optimizer.step();
    const st = this.stateOf(optimizer, 'GradScaler.step');
    if (st.stage === 'stepped') throw new Error('GradScaler.step: already called on this optimizer since the last update()');
    const unscale = st.stage === 'ready';
    const dev = unscale ? this.check(optimizer, st.flag) : this.dev!;
    const gate: UpdateGate = { flags: dev.flags, scale: dev.scale, flagIndex: st.flag, unscale };
    optimizer.stepWith(gate);
    st.stage = 'stepped';
  }

  /**
   * Backs the scale off after a step with an inf (and resets the good-step count), or grows it
   * after growthInterval good steps; with `newScale`, sets it instead. One dispatch.
   */
  update(newScale?: number): void {
    if (!this.options.enabled) return;
    if (newScale !== undefined && (!(newScale > 0) || !Number.isFinite(newScale))) throw new Error(`GradScaler.update: newScale must be a finite number > 0, got ${newScale}`);
    const checked = [...this.optimizers.values()].some((s) => s.stage !== 'ready');
    if (newScale === undefined && !checked) throw new Error('GradScaler.update: no inf checks were recorded since the last update(); call step(optimizer) first');
    if (!this.dev) {
      // Only reachable with newScale before any scale(): nothing on a device yet.
      this.options.initScale = newScale!;
      return;
    }
    updateScale_(this.dev.flags, this.dev.scale, {
      optimizers: this.optimizers.size,
      growthFactor: this.options.growthFactor,
      backoffFactor: this.options.backoffFactor,
      growthInterval: this.options.growthInterval,
      newScale,
    });
    for (const s of this.optimizers.values()) s.stage = 'ready';
  }

  /** The scale (reads it back). PyTorch's get_scale(). */
  async getScale(): Promise<number> {
    if (!this.options.enabled) return 1;
    return this.dev ? this.dev.scale.item() : this.options.initScale;
  }

  /** Good steps since the scale last changed (reads it back). */
  async getGrowthTracker(): Promise<number> {
    return this.readFlag('tracker');
  }

  /** Whether the step before the last update() found an inf or NaN and was skipped (reads back). */
  async foundInf(): Promise<boolean> {
    return (await this.readFlag('last_found')) !== 0;
  }

  /** Steps skipped so far because of inf or NaN gradients (reads back). */
  async skippedSteps(): Promise<number> {
    return this.readFlag('skipped');
  }

  async stateDict(): Promise<GradScalerState> {
    const { growthFactor, backoffFactor, growthInterval } = this.options;
    return { scale: await this.getScale(), growthFactor, backoffFactor, growthInterval, growthTracker: await this.getGrowthTracker() };
  }

  loadStateDict(sd: GradScalerState): void {
    const next = new GradScaler({ initScale: sd.scale, growthFactor: sd.growthFactor, backoffFactor: sd.backoffFactor, growthInterval: sd.growthInterval, enabled: this.options.enabled });
    if (!Number.isInteger(sd.growthTracker) || sd.growthTracker < 0) throw new Error(`GradScaler.loadStateDict: 'growthTracker' must be an integer >= 0, got ${sd.growthTracker}`);
    Object.assign(this.options, next.options);
    if (!this.dev) {
      this.pendingTracker = sd.growthTracker;
      return;
    }
    writeData_(this.dev.scale, new Float32Array([sd.scale]));
    writeData_(this.dev.flags, new Uint32Array([sd.growthTracker]), scalerFlagWord(this.dev.rt, 'tracker'));
  }

  /** Frees the scale and the flag words. */
  dispose(): void {
    if (!this.dev) return;
    this.dev.scale.dispose();
    this.dev.flags.dispose();
    this.dev = null;
    this.optimizers.clear();
  }

  private async readFlag(name: 'tracker' | 'last_found' | 'skipped'): Promise<number> {
    if (!this.dev) return name === 'tracker' ? this.pendingTracker : 0;
    const word = scalerFlagWord(this.dev.rt, name);
    return (await readWords(this.dev.flags, word, 1))[0]!;
  }

  /** The scale and flags on `rt`, made at first use (the scale starts at initScale). */
  private device(rt: Runtime): Device {
    if (this.dev) {
      if (this.dev.rt !== rt) throw new Error('GradScaler: tensors from two devices; a scaler serves one device');
      return this.dev;
    }
    // Fresh tensors no pending work uses: the uploads cannot force a submit.
    const scale = keep(Tensor.empty(rt, [], 'grad-scaler-scale'));
    writeData_(scale, new Float32Array([this.options.initScale]));
    const flags = keep(Tensor.empty(rt, [FLAG_WORDS], 'grad-scaler-flags'));
    const init = new Uint32Array(FLAG_WORDS);
    init[scalerFlagWord(rt, 'tracker')] = this.pendingTracker;
    writeData_(flags, init);
    return (this.dev = { rt, scale, flags });
  }

  private stateOf(optimizer: AnyOptimizer, where: string): { flag: number; stage: Stage } {
    let st = this.optimizers.get(optimizer);
    if (st) return st;
    if (!optimizer || typeof (optimizer as { stepWith?: unknown }).stepWith !== 'function') throw new Error(`${where}: expected an optimizer (SGD, Adam, AdamW)`);
    const rt = optimizer.params[0]!.device;
    const first = scalerFlagWord(rt, 'first_optimizer');
    const flag = first + this.optimizers.size;
    if (flag >= FLAG_WORDS) throw new Error(`${where}: one GradScaler serves at most ${FLAG_WORDS - first} optimizers`);
    st = { flag, stage: 'ready' };
    this.optimizers.set(optimizer, st);
    return st;
  }

  /** Records the inf/NaN check of the optimizer's gradients into its flag: ceil(grads / 6) dispatches. */
  private check(optimizer: AnyOptimizer, flag: number): Device {
    const grads = optimizer.params.flatMap((p) => (p.grad && p.grad.size ? [p.grad] : []));
    const dev = this.device(optimizer.params[0]!.device);
    checkFinite_(dev.flags, grads, flag, dev.scale);
    return dev;
  }
}
