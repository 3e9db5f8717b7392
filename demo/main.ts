// The demo page: finds WebGPU (or explains why there is none), builds a training Session from the
// form, runs the live loop (train steps, then every so often one batched forward of E on a grid
// for the heat map and a few Langevin steps of the display chains), and wires the checkpoint
// download and upload. window.__ebm (hook.ts) drives the same code for tests.
import { wireCheckpointButtons } from './checkpoint-buttons.js';
import * as ebm from '../src/index.js';
import { ACTIVATIONS, type DemoActivation } from './checkpoint.js';
import { drawCurve, drawScene, legendGradient } from './heatmap.js';
import { fromBase64, toBase64, type EbmHook, type HookInfo, type HookStatus, type TrainResult } from './hook.js';
import { DEFAULT_CONFIG, DEMO_DATASETS, Session, type DemoConfig, type DemoDataset, type StepMetrics } from './session.js';
import { createDigitsMode } from './digits-mode.js';

const GRID = 64;
/** Milliseconds of training between two redraws of the landscape. */
const REFRESH_MS = 1500;
/**
 * Training steps recorded back to back before their metrics are read (one readback for all):
 * a readback waits for the GPU to drain, so reading after every step leaves it idle while the
 * next step is recorded.
 */
const STEPS_PER_READ = 5;
/** Loss points kept for the curve. */
const CURVE_POINTS = 400;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('controls');
const field = <T extends HTMLInputElement | HTMLSelectElement>(name: string) => form.elements.namedItem(name) as T;
const canvas = $<HTMLCanvasElement>('heatmap');
const curve = $<HTMLCanvasElement>('loss-curve');
const toggle = $<HTMLButtonElement>('toggle');
const resetButton = $<HTMLButtonElement>('reset');
const download = $<HTMLAnchorElement>('download');
const loadButton = $<HTMLButtonElement>('load-button');
const fileInput = $<HTMLInputElement>('load');

let session: Session | null = null;
let running = false;
let loop: Promise<void> | null = null;
/** Serialises every use of the session (the live loop, the buttons, the hook). */
let queue: Promise<unknown> = Promise.resolve();
let samples: Float32Array = new Float32Array(0);
let energies: Float32Array = new Float32Array(0);
/** Step completion times (ms) for the steps/s readout. */
const stamps: number[] = [];
/** The Download link's pending URL, dropped when a new model replaces the one it holds. */
let downloadLink: { revoke(): void } = { revoke() {} };

const info: HookInfo = { status: 'loading', adapter: null, features: [], f16: false, software: false, error: null };
let markReady: (i: HookInfo) => void = () => {};
const ready = new Promise<HookInfo>((r) => (markReady = r));

function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

function setStatus(s: HookStatus, error: string | null = null): void {
  info.status = s;
  info.error = error;
  hook.status = s;
  document.documentElement.dataset.ebmStatus = s;
  document.title = `webgpu-ebm demo: ${s === 'ready' ? 'ready' : s === 'no-webgpu' ? 'no WebGPU' : s === 'error' ? 'error' : 'loading'}`;
  if (s !== 'loading') markReady({ ...info });
}

function log(msg: string, error = false): void {
  const el = $('log');
  const line = document.createElement('div');
  line.textContent = msg;
  if (error) line.className = 'error';
  el.prepend(line);
  while (el.childElementCount > 6) el.lastElementChild!.remove();
  (error ? console.error : console.log)(`[webgpu-ebm demo] ${msg}`);
}

// ---- the form <-> DemoConfig ----

function fillForm(c: DemoConfig): void {
  field<HTMLSelectElement>('dataset').value = c.dataset;
  field<HTMLInputElement>('hiddenDims').value = c.hiddenDims.join(', ');
  field<HTMLSelectElement>('activation').value = c.activation;
  field<HTMLInputElement>('spectralNorm').checked = c.spectralNorm;
  field<HTMLInputElement>('persistent').checked = c.persistent;
  for (const k of ['batchSize', 'lr', 'kSteps', 'stepSize', 'noiseScale', 'seed'] as const) field<HTMLInputElement>(k).value = String(c[k]);
}

function readForm(): DemoConfig {
  const num = (k: string) => Number(field<HTMLInputElement>(k).value);
  return {
    dataset: field<HTMLSelectElement>('dataset').value as DemoDataset,
    hiddenDims: field<HTMLInputElement>('hiddenDims').value.split(/[\s,]+/).filter(Boolean).map(Number),
    activation: field<HTMLSelectElement>('activation').value as DemoActivation,
    spectralNorm: field<HTMLInputElement>('spectralNorm').checked,
    batchSize: num('batchSize'),
    lr: num('lr'),
    kSteps: num('kSteps'),
    stepSize: num('stepSize'),
    noiseScale: num('noiseScale'),
    persistent: field<HTMLInputElement>('persistent').checked,
    seed: num('seed'),
  };
}

function setupForm(): void {
  const options = (name: string, values: readonly string[]) => {
    const sel = field<HTMLSelectElement>(name);
    for (const v of values) sel.add(new Option(v, v));
  };
  options('dataset', DEMO_DATASETS);
  field<HTMLSelectElement>('dataset').add(new Option('Digits (MNIST)', DIGITS));
  options('activation', ACTIVATIONS);
  fillForm(DEFAULT_CONFIG);
  document.querySelector<HTMLElement>('.legend .bar')!.style.background = legendGradient();
}

// ---- drawing and readouts ----

/** Records n steps finished now (for the steps/s readout). */
function stamp(n: number): void {
  const t = performance.now();
  for (let i = 0; i < n; i++) stamps.push(t);
}

/** Steps per second over the last few seconds of training (the last value while paused). */
let lastRate = 0;
function stepsPerSecond(): number {
  const newest = stamps.at(-1) ?? 0;
  while (stamps.length && newest - stamps[0]! > 3000) stamps.shift();
  // Steps finish in groups (STEPS_PER_READ): count those that finished after the first stamp.
  const first = stamps[0] ?? 0;
  if (newest > first) lastRate = (stamps.filter((t) => t > first).length / (newest - first)) * 1000;
  return lastRate;
}

function showMetrics(m: StepMetrics | undefined): void {
  const s = session;
  const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(4));
  $('stat-step').textContent = String(s?.step ?? 0);
  $('stat-loss').textContent = f(m?.loss);
  $('stat-pos').textContent = f(m?.positiveEnergy);
  $('stat-neg').textContent = f(m?.negativeEnergy);
  const rate = stepsPerSecond();
  $('stat-rate').textContent = rate ? rate.toFixed(1) + (running ? '' : ' (paused)') : '-';
  if (s) $('stat-model').textContent = `MLP 2-${s.config.hiddenDims.join('-')}-1, ${s.config.activation}${s.config.spectralNorm ? ', spectral norm' : ''}`;
  drawCurve(curve, (s?.history ?? []).slice(-CURVE_POINTS).map((h) => h.loss));
}

/** One batched forward of E on the grid, a few Langevin steps of the display chains, a redraw. */
async function refresh(): Promise<void> {
  const s = session;
  if (!s) return;
  [energies, samples] = await Promise.all([s.gridEnergies(GRID), s.advanceSamples(s.step > 0 ? s.config.kSteps : 0)]);
  draw();
  showMetrics(s.history.at(-1));
}

function draw(): void {
  const s = session;
  if (!s || energies.length !== GRID * GRID) return;
  drawScene(canvas, {
    energies,
    gridSize: GRID,
    view: s.view,
    data: s.dataPoints.subarray(0, 2 * 1500),
    samples,
    showData: field<HTMLInputElement>('showData').checked,
    showSamples: field<HTMLInputElement>('showSamples').checked,
  });
}

// ---- sessions ----

function replaceSession(next: Session): void {
  session?.dispose();
  session = next;
  stamps.length = 0;
  lastRate = 0;
  samples = new Float32Array(0);
  fillForm(next.config);
  downloadLink.revoke();
}

async function newSession(c: DemoConfig): Promise<void> {
  const next = await Session.create(c);
  replaceSession(next);
  log(`new model: ${c.dataset}, MLP 2-${c.hiddenDims.join('-')}-1 (${c.activation}${c.spectralNorm ? ', spectral norm' : ''})`);
  await refresh();
}

async function loadBytes(bytes: Uint8Array, name: string): Promise<{ config: DemoConfig; activationFrom: 'metadata' | 'fallback' }> {
  const base = session?.config ?? readForm();
  const { session: next, inferred } = await Session.fromCheckpoint(bytes, { ...base, activation: readForm().activation }, name);
  replaceSession(next);
  document.documentElement.dataset.ebmLoaded = name;
  delete document.documentElement.dataset.ebmLoadError;
  log(
    `loaded ${name}: MLP 2-${next.config.hiddenDims.join('-')}-1${next.config.spectralNorm ? ' with spectral norm' : ''}, ` +
      (inferred.activationFrom === 'metadata' ? `${next.config.activation} (from the file)` : `${next.config.activation} (not in the file: the menu's choice)`),
  );
  await refresh();
  return { config: next.config, activationFrom: inferred.activationFrom };
}

// ---- the live loop ----

async function liveLoop(): Promise<void> {
  while (running && session) {
    await exclusive(async () => {
      const s = session;
      if (!s) return;
      const until = performance.now() + REFRESH_MS;
      do {
        await s.trainSteps(STEPS_PER_READ);
        stamp(STEPS_PER_READ);
      } while (running && session === s && performance.now() < until);
      if (session === s) await refresh();
    });
    // Let the browser paint and handle input between bursts.
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
  showMetrics(session?.history.at(-1));
}

async function checkpointBytes(): Promise<Uint8Array> {
  return exclusive(() => session!.checkpointBytes());
}

// ---- the digits mode (digits-mode.ts): the dataset menu's "Digits (MNIST)" ----

/** The dataset menu's value for the digits mode. */
const DIGITS = 'mnist';
const digits = createDigitsMode(log);

async function showDigits(create = true): Promise<void> {
  await pause();
  field<HTMLSelectElement>('dataset').value = DIGITS;
  await digits.enter(create);
}

/** A change of the dataset menu: into or out of the digits mode; true when the change is handled. */
async function switchMode(dataset: string): Promise<boolean> {
  if (dataset === DIGITS) {
    await showDigits().catch((e) => log((e as Error).message, true));
    return true;
  }
  if (digits.active) await digits.leave();
  return false;
}

// ---- the hook ----

const hook: EbmHook = {
  status: 'loading',
  ready,
  info,
  config: () => structuredClone(session?.config ?? readForm()),
  async configure(partial) {
    await pause();
    const c = { ...(session?.config ?? DEFAULT_CONFIG), ...partial };
    await exclusive(() => newSession(c));
    return structuredClone(session!.config);
  },
  async train(steps): Promise<TrainResult> {
    if (!Number.isInteger(steps) || steps < 1) throw new Error(`train(steps): steps must be a positive integer, got ${steps}`);
    await pause();
    return exclusive(async () => {
      const s = session!;
      const metrics: StepMetrics[] = [];
      const t0 = performance.now();
      for (let done = 0; done < steps; ) {
        const n = Math.min(STEPS_PER_READ, steps - done);
        metrics.push(...(await s.trainSteps(n)));
        stamp(n);
        done += n;
      }
      const seconds = (performance.now() - t0) / 1000;
      await refresh();
      return { steps, step: s.step, metrics, losses: metrics.map((m) => m.loss), seconds, stepsPerSecond: steps / seconds };
    });
  },
  start,
  pause,
  refresh: () => exclusive(refresh),
  heatmapPixels() {
    const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    return { width: canvas.width, height: canvas.height, rgba: toBase64(new Uint8Array(px.buffer, px.byteOffset, px.byteLength)) };
  },
  energies: (points) => exclusive(async () => Array.from(await session!.energies(points))),
  samples: () => exclusive(async () => Array.from(samples)),
  downloadCheckpointBytes: async () => toBase64(await checkpointBytes()),
  loadCheckpoint: async (b64, name = 'checkpoint.safetensors') => {
    await pause();
    return exclusive(() => loadBytes(fromBase64(b64), name));
  },
  memory: () => {
    const m = ebm.memory();
    return { liveTensors: m.liveTensors, liveBytes: m.liveBytes, peakBytes: m.peakBytes };
  },
  digits: {
    ...digits.hook,
    configure: async (partial) => {
      // configure makes the session: entering need not make the default one first.
      await showDigits(false);
      return digits.hook.configure(partial);
    },
  },
};
window.__ebm = hook;

// ---- start-up ----

async function findWebGPU(): Promise<string | null> {
  if (!('gpu' in navigator) || !navigator.gpu) return 'This browser has no WebGPU: navigator.gpu is missing' + (window.isSecureContext ? '.' : ' (WebGPU needs a secure context: https or localhost).');
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  if (!adapter) return 'The browser has WebGPU, but it found no GPU adapter (WebGPU may be disabled, or blocked for this GPU or driver).';
  return null;
}

function wireUi(): void {
  toggle.addEventListener('click', () => (running ? void pause() : start()));
  resetButton.addEventListener('click', async () => {
    const wasRunning = running;
    await pause();
    try {
      await exclusive(() => newSession(readForm()));
      if (wasRunning) start();
    } catch (e) {
      log((e as Error).message, true);
    }
  });
  // A change of data or model starts a fresh model (training continues if it was on).
  form.addEventListener('change', async (ev) => {
    const name = (ev.target as HTMLInputElement).name;
    if (name === 'showData' || name === 'showSamples') return draw();
    if (name === 'dataset' && (await switchMode((ev.target as HTMLSelectElement).value))) return;
    if (name) resetButton.click();
  });
  downloadLink = wireCheckpointButtons(
    { download, loadButton, fileInput },
    { bytes: checkpointBytes, fileName: () => `ebm-${session!.config.dataset}-step${session!.step}.safetensors`, load: (bytes, name) => exclusive(() => loadBytes(bytes, name)), isRunning: () => running, pause, start, log },
  );
}

async function main(): Promise<void> {
  setupForm();
  const missing = await findWebGPU();
  if (missing) {
    $('no-webgpu-reason').textContent = missing;
    $('no-webgpu').hidden = false;
    $('device').textContent = 'no WebGPU';
    info.error = missing;
    setStatus('no-webgpu', missing);
    return;
  }
  $('app').hidden = false;
  try {
    // ?f16=off makes a device without shader-f16 on any adapter (SwiftShader never has it).
    const noF16 = new URLSearchParams(location.search).get('f16') === 'off';
    const rt = await ebm.init(noF16 ? { features: ['timestamp-query', 'subgroups'] } : {});
    const di = rt.info;
    info.adapter = di.description || `${di.vendor} ${di.architecture}`;
    info.features = [...di.features];
    info.f16 = di.features.has('shader-f16');
    info.software = di.isSoftware;
    $('device').textContent = `${info.adapter}${di.isSoftware ? ' (software)' : ''}; shader-f16: ${info.f16 ? 'yes' : 'no, f32 kernels'}`;
    wireUi();
    await exclusive(() => newSession(readForm()));
    for (const b of [toggle, resetButton, loadButton]) b.disabled = false;
    setStatus('ready');
  } catch (e) {
    const msg = (e as Error).message;
    log(msg, true);
    $('device').textContent = 'failed to start';
    setStatus('error', msg);
  }
}

void main();
