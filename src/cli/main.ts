// The `webgpu-ebm` command. Subcommands: demo, info, bench. (train and sample come with the
// trainer issue.)
import { parseArgs } from 'node:util';
import * as ebm from '../index.js';
import { runBench } from './bench.js';
import { runDemo } from './demo.js';

const USAGE = `usage: webgpu-ebm <command> [options]

commands:
  demo   fit a small MLP on GPU-made 2-D data with gradient descent, printing progress
         --steps N (300)  --points N (512)  --hidden N (32)  --lr X (0.1)  --seed N (0)
  info   print the WebGPU adapter, its features and limits
  bench  time the kernels (median of runs), optionally against tfjs on the same adapter
         [suite ...] --json --compare tfjs --repeat N (10) --warmup N (2); bench --help for more`;

function fail(msg: string): never {
  process.stderr.write(`webgpu-ebm: ${msg}\n`);
  process.exit(2);
}

function int(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) fail(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  try {
    if (command === 'demo') {
      let values: Record<string, string | boolean | undefined>;
      try {
        ({ values } = parseArgs({
          args: rest,
          options: { steps: { type: 'string' }, points: { type: 'string' }, hidden: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' } },
        }));
      } catch (e) {
        fail(`${(e as Error).message} (valid options: --steps --points --hidden --lr --seed)`);
      }
      const lr = values.lr === undefined ? 0.1 : Number(values.lr);
      if (!(lr > 0)) fail(`--lr must be a positive number, got '${values.lr}'`);
      await runDemo({
        steps: int('steps', values.steps as string | undefined, 300),
        points: int('points', values.points as string | undefined, 512),
        hidden: int('hidden', values.hidden as string | undefined, 32),
        lr,
        seed: values.seed === undefined ? 0 : int('seed', values.seed as string, 0),
        logEvery: 25,
        log: (l) => process.stdout.write(`${l}\n`),
      });
    } else if (command === 'info') {
      const rt = await ebm.init();
      const l = rt.device.limits;
      process.stdout.write(
        `adapter: ${rt.info.description}\nsoftware adapter: ${rt.info.isSoftware}\nfeatures: ${[...rt.info.features].join(', ') || 'none'}\n` +
          `maxStorageBufferBindingSize: ${l.maxStorageBufferBindingSize}\nmaxComputeWorkgroupStorageSize: ${l.maxComputeWorkgroupStorageSize}\n` +
          `maxComputeWorkgroupsPerDimension: ${l.maxComputeWorkgroupsPerDimension}\n`,
      );
    } else if (command === 'bench') {
      await runBench(rest, { write: (l) => process.stdout.write(`${l}\n`) });
    } else {
      fail(`unknown command '${command}' (valid: demo, info, bench)\n${USAGE}`);
    }
  } catch (e) {
    fail((e as Error).message);
  } finally {
    // Dawn keeps Node alive while its device exists.
    ebm.shutdown();
  }
}
