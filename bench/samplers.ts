// samplers: every sampler on the 2-128-128-128-1 SiLU MLP energy, 256 and 4,096 chains x 20
// steps, one sample() call per run, ours only (no peer has these samplers). Chain-steps per
// second are chains * steps / (ms / 1000), with chains the rows the sampler advances: parallel
// tempering runs 4 replicas of chains / 4 returned chains, so every case moves the same number
// of states. Langevin appears twice (the fused MLP path and the general path) as the baseline
// the others compare with: MALA is Langevin plus an energy and two small dispatches a step,
// HMC (3 leapfrog steps) three gradients, Nesterov a few elementwise ops, Flow (Heun) two
// gradients.
import * as ebm from '../src/index.js';
import { FlowSampler, GradientDescentSampler, HamiltonianMonteCarlo, Heun, LangevinDynamics, MetropolisAdjustedLangevin, NesterovSampler, ParallelTempering } from '../src/train/index.js';
import type { BenchCase, Suite } from './suite.js';

const WIDTHS = [2, 128, 128, 128, 1] as const;
const STEPS = 20;
export const SAMPLER_CHAINS = [256, 4096] as const;

type Make = (e: ebm.MLPEnergyModel) => { sample(o: ebm.SampleOptions): ebm.Tensor };

/** Per sampler: its name in the table, how it is built, and how many rows it is called with per chain. */
const SAMPLERS: readonly { name: string; make: Make; rowsPerCall?: number }[] = [
  { name: 'langevin fused', make: (e) => new LangevinDynamics(e, { stepSize: 0.01 }) },
  { name: 'langevin general', make: (e) => new LangevinDynamics(e, { stepSize: 0.01, fused: false }) },
  { name: 'mala', make: (e) => new MetropolisAdjustedLangevin(e, { stepSize: 0.01 }) },
  { name: 'hmc L=3', make: (e) => new HamiltonianMonteCarlo(e, { stepSize: 0.05, nLeapfrogSteps: 3 }) },
  { name: 'pt 4 replicas mala', make: (e) => new ParallelTempering(e, { nReplicas: 4, maxTemperature: 8, stepSize: 0.01 }), rowsPerCall: 1 / 4 },
  { name: 'gradient descent', make: (e) => new GradientDescentSampler(e, { stepSize: 0.01 }) },
  { name: 'nesterov', make: (e) => new NesterovSampler(e, { stepSize: 0.01, momentum: 0.9 }) },
  { name: 'flow heun', make: (e) => new FlowSampler(e, { integrator: new Heun(), t1: 0.2 }) },
];

function samplerCase(name: string, make: Make, chains: number, rowsPerCall: number): BenchCase {
  return {
    name: `${name} ${chains}x${STEPS}`,
    flops: null,
    steps: STEPS,
    ours: () => {
      const model = new ebm.MLPEnergyModel({ inputDim: WIDTHS[0], hiddenDims: WIDTHS.slice(1, -1), activation: 'silu', seed: 1 });
      const sampler = make(model);
      const x0 = ebm.randn([chains * rowsPerCall, WIDTHS[0]], { seed: 2 });
      let seed = 0;
      return {
        run: () => sampler.sample({ x: x0, nSteps: STEPS, seed: seed++ }),
        dispose: () => {
          x0.dispose();
          model.dispose();
        },
      };
    },
  };
}

export function samplersSuite(): Suite {
  return {
    name: 'samplers',
    missing: () => null,
    cases: () => SAMPLER_CHAINS.flatMap((chains) => SAMPLERS.map((s) => samplerCase(s.name, s.make, chains, s.rowsPerCall ?? 1))),
  };
}
