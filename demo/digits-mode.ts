// The page's digits mode (dataset "Digits (MNIST)"): its panel (settings, Start / Reset,
// Download / Load), the live loop (training steps for ~REFRESH_MS, then a few Langevin steps of
// the 64 display chains and a redraw; the classifier's score every SCORE_MS), and its part of the
// automation hook (window.__ebm.digits). main.ts switches between this and the 2-D mode; the two
// never run at once. The session itself (no DOM) is digits-session.ts; drawing is digits-view.ts.
import { wireCheckpointButtons } from './checkpoint-buttons.js';
import { drawCurve } from './heatmap.js';
import { drawDigitGrid, drawHistogram } from './digits-view.js';
import { DIGITS_DEFAULT_CONFIG, DISPLAY_CHAINS, DigitsSession, type DigitsAssets, type DigitsConfig, type DigitsStepMetrics } from './digits-session.js';
import { fromBase64, toBase64, type DigitsHook, type DigitsTrainResult } from './hook.js';

/** The assets, from the page's own origin (vite copies them into the build with hashed names). */
const ASSETS: DigitsAssets = {
  mnist: new URL('./assets/mnist-digits.bin', import.meta.url).href,
  classifier: new URL('./assets/digit-classifier.safetensors', import.meta.url).href,
};
const REFRESH_MS = 1000;
const SCORE_MS = 4000;
/** Langevin steps of the display chains per refresh. */
const DISPLAY_STEPS = 10;
const CURVE_POINTS = 400;

export interface DigitsMode {
  /** Shows the digits panel; makes a session from the panel's settings on first use (unless `create` is false). */
  enter(create?: boolean): Promise<void>;
  /** Pauses and hides the panel (the session stays, for coming back). */
  leave(): Promise<void>;
  readonly active: boolean;
  readonly hook: DigitsHook;
}

export function createDigitsMode(log: (msg: string, error?: boolean) => void): DigitsMode {
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const form = $<HTMLFormElement>('digits-controls');
  const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
  const grid = $<HTMLCanvasElement>('digits-grid');
  const hist = $<HTMLCanvasElement>('digits-hist');
  const curve = $<HTMLCanvasElement>('digits-curve');
  const toggle = $<HTMLButtonElement>('digits-toggle');
  const reset = $<HTMLButtonElement>('digits-reset');
  const download = $<HTMLAnchorElement>('digits-download');
  const loadButton = $<HTMLButtonElement>('digits-load-button');
  const fileInput = $<HTMLInputElement>('digits-load');

  let session: DigitsSession | null = null;
  let active = false;
  let running = false;
  let loop: Promise<void> | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  let chains: Float32Array = new Float32Array(0);
  let lastScore = 0;
  const stamps: number[] = [];

  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  }

  function fill(c: DigitsConfig): void {
    field('channels').value = c.channels.join(', ');
    for (const k of ['batchSize', 'langevinSteps', 'lr', 'seed'] as const) field(k).value = String(c[k]);
  }

  function read(): DigitsConfig {
    const num = (k: string) => Number(field(k).value);
    return { channels: field('channels').value.split(/[\s,]+/).filter(Boolean).map(Number), batchSize: num('batchSize'), langevinSteps: num('langevinSteps'), lr: num('lr'), seed: num('seed') };
  }

  function rate(): number {
    const newest = stamps.at(-1) ?? 0;
    while (stamps.length && newest - stamps[0]! > 5000) stamps.shift();
    return stamps.length >= 2 ? ((stamps.length - 1) / (newest - stamps[0]!)) * 1000 : 0;
  }

  function show(): void {
    const s = session;
    const m = s?.history.at(-1);
    const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
    $('digits-step').textContent = String(s?.step ?? 0);
    $('digits-loss').textContent = f(m?.loss);
    $('digits-pos').textContent = f(m?.positiveEnergy);
    $('digits-neg').textContent = f(m?.negativeEnergy);
    const r = rate();
    $('digits-rate').textContent = r ? r.toFixed(2) + (running ? '' : ' (paused)') : '-';
    const q = s?.quality;
    $('digits-confidence').textContent = q ? q.meanConfidence.toFixed(3) : '-';
    $('digits-is').textContent = q ? q.inceptionScore.toFixed(2) : '-';
    if (s) $('digits-model').textContent = `ConvEnergyModel 1x28x28, channels ${s.modelOptions.channels!.join(', ')}, ${s.modelOptions.activation}${s.source !== 'init' ? ` (${s.source})` : ''}`;
    drawHistogram(hist, q?.histogram ?? null);
    drawCurve(curve, (s?.history ?? []).slice(-CURVE_POINTS).map((h) => h.loss));
    drawDigitGrid(grid, chains, DISPLAY_CHAINS);
  }

  /** A few Langevin steps of the display chains (none before training), a score when due, a redraw. */
  async function refresh(forceScore = false): Promise<void> {
    const s = session;
    if (!s) return;
    chains = await s.advanceChains(s.step > 0 ? DISPLAY_STEPS : 0);
    if (forceScore || performance.now() - lastScore > SCORE_MS) {
      await s.score();
      lastScore = performance.now();
    }
    show();
  }

  function replace(next: DigitsSession): void {
    session?.dispose();
    session = next;
    stamps.length = 0;
    chains = new Float32Array(0);
    fill(next.config);
  }

  async function fresh(c: DigitsConfig): Promise<void> {
    $('digits-status').textContent = 'loading the digits and the classifier...';
    try {
      replace(await DigitsSession.create(c, ASSETS));
    } finally {
      $('digits-status').textContent = '';
    }
    log(`new digits model: ConvEnergyModel channels ${c.channels.join(', ')}, PCD-${c.langevinSteps}, batch ${c.batchSize}`);
    await refresh(true);
  }

  async function loadBytes(bytes: Uint8Array, name: string): Promise<{ config: DigitsConfig; from: 'metadata' | 'shapes' }> {
    const { session: next, from } = await DigitsSession.fromCheckpoint(bytes, session?.config ?? read(), ASSETS, name);
    replace(next);
    document.documentElement.dataset.ebmLoaded = name;
    delete document.documentElement.dataset.ebmLoadError;
    log(`loaded ${name}: ConvEnergyModel channels ${next.modelOptions.channels!.join(', ')} (${from === 'metadata' ? 'options from the file' : 'from its shapes; SiLU assumed'}), step ${next.step}`);
    await refresh(true);
    return { config: next.config, from };
  }

  async function liveLoop(): Promise<void> {
    while (running && session && active) {
      await exclusive(async () => {
        const s = session;
        if (!s) return;
        const until = performance.now() + REFRESH_MS;
        do {
          await s.trainStep();
          stamps.push(performance.now());
        } while (running && session === s && performance.now() < until);
        if (session === s) await refresh();
      });
      await new Promise((r) => requestAnimationFrame(() => r(null)));
    }
  }

  function start(): void {
    if (running || !session) return;
    running = true;
    toggle.textContent = 'Pause';
    loop = liveLoop().catch((e) => {
      running = false;
      toggle.textContent = 'Start';
      log(`training stopped: ${(e as Error).message}`, true);
    });
  }

  async function pause(): Promise<void> {
    running = false;
    toggle.textContent = 'Start';
    await loop;
    loop = null;
    show();
  }

  /** The session, made from the form when there is none yet; call inside exclusive(). */
  async function current(): Promise<DigitsSession> {
    if (!session) await fresh(read());
    return session!;
  }
  const ensure = () => exclusive(current);

  toggle.addEventListener('click', () => (running ? void pause() : start()));
  reset.addEventListener('click', async () => {
    const was = running;
    await pause();
    try {
      await exclusive(() => fresh(read()));
      if (was) start();
    } catch (e) {
      log((e as Error).message, true);
    }
  });
  // A setting's change starts a fresh model; the file input (no name) sits in the form too, and must not.
  form.addEventListener('change', (ev) => {
    if ((ev.target as HTMLInputElement).name) reset.click();
  });
  wireCheckpointButtons(
    { download, loadButton, fileInput },
    { bytes: () => exclusive(() => session!.checkpointBytes()), fileName: () => `ebm-mnist-step${session!.step}.safetensors`, load: (bytes, name) => exclusive(() => loadBytes(bytes, name)), isRunning: () => running, pause, start, log },
  );
  fill(DIGITS_DEFAULT_CONFIG);
  drawHistogram(hist, null);

  const hook: DigitsHook = {
    config: () => structuredClone(session?.config ?? read()),
    async configure(partial) {
      await pause();
      await exclusive(() => fresh({ ...(session?.config ?? read()), ...partial }));
      return structuredClone(session!.config);
    },
    async train(steps): Promise<DigitsTrainResult> {
      if (!Number.isInteger(steps) || steps < 1) throw new Error(`digits.train(steps): steps must be a positive integer, got ${steps}`);
      await pause();
      await ensure();
      return exclusive(async () => {
        const s = session!;
        const metrics: DigitsStepMetrics[] = [];
        const t0 = performance.now();
        for (let i = 0; i < steps; i++) {
          metrics.push(await s.trainStep());
          stamps.push(performance.now());
        }
        const seconds = (performance.now() - t0) / 1000;
        await refresh(true);
        return { steps, step: s.step, metrics, losses: metrics.map((m) => m.loss), seconds, stepsPerSecond: steps / seconds, quality: s.quality };
      });
    },
    start,
    pause,
    refresh: () => exclusive(() => refresh(true)),
    gridPixels() {
      const px = grid.getContext('2d')!.getImageData(0, 0, grid.width, grid.height).data;
      return { width: grid.width, height: grid.height, rgba: toBase64(new Uint8Array(px.buffer, px.byteOffset, px.byteLength)) };
    },
    heldOutVsNoise: (n = 64) => exclusive(async () => (await current()).heldOutVsNoise(n)),
    energies: (pixels) => exclusive(async () => Array.from(await (await current()).energies(pixels))),
    score: () => exclusive(async () => (await current()).score()),
    downloadCheckpointBytes: () => exclusive(async () => toBase64(await (await current()).checkpointBytes())),
    loadCheckpoint: async (b64, name = 'model.safetensors') => {
      await pause();
      return exclusive(() => loadBytes(fromBase64(b64), name));
    },
  };

  return {
    get active() {
      return active;
    },
    hook,
    async enter(create = true) {
      active = true;
      document.body.dataset.mode = 'digits';
      if (create) await ensure();
    },
    async leave() {
      await pause();
      active = false;
      delete document.body.dataset.mode;
    },
  };
}
