// A model declares that it is a plain MLP (Module.asPlainMlp) and the fused Langevin sampler runs
// it: the zoo's declarations, a user's model of its own that declares its layers (fused, with the
// built-in MLP's dispatch count, and the chains of `fused: false`), a user's subclass that
// changes forward() (unfused, unless it declares its layers again), and a malformed declaration.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, fusedIt } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { LangevinDynamics } from '../src/train/index.js';
import { BaseEnergyFunction } from '../src/nn/energy.js';
import type { PlainMlp } from '../src/nn/index.js';

const dispatches = () => ebm.getDevice().stats.dispatches;

beforeAll(async () => {
  await device();
});


/** A user's MLP energy of its own, not built on the zoo: fc1 -> tanh -> fc2 -> silu -> out. */
class MyMlp extends BaseEnergyFunction {
  readonly fc1 = this.registerModule('fc1', new ebm.Linear(3, 24, { seed: 1 }));
  readonly act1 = this.registerModule('act1', new ebm.Tanh());
  readonly fc2 = this.registerModule('fc2', new ebm.Linear(24, 40, { seed: 2 }));
  readonly act2 = this.registerModule('act2', new ebm.SiLU());
  readonly out = this.registerModule('out', new ebm.Linear(40, 1, { seed: 3 }));

  override forward(x: Tensor): Tensor {
    return this.out.forward(this.act2.forward(this.fc2.forward(this.act1.forward(this.fc1.forward(x))))).squeeze(-1);
  }

  override asPlainMlp(): PlainMlp | null {
    return { layers: [this.fc1, this.act1, this.fc2, this.act2, this.out] };
  }
}

/** The same network without the declaration: a BaseEnergyFunction like any other. */
class MyUndeclaredMlp extends MyMlp {
  override asPlainMlp(): null {
    return null;
  }
}

/** An MLPEnergyModel subclass that checks its input in forward() and declares the same network again. */
class CheckedMLP extends ebm.MLPEnergyModel {
  calls = 0;
  override forward(x: Tensor): Tensor {
    this.calls++;
    return super.forward(x);
  }
  override asPlainMlp(): PlainMlp {
    return { layers: [...this.network, this.output_layer] };
  }
}

/** An MLPEnergyModel subclass that changes the energy and declares nothing. */
class DoubledMLP extends ebm.MLPEnergyModel {
  override forward(x: Tensor): Tensor {
    return super.forward(x).mul(2);
  }
}

/** Whether two lists hold the same modules (the same objects), in order. */
function sameModules(a: readonly ebm.Module[] | undefined, b: readonly ebm.Module[]): boolean {
  return !!a && a.length === b.length && a.every((m, i) => m === b[i]);
}

/** Largest |a - b| / max(1, |b|) over all elements. */
async function maxError(a: Tensor, b: Tensor): Promise<number> {
  const [x, y] = await Promise.all([a.data(), b.data()]);
  let e = 0;
  for (let i = 0; i < x.length; i++) e = Math.max(e, Math.abs(x[i]! - y[i]!) / Math.max(1, Math.abs(y[i]!)));
  return e;
}

function run(energy: BaseEnergyFunction, x: Tensor, nSteps: number, fused: boolean) {
  const sampler = new LangevinDynamics(energy, { stepSize: 0.01, fused });
  const before = dispatches();
  const y = sampler.sample({ x, nSteps, seed: 9 });
  return { y, dispatches: dispatches() - before, sampler };
}

describe('what the zoo declares', () => {
  it('MLPEnergyModel: its network then output_layer; a Sequential: its children; NeuralEnergyFunction: its model\'s', () => {
    const m = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [8, 8], activation: 'silu', seed: 1 });
    expect(sameModules(m.asPlainMlp()?.layers, [...m.network, m.output_layer])).toBe(true);
    const seq = new ebm.Sequential(new ebm.Linear(2, 4, { seed: 1 }), new ebm.ReLU(), new ebm.Linear(4, 1, { seed: 2 }));
    expect(sameModules(seq.asPlainMlp()?.layers, [...seq])).toBe(true);
    expect(sameModules(new ebm.NeuralEnergyFunction(seq).asPlainMlp()?.layers, [...seq])).toBe(true);
    const custom = new ebm.CustomEnergyModel({ inputDim: 2, hiddenDim: 8, seed: 1 });
    expect(sameModules(custom.asPlainMlp()?.layers, [...custom.network])).toBe(true);
    // Modules that are not plain MLPs declare nothing; a subclass that changes forward() neither.
    expect(new ebm.Linear(2, 2, { seed: 1 }).asPlainMlp()).toBeNull();
    expect(new DoubledMLP({ inputDim: 2, hiddenDims: [8], seed: 1 }).asPlainMlp()).toBeNull();
    const patched = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [8], seed: 1 });
    patched.forward = (x: Tensor) => x.sum(1);
    expect(patched.asPlainMlp()).toBeNull();
    class LoggingSequential extends ebm.Sequential {
      override forward(x: Tensor): Tensor {
        return super.forward(x).mul(3);
      }
    }
    expect(new LoggingSequential(new ebm.Linear(2, 1, { seed: 1 })).asPlainMlp()).toBeNull();
  });
});

describe('a user model that declares its layers runs fused', () => {
  fusedIt('a BaseEnergyFunction of its own: one dispatch per 32 steps, as the built-in MLP, and the chains of fused: false', async () => {
    const energy = new MyMlp();
    const x0 = ebm.randn([45, 3], { seed: 4 });
    const fused = run(energy, x0, 40, true);
    expect(fused.sampler.fusedSupport()).toEqual({ fused: true });
    expect(fused.dispatches).toBe(2);
    // The built-in MLP of the same shape takes as many.
    const builtIn = run(new ebm.MLPEnergyModel({ inputDim: 3, hiddenDims: [24, 40], activation: 'silu', seed: 5 }), x0, 40, true);
    expect(fused.dispatches).toBe(builtIn.dispatches);
    const general = run(energy, x0, 40, false);
    expect(general.dispatches).toBeGreaterThan(40 * 2);
    expect(await maxError(fused.y, general.y)).toBeLessThan(1e-4);
    // Without the declaration the same network runs the general path, and gives its chains.
    const undeclared = run(new MyUndeclaredMlp(), x0, 40, true);
    expect(undeclared.sampler.fusedSupport()).toEqual({ fused: false, reason: expect.stringMatching(/MyUndeclaredMlp is not an MLPEnergyModel.*does not declare a plain MLP/) });
    expect(undeclared.dispatches).toBe(general.dispatches);
    expect(await maxError(undeclared.y, general.y)).toBe(0);
    for (const t of [x0, fused.y, builtIn.y, general.y, undeclared.y]) t.dispose();
  });

  fusedIt('an MLPEnergyModel subclass that replaces forward() and declares its layers again runs fused; one that does not declare runs unfused', async () => {
    const opts = { inputDim: 2, hiddenDims: [32, 32], activation: 'gelu' as const, seed: 6 };
    const checked = new CheckedMLP(opts);
    const x0 = ebm.randn([30, 2], { seed: 7 });
    const fused = run(checked, x0, 20, true);
    expect(fused.dispatches).toBe(1);
    // The fused kernel computes the network itself: forward() is not called per step.
    expect(checked.calls).toBe(0);
    const general = run(checked, x0, 20, false);
    expect(checked.calls).toBeGreaterThan(0);
    expect(await maxError(fused.y, general.y)).toBeLessThan(1e-4);

    const doubled = new DoubledMLP(opts);
    const d = run(doubled, x0, 20, true);
    expect(d.sampler.fusedSupport().reason).toMatch(/DoubledMLP is not an MLPEnergyModel/);
    expect(d.dispatches).toBeGreaterThan(20 * 2);
    const dGeneral = run(doubled, x0, 20, false);
    expect(await maxError(d.y, dGeneral.y)).toBe(0);
    for (const t of [x0, fused.y, general.y, d.y, dGeneral.y]) t.dispose();
  });

  fusedIt('a Sequential subclass that keeps forward(), inside NeuralEnergyFunction, runs fused', async () => {
    class Net extends ebm.Sequential {}
    const energy = new ebm.NeuralEnergyFunction(new Net(new ebm.Linear(2, 16, { seed: 1 }), new ebm.Tanh(), new ebm.Linear(16, 1, { seed: 2 })));
    const x0 = ebm.randn([16, 2], { seed: 8 });
    const fused = run(energy, x0, 10, true);
    expect(fused.dispatches).toBe(1);
    const general = run(energy, x0, 10, false);
    expect(await maxError(fused.y, general.y)).toBeLessThan(1e-4);
    for (const t of [x0, fused.y, general.y]) t.dispose();
  });
});

describe('declarations the fused kernel cannot run', () => {
  it('a declared layer the kernel does not compute is named; a malformed declaration is an error', () => {
    class Cube extends ebm.Module {
      override forward(x: Tensor): Tensor {
        return x.square().mul(x);
      }
    }
    class Cubed extends MyMlp {
      override asPlainMlp(): PlainMlp {
        return { layers: [this.fc1, new Cube(), this.out] };
      }
    }
    expect(new LangevinDynamics(new Cubed()).fusedSupport([3]).reason).toMatch(/Cube after a Linear is not an activation the fused kernel computes/);
    class Broken extends MyMlp {
      override asPlainMlp(): PlainMlp {
        return { layers: [this.fc1, 'tanh' as unknown as ebm.Module, this.out] };
      }
    }
    expect(() => new LangevinDynamics(new Broken()).fusedSupport([3])).toThrow(/Broken.asPlainMlp\(\) must return \{ layers: Module\[\] \} or null/);
  });
});
