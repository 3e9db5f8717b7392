// The page's automation hook, `window.__ebm`, for tests and for poking at the demo from the
// console. Documented in demo/README.md. Every method serialises with the live training loop
// (train() pauses it first), and bytes travel as base64 strings, so a test driver such as
// Playwright's page.evaluate() passes them without special handling.
import type { DemoConfig, StepMetrics } from './session.js';
import type { DigitsConfig, DigitsQuality, DigitsStepMetrics } from './digits-session.js';

export type HookStatus = 'loading' | 'ready' | 'no-webgpu' | 'error';

export interface HookInfo {
  status: HookStatus;
  /** The adapter, as the library describes it (vendor, architecture, device). */
  adapter: string | null;
  /** The optional features the device was created with. */
  features: string[];
  /** Whether f16 kernels are on (false on SwiftShader: everything runs in f32). */
  f16: boolean;
  /** A CPU adapter (SwiftShader, lavapipe). */
  software: boolean;
  /** Why the page is not ready ('no-webgpu' or 'error'). */
  error: string | null;
}

export interface TrainResult {
  /** Steps run by this call. */
  steps: number;
  /** The session's step counter afterwards. */
  step: number;
  /** Each step's metrics, in order. */
  metrics: StepMetrics[];
  losses: number[];
  seconds: number;
  stepsPerSecond: number;
}

export interface HeatmapPixels {
  width: number;
  height: number;
  /** The heat-map canvas's RGBA bytes, base64. */
  rgba: string;
}

export interface EbmHook {
  /** 'loading' until the device is up, then 'ready'; or 'no-webgpu' / 'error' (see info.error). */
  status: HookStatus;
  /** Resolves (never rejects) when status leaves 'loading'. */
  ready: Promise<HookInfo>;
  info: HookInfo;
  /** The current session's config. */
  config(): DemoConfig;
  /** Applies part of a config (the form follows) and starts a fresh model; pauses training. */
  configure(partial: Partial<DemoConfig>): Promise<DemoConfig>;
  /** Pauses the live loop, runs exactly `steps` training steps, redraws, resolves with their metrics. */
  train(steps: number): Promise<TrainResult>;
  /** Starts the live loop (as the Start button). */
  start(): void;
  /** Stops the live loop; resolves once the step in flight has finished. */
  pause(): Promise<void>;
  /** Recomputes the heat map (one batched forward) and the samples, and redraws. */
  refresh(): Promise<void>;
  /** The heat-map canvas's pixels, as drawn. */
  heatmapPixels(): HeatmapPixels;
  /** E(x) for x = [x0, y0, x1, y1, ...] under the current model (evaluation mode). */
  energies(points: readonly number[]): Promise<number[]>;
  /** The display chains' positions as last drawn, [x0, y0, x1, y1, ...] (the page's samples). */
  samples(): Promise<number[]>;
  /** The bytes the Download link serves, base64. */
  downloadCheckpointBytes(): Promise<string>;
  /** Loads a checkpoint (base64 bytes), as the file input does; resolves with the config it inferred. */
  loadCheckpoint(base64: string, name?: string): Promise<{ config: DemoConfig; activationFrom: 'metadata' | 'fallback' }>;
  /** The library's memory() (live tensors and bytes): flat across steps when nothing leaks. */
  memory(): { liveTensors: number; liveBytes: number; peakBytes: number };
  /** The digits mode ("Digits (MNIST)"): switching to it pauses the 2-D mode. */
  digits: DigitsHook;
}

export interface DigitsTrainResult {
  steps: number;
  step: number;
  metrics: DigitsStepMetrics[];
  losses: number[];
  seconds: number;
  stepsPerSecond: number;
  /** The classifier's figures of the 64 display chains after the steps. */
  quality: DigitsQuality | null;
}

/** window.__ebm.digits: the digits mode, for tests and the console (demo/README.md). */
export interface DigitsHook {
  config(): DigitsConfig;
  /** Switches the page to digits (the dataset menu follows), applies part of a config, starts a fresh model. */
  configure(partial: Partial<DigitsConfig>): Promise<DigitsConfig>;
  /** Pauses the live loop, runs exactly `steps` updates, advances the display chains, scores them, redraws. */
  train(steps: number): Promise<DigitsTrainResult>;
  start(): void;
  pause(): Promise<void>;
  /** Advances the display chains, scores them, redraws. */
  refresh(): Promise<void>;
  /** The grid canvas's pixels, as drawn. */
  gridPixels(): HeatmapPixels;
  /** E of the first n held-out digits and of n uniform-noise images, as numbers. */
  heldOutVsNoise(n?: number): Promise<{ heldOut: number[]; noise: number[] }>;
  /** E of images [n, 1, 28, 28] given as n * 784 values in [-1, 1]. */
  energies(pixels: readonly number[]): Promise<number[]>;
  /** The classifier's figures of the display chains now. */
  score(): Promise<DigitsQuality>;
  /** The bytes the digits Download link serves (model.safetensors, the CLI's format), base64. */
  downloadCheckpointBytes(): Promise<string>;
  /** Loads a ConvEnergyModel checkpoint (base64) as the file input does. */
  loadCheckpoint(base64: string, name?: string): Promise<{ config: DigitsConfig; from: 'metadata' | 'shapes' }>;
}

declare global {
  interface Window {
    __ebm: EbmHook;
  }
}

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
