// What every training run of the CLI (2-D and image) does around EBMTrainer.fit: refuse a run
// folder that holds another run unless --force, and on each step tick the progress bar, read
// back and log the metrics every logEvery steps (metrics.jsonl, steps/s over the last few logged
// steps) and checkpoint every checkpointEvery steps.
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as ebm from '../index.js';
import { UsageError } from './errors.js';
import type { Output, Progress } from './progress.js';

/** Refuses a run into `outDir` when it holds one of `runFiles`, unless `force` (which says what it replaces). */
export function guardRunFolder(outDir: string, runFiles: readonly string[], force: boolean | undefined, out: Output): void {
  const held = runFiles.filter((f) => existsSync(join(outDir, f)));
  if (held.length && !force)
    throw new UsageError(`the run folder '${outDir}' already holds a run (${held.join(', ')}); continue it with --resume ${outDir}, choose another --out, or replace it with --force`);
  if (held.length) out.write(`--force: replacing the run in ${outDir}/ (${held.join(', ')})`);
}

export interface MetricLine {
  step: number;
  [k: string]: number | string | number[];
}

/** fit()'s onStep for a CLI run, and the last metrics it read back. */
export function stepLogger(o: {
  total: number;
  startStep: number;
  logEvery: number;
  checkpointEvery: number;
  metricsPath: string;
  history: MetricLine[];
  started: number;
  progress: Progress;
  checkpoint: () => Promise<void>;
}): { onStep: (m: ebm.StepMetrics) => Promise<void>; last: () => Record<string, number> } {
  // steps/s over the last few logged steps (one window is too noisy to read).
  const marks: [number, number][] = [[o.startStep, performance.now()]];
  let last: Record<string, number> = {};
  const onStep = async (m: ebm.StepMetrics) => {
    o.progress.tick(m.step);
    if (m.step % o.logEvery === 0 || m.step === o.total) {
      last = await m.read();
      const now = performance.now();
      marks.push([m.step, now]);
      if (marks.length > 6) marks.shift();
      const rate = (m.step - marks[0]![0]) / ((now - marks[0]![1]) / 1000);
      const line: MetricLine = { step: m.step, ...last, steps_per_s: Number(rate.toFixed(3)), elapsed_s: Number(((now - o.started) / 1000).toFixed(2)) };
      o.history.push(line);
      appendFileSync(o.metricsPath, `${JSON.stringify(line)}\n`);
      o.progress.log(m.step, last, rate);
    }
    if (m.step % o.checkpointEvery === 0 || m.step === o.total) await o.checkpoint();
  };
  return { onStep, last: () => last };
}
