// Training progress: a cli-progress bar on a terminal (step, loss, the energies of data and
// negatives, steps/s, ETA), or plain log lines (--quiet, or output that is not a TTY). The
// numbers come from the logged steps only: the bar's step count moves every step, its metrics
// every logEvery steps, so nothing is read back from the GPU for the bar's sake.
import cliProgress from 'cli-progress';

export interface Output {
  write(line: string): void;
  /** The stream a progress bar draws on; absent or not a TTY: plain lines. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface Progress {
  /** Called every step (cheap). */
  tick(step: number): void;
  /** Called on logged steps, with the numbers read back. */
  log(step: number, m: Record<string, number>, stepsPerSec: number): void;
  stop(): void;
}

export function fmt(v: number | undefined, digits = 4): string {
  if (v === undefined || Number.isNaN(v)) return 'n/a';
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e4 || a < 1e-3) ? v.toExponential(2) : v.toFixed(digits);
}

/** The metric columns the log shows: [label, key]. */
export const COLUMNS: readonly (readonly [string, string])[] = [
  ['loss', 'loss'],
  ['E(data)', 'posEnergy'],
  ['E(neg)', 'negEnergy'],
];

export function logLine(step: number, total: number, m: Record<string, number>, rate: number): string {
  const cols = COLUMNS.filter(([, k]) => m[k] !== undefined).map(([label, k]) => `${label} ${fmt(m[k])}`);
  return `step ${String(step).padStart(String(total).length)}/${total}  ${cols.join('  ')}  ${rate.toFixed(1)} steps/s`;
}

export function createProgress(out: Output, opts: { total: number; start: number; quiet: boolean }): Progress {
  const tty = !opts.quiet && !!out.stream?.isTTY;
  if (!tty) {
    return {
      tick() {},
      log: (step, m, rate) => out.write(logLine(step, opts.total, m, rate)),
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: out.stream,
      format: 'train {bar} {value}/{total} | loss {loss} | E(data) {epos} | E(neg) {eneg} | {rate} steps/s | ETA {eta_formatted}',
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const payload = { loss: '...', epos: '...', eneg: '...', rate: '...' };
  bar.start(opts.total, opts.start, payload);
  return {
    tick: (step) => bar.update(step),
    log(step, m, rate) {
      payload.loss = fmt(m.loss);
      payload.epos = fmt(m.posEnergy);
      payload.eneg = fmt(m.negEnergy);
      payload.rate = rate.toFixed(1);
      bar.update(step, payload);
    },
    stop: () => bar.stop(),
  };
}
