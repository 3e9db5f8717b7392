// The fused MLP sampler's schedules (src/kernels/langevin-mlp.ts): 'subgroup8' (lavapipe's and
// most GPUs' choice), 'subgroup4' (SwiftShader's: 4-lane subgroups) and 'workgroup' (adapters
// without subgroups), each forced through rt.tuning.langevinMlp on this device. Each must run
// its own shader (rt.stats.byShader) and give the general path's chains for the same seed, to
// f32 round-off, for every activation and for the layer shapes that exercise its tiling
// (widths padded to 32, several 32-row blocks, the workgroup schedule's chunks of 16 input
// vec4s, dim 5, blocks of chains, several dispatches per call). The choice per adapter is
// checked on described adapters.
//
// Compile time: lavapipe compiles each schedule's pipeline once and Mesa's shader cache keeps it
// (then this file takes seconds). A cold compile of these kernels takes minutes on a loaded
// 2-core machine (measured: 'workgroup' 13 min, 'subgroup8' 4 min at a load average of 30; the
// pre-schedule kernel 7.5 min), so the first test of each schedule may wait that long.
const COLD_COMPILE_MS = 20 * 60_000;
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { LANGEVIN_MLP_SCHEDULES, langevinMlpSchedule, langevinMlpShader, type LangevinMlpSchedule } from '../src/kernels/langevin-mlp.js';
import { ACTIVATION_MODULES } from '../src/nn/layers/activation.js';
import type { Activation } from '../src/kernels/activation-table.js';

let rt: ebm.Runtime;
beforeAll(async () => {
  rt = await device();
});
afterEach(() => {
  delete rt.tuning.langevinMlp;
  delete rt.tuning.langevinMlpMaxChains;
});

const dispatches = () => rt.stats.dispatches;

/** Chains agree to f32 round-off: every coordinate within tol * max(1, |general|). */
async function expectSameChains(fused: Tensor, general: Tensor, tol: number, what: string): Promise<void> {
  const [a, b] = await Promise.all([fused.data(), general.data()]);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  expect(worst, `${what}: largest scaled |fused - general|`).toBeLessThanOrEqual(tol);
}

/**
 * Runs `energy`'s chains fused under `schedule` and on the general path; checks the shader that
 * ran and the dispatch count, and returns both results.
 */
function runBoth(schedule: LangevinMlpSchedule, energy: ebm.BaseEnergyFunction, x0: Tensor, nSteps: number, opts: ebm.LangevinOptions, expectedDispatches: number | null) {
  rt.tuning.langevinMlp = schedule;
  const shader = langevinMlpShader(schedule);
  const ranBefore = rt.stats.byShader.get(shader) ?? 0;
  const before = dispatches();
  const sampler = new ebm.LangevinDynamics(energy, opts);
  expect(sampler.fusedSupport()).toEqual({ fused: true });
  const fused = sampler.sample({ x: x0, nSteps, seed: 9 });
  const ran = dispatches() - before;
  if (expectedDispatches !== null) expect(ran, 'fused dispatches').toBe(expectedDispatches);
  expect((rt.stats.byShader.get(shader) ?? 0) - ranBefore, `the ${schedule} schedule ran ${shader}, every dispatch`).toBe(ran);
  const general = new ebm.LangevinDynamics(energy, { ...opts, fused: false }).sample({ x: x0, nSteps, seed: 9 });
  return { fused, general, dispatches: ran };
}

/** Each activation with its defaults, and the parameterised ones with another first parameter. */
const ACTIVATIONS: { name: string; activation: Activation; param?: number }[] = [
  ...(Object.keys(ACTIVATION_MODULES) as Activation[]).map((activation) => ({ name: activation, activation })),
  { name: 'leakyRelu(0.2)', activation: 'leakyRelu', param: 0.2 },
  { name: 'elu(0.5)', activation: 'elu', param: 0.5 },
  { name: 'softplus(beta 2)', activation: 'softplus', param: 2 },
];

function mlp(activation: Activation, param: number | undefined, inputDim: number, hiddenDims: number[], seed: number): ebm.BaseEnergyFunction {
  if (activation === 'none') {
    const layers: ebm.Module[] = [];
    let prev = inputDim;
    hiddenDims.forEach((h, i) => {
      layers.push(new ebm.Linear(prev, h, { seed: seed + i }));
      prev = h;
    });
    return new ebm.NeuralEnergyFunction(new ebm.Sequential(...layers, new ebm.Linear(prev, 1, { seed: seed + 10 })));
  }
  const cls = ACTIVATION_MODULES[activation] as new (...args: number[]) => ebm.Module;
  return new ebm.MLPEnergyModel({ inputDim, hiddenDims, activation: param === undefined ? new cls() : new cls(param), seed });
}

describe.each(LANGEVIN_MLP_SCHEDULES)('the %s schedule, forced', (schedule) => {
  const skipUnlessRuns = (ctx: { skip: (why: string) => void }) => {
    rt.tuning.langevinMlp = schedule;
    const ran = langevinMlpSchedule(rt);
    delete rt.tuning.langevinMlp;
    if (ran !== schedule) ctx.skip(`this device cannot run the ${schedule} schedule (it would run ${ran})`);
  };

  it('every activation: the general path chains (3-16-16-1, 24 chains, 4 steps)', async (ctx) => {
    skipUnlessRuns(ctx);
    const x0 = ebm.randn([24, 3], { seed: 24 });
    for (const c of ACTIVATIONS) {
      const { fused, general } = runBoth(schedule, mlp(c.activation, c.param, 3, [16, 16], 21), x0, 4, { stepSize: 0.02 }, 1);
      // As test/activations.test.ts: 4 steps from these starts stay clear of the kinks.
      await expectSameChains(fused, general, 1e-4, `${schedule}, ${c.name}`);
      fused.dispose();
      general.dispose();
    }
    x0.dispose();
  }, COLD_COMPILE_MS);

  const shapes = [
    // 128 wide: 4 blocks of 32 rows, 32 input vec4s (two workgroup-memory chunks) in both passes.
    { name: 'SiLU 2-128-128-1, 61 chains, 20 steps', dim: 2, hidden: [128, 128], act: 'silu' as const, chains: 61, steps: 20, opts: {}, dispatches: 1 },
    { name: 'Tanh 3-32-48-1 (48 padded to 64), clamp [-1, 1]', dim: 3, hidden: [32, 48], act: 'tanh' as const, chains: 37, steps: 20, opts: { clamp: { min: -1, max: 1 } }, dispatches: 1 },
    { name: 'GELU 5-16-16-16-1 (noise groups straddle chains), 3 steps per dispatch', dim: 5, hidden: [16, 16, 16], act: 'gelu' as const, chains: 29, steps: 7, opts: { fused: { stepsPerDispatch: 3 } }, dispatches: 3 },
  ];
  for (const s of shapes)
    it(s.name, async (ctx) => {
      skipUnlessRuns(ctx);
      const x0 = ebm.randn([s.chains, s.dim], { seed: 100 });
      const { fused, general } = runBoth(schedule, mlp(s.act, undefined, s.dim, s.hidden, 5), x0, s.steps, { stepSize: 0.01, ...s.opts }, s.dispatches);
      await expectSameChains(fused, general, 1e-4, `${schedule}, ${s.name}`);
      for (const t of [x0, fused, general]) t.dispose();
    });

  it('chains in blocks (rt.tuning.langevinMlpMaxChains): one dispatch per block, the same chains', async (ctx) => {
    skipUnlessRuns(ctx);
    // A cap of 1 makes each block one workgroup (64 invocations for 'workgroup', one subgroup
    // of 8 for the others on lavapipe): 130 chains take 3 blocks or more.
    rt.tuning.langevinMlpMaxChains = '1';
    const x0 = ebm.randn([130, 3], { seed: 101 });
    const { fused, general, dispatches: n } = runBoth(schedule, mlp('silu', undefined, 3, [64, 32], 13), x0, 6, { stepSize: 0.02 }, null);
    expect(n, 'dispatches (one per block)').toBeGreaterThanOrEqual(3);
    await expectSameChains(fused, general, 1e-4, `${schedule}, 130 chains in ${n} blocks`);
    for (const t of [x0, fused, general]) t.dispose();
  });
});

describe('the schedule chosen per adapter', () => {
  /** A runtime as langevinMlpSchedule sees it: the adapter's description, every shader compiles. */
  const adapter = (subgroups: boolean, min: number, max: number, tuning: Record<string, string> = {}) =>
    ({ info: { features: new Set(subgroups ? ['subgroups'] : []), subgroupMinSize: min, subgroupMaxSize: max, isSoftware: true }, pipelines: { runnable: () => true }, tuning }) as unknown as ebm.Runtime;

  it('8-lane subgroups or wider: subgroup8; 4-lane: subgroup4; none, or sizes not given: workgroup', () => {
    expect(langevinMlpSchedule(adapter(true, 8, 8))).toBe('subgroup8');
    expect(langevinMlpSchedule(adapter(true, 32, 64))).toBe('subgroup8');
    expect(langevinMlpSchedule(adapter(true, 4, 4))).toBe('subgroup4');
    expect(langevinMlpSchedule(adapter(true, 4, 32))).toBe('subgroup4');
    expect(langevinMlpSchedule(adapter(false, 0, 0))).toBe('workgroup');
    expect(langevinMlpSchedule(adapter(true, 0, 0))).toBe('workgroup');
    expect(langevinMlpSchedule(adapter(true, 2, 2))).toBe('workgroup');
  });

  it('rt.tuning.langevinMlp forces a schedule the adapter runs; one it cannot run gives way; a bad name is an error', () => {
    expect(langevinMlpSchedule(adapter(true, 8, 8, { langevinMlp: 'subgroup4' }))).toBe('subgroup4');
    expect(langevinMlpSchedule(adapter(true, 8, 8, { langevinMlp: 'workgroup' }))).toBe('workgroup');
    expect(langevinMlpSchedule(adapter(true, 8, 8, { langevinMlp: 'auto' }))).toBe('subgroup8');
    expect(langevinMlpSchedule(adapter(true, 4, 4, { langevinMlp: 'subgroup8' }))).toBe('subgroup4');
    expect(langevinMlpSchedule(adapter(false, 0, 0, { langevinMlp: 'subgroup4' }))).toBe('workgroup');
    expect(() => langevinMlpSchedule(adapter(true, 8, 8, { langevinMlp: 'sg4' }))).toThrow("rt.tuning.langevinMlp must be 'auto' or one of subgroup8, subgroup4, workgroup, got 'sg4'");
  });

  it('this device', () => {
    const info = rt.info;
    const expected = info.features.has('subgroups') && info.subgroupMinSize >= 8 ? 'subgroup8' : info.features.has('subgroups') && info.subgroupMinSize >= 4 ? 'subgroup4' : 'workgroup';
    expect(langevinMlpSchedule(rt)).toBe(expected);
  });
});
