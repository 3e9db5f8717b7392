// The browser, end to end: builds the demo (vite.config.ts's demoConfig) and the library bundle
// (libraryConfig), serves them on localhost, and drives Debian's headless Chromium (WebGPU on its
// SwiftShader fallback adapter, which has no shader-f16) through playwright-core:
//
// - the page loads on an adapter without shader-f16;
// - the default page (eight gaussians, demo/session.ts's DEFAULT_CONFIG) learns the eight wells:
//   after the steps a minute of SwiftShader gives, its samples cover 8/8 modes;
// - it trains a fixed number of steps through its automation hook (window.__ebm,
//   demo/README.md), the loss goes down and the heat map is drawn;
// - the checkpoint the Download link serves loads in Node (Dawn on lavapipe) into a fresh
//   MLPEnergyModel and gives the page's energies on a fixed batch;
// - a PyTorch-made checkpoint (test/fixtures/zoo-mlp*.safetensors, the seed's classes) loads
//   through the page's file input and gives PyTorch's energies;
// - without WebGPU the page shows a message, not a blank page;
// - the library bundle works from a plain <script type="module">.
//
// One Chromium with WebGPU serves every case that needs it, and one demo page the 2-D and the
// digits cases (in file order): each launch and page start-up costs seconds on SwiftShader.
// Screenshots go to test-artifacts/ (gitignored). Chromium is never downloaded: a machine without
// /usr/bin/chromium fails here with the command that installs it.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { build } from 'vite';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import * as ebm from '../src/index.js';
import { demoConfig, libraryConfig } from '../vite.config.js';
import { DEFAULT_CONFIG, type DemoConfig } from '../demo/session.js';
import { modeCoverage } from '../src/cli/train.js';
import type { HookInfo } from '../demo/hook.js';
import type { DigitsConfig } from '../demo/digits-session.js';

const ROOT = join(import.meta.dirname, '..');
/** Debian's chromium; WEBGPU_EBM_CHROMIUM points elsewhere (never a downloaded browser). */
const CHROMIUM = process.env.WEBGPU_EBM_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
/** ../shared/notes/environment.md's flags (plus --disable-dev-shm-usage, for containers with a small /dev/shm); --enable-unsafe-webgpu is what gives an adapter. */
const FLAGS = ['--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const WEBGPU = '--enable-unsafe-webgpu';

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.css': 'text/css', '.ts': 'text/plain' };

/** A static server: /demo/ is the built demo, /lib/ the library bundle and a plain page that imports it. */
function serve(dirs: Record<string, string>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const [, mount, ...rest] = path.split('/');
    const dir = dirs[mount ?? ''];
    let file = dir ? normalize(join(dir, ...rest)) : '';
    if (file && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!dir || !file.startsWith(dir + sep) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

/** A fresh Chromium profile under `work` (removed with it) for every launch. */
async function launch(webgpu: boolean): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(work, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: webgpu ? [...FLAGS, WEBGPU] : FLAGS,
    viewport: { width: 1200, height: 860 },
    acceptDownloads: true,
  });
}

/** Opens the demo and waits until its hook says ready (or why not). */
async function openDemo(ctx: BrowserContext, url: string): Promise<{ page: Page; info: HookInfo; errors: string[] }> {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(url);
  await page.waitForFunction(() => window.__ebm !== undefined, undefined, { timeout: 20_000 });
  const info = await page.evaluate(() => window.__ebm.ready);
  return { page, info, errors };
}

const mean = (a: readonly number[]) => a.reduce((s, v) => s + v, 0) / a.length;

/** max |a - b| / max |b|: agreement relative to the batch's energy scale. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / Math.max(den, 1e-6);
}

/** A fixed batch over [-3, 3]^2: a 6 x 6 lattice plus points near the data. */
const BATCH: number[] = [];
for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) BATCH.push(-3 + 1.2 * i, -3 + 1.2 * j);
BATCH.push(0, 0, 1, 0, -1, 0.5, 0.5, -0.3, 2, 0.5, 0.1, 0.9);

let server: Server | undefined;
let base = '';
let work = '';
/** One Chromium with WebGPU for every case that needs it (a launch and the page's start-up cost seconds each). */
let gpuCtx: BrowserContext | undefined;
/** The demo page in it, shared by the 2-D and the digits cases (in file order). */
let demo: { page: Page; info: HookInfo; errors: string[] };

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is not installed (${CHROMIUM} is missing); the browser end-to-end test needs Debian's chromium. Run .ci/install-system (it runs apt-get install chromium).`);
  work = mkdtempSync(join(tmpdir(), 'ebm-e2e-'));
  const demoDir = join(work, 'demo');
  const libDir = join(work, 'lib');
  await build({ ...demoConfig({ outDir: demoDir }), configFile: false, logLevel: 'silent' });
  await build({ ...libraryConfig({ outDir: libDir }), configFile: false, logLevel: 'silent' });
  // A plain page, no bundler: the library file imported by a <script type="module">.
  writeFileSync(
    join(libDir, 'plain.html'),
    `<!doctype html><meta charset="utf-8"><title>plain: loading</title><link rel="icon" href="data:,">
<script type="module">
  import * as ebm from './webgpu-ebm.js';
  try {
    await ebm.init();
    const x = ebm.tensor([[1, 2], [3, 4]]);
    const s = await x.matmul(x.transpose()).sum().item();
    const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [8], activation: 'silu', seed: 1 });
    const e = await model.forward(x).data();
    const bytes = await ebm.saveSafetensors(model);
    window.result = { s, e: Array.from(e), bytes: bytes.length, f16: ebm.getDevice().info.features.has('shader-f16') };
    document.title = 'plain: ok';
  } catch (err) {
    window.result = { error: String(err && err.message || err) };
    document.title = 'plain: error';
  }
</script>`,
  );
  ({ server, url: base } = await serve({ demo: demoDir, lib: libDir }));
  mkdirSync(ARTIFACTS, { recursive: true });
  await ebm.init();
  gpuCtx = await launch(true);
  demo = await openDemo(gpuCtx, `${base}/demo/`);
}, 60_000);

afterAll(async () => {
  await gpuCtx?.close();
  await new Promise((r) => (server ? server.close(r) : r(null)));
  if (work) rmSync(work, { recursive: true, force: true });
  ebm.shutdown();
});

describe('the demo in headless Chromium (SwiftShader, no shader-f16)', () => {
  let page: Page;
  let errors: string[];

  beforeAll(() => {
    ({ page, errors } = demo);
    expect(demo.info.error).toBeNull();
    expect(demo.info.status).toBe('ready');
  });

  // Every test on this page, not just one: a page error or a console error anywhere fails it.
  afterEach(() => {
    expect(errors, 'page errors and console errors').toEqual([]);
  });

  test('starts on an adapter without shader-f16 (the f32 fallback)', async () => {
    const info = await page.evaluate(() => window.__ebm.info);
    expect(info.software).toBe(true);
    expect(info.f16).toBe(false);
    expect(info.features).not.toContain('shader-f16');
    expect(await page.evaluate(() => document.documentElement.dataset.ebmStatus)).toBe('ready');
    expect(await page.title()).toBe('webgpu-ebm demo: ready');
    expect(await page.isVisible('#app')).toBe(true);
    expect(await page.isVisible('#no-webgpu')).toBe(false);
  });

  test('the default page learns the eight wells: its samples cover 8/8 modes after the steps a minute of SwiftShader gives', async () => {
    // The page as a visitor finds it: the default config (demo/session.ts's DEFAULT_CONFIG),
    // trained in runs of REFRESH steps each followed by a redraw (which advances the display
    // chains and turns an eighth of them over from noise), as the live loop does. STEPS: on
    // lavapipe these defaults covered 8/8 from step 250 on (seeds 0 and 1); SwiftShader's run
    // differs in round-off, so 300 for margin (demo/README.md: about a minute on an idle
    // machine, 72 s at load 12).
    const STEPS = 300;
    const REFRESH = 25;
    const config = await page.evaluate(() => window.__ebm.configure({}));
    expect(config).toEqual(DEFAULT_CONFIG);
    const t0 = performance.now();
    let last = { step: 0, losses: [] as number[] };
    for (let done = 0; done < STEPS; done += REFRESH) last = await page.evaluate((n) => window.__ebm.train(n), REFRESH);
    const seconds = (performance.now() - t0) / 1000;
    expect(last.step).toBe(STEPS);
    expect(last.losses.every(Number.isFinite)).toBe(true);
    const xy = Float32Array.from(await page.evaluate(() => window.__ebm.samples()));
    expect(xy.length).toBe(2 * 512);
    // The CLI's criterion (src/cli/train.ts): a mode is covered when >= 5% of the samples lie
    // within 4 std (0.08) of its centre. 512 samples: 5% is 26; a model whose samples sit
    // evenly in the 8 wells with the near-mode fraction these runs reach (0.75-0.85) puts about
    // 48 near each, binomial sd 6.6, so 26 is 3.3 sd below; a ring or a missing well puts < 5
    // near the modes it misses. Together at least 60% of the samples are near a mode (an
    // untrained model or a ring: < 10%, the near-mode area being 1.3% of the view).
    const cov = modeCoverage(xy, 'eight-gaussians');
    console.log(
      `demo defaults: ${STEPS} steps in ${seconds.toFixed(1)} s (${(STEPS / seconds).toFixed(1)} steps/s with a redraw every ${REFRESH}); ` +
        `modes covered ${cov.modes_covered}/8, ${(100 * cov.near_mode_fraction!).toFixed(0)}% of 512 samples within 4 std of a mode; per mode ${cov.mode_fractions!.map((f) => f.toFixed(3)).join(' ')}`,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'demo-eight-gaussians.png') });
    // Separate wells, every one populated: each mode holds >= 2.5% (13 of 512) and 60% of all
    // samples are near a mode. The CLI's 5% bar failed here once at 7/8 (one well at 4.3%: the
    // display chains turn over an eighth per redraw, so a well's share swings by a few percent
    // from run to run). A ring through the centres, the failure this guards against, puts about
    // 3.6% near each centre (an arc of 0.64 of 17.8) but only 29% near any: it fails the 60%.
    expect(Math.min(...cov.mode_fractions!)).toBeGreaterThanOrEqual(0.025);
    expect(cov.near_mode_fraction!).toBeGreaterThan(0.6);
  }, 180_000);

  test('trains: the loss goes down, the heat map is drawn, and the downloaded checkpoint gives the same energies in Node', async () => {
    const config = await page.evaluate(
      (c) => window.__ebm.configure(c),
      { dataset: 'two-moons', hiddenDims: [32, 32], activation: 'silu', spectralNorm: true, kSteps: 10, persistent: false, batchSize: 128, lr: 3e-3, seed: 0 } satisfies Partial<DemoConfig>,
    );
    expect(config.spectralNorm).toBe(true);
    const initial = await page.evaluate((b) => window.__ebm.energies(b), BATCH);
    const run = await page.evaluate(() => window.__ebm.train(40));
    expect(run.step).toBe(40);
    expect(run.losses.every(Number.isFinite)).toBe(true);
    const first = mean(run.losses.slice(0, 10));
    const last = mean(run.losses.slice(-10));
    console.log(`demo: 40 steps in ${run.seconds.toFixed(2)} s (${run.stepsPerSecond.toFixed(1)} steps/s); loss ${first.toFixed(4)} (first 10) -> ${last.toFixed(4)} (last 10)`);
    expect(last).toBeLessThan(first - 0.1);
    // Nothing leaks on the page: more steps and redraws leave the live tensor count where it was.
    const live = await page.evaluate(() => window.__ebm.memory().liveTensors);
    expect((await page.evaluate(() => window.__ebm.train(3))).step).toBe(43);
    expect(await page.evaluate(() => window.__ebm.memory().liveTensors)).toBe(live);

    // The heat map: what the canvas shows, not what the code meant to draw.
    const px = await page.evaluate(() => window.__ebm.heatmapPixels());
    const rgba = Buffer.from(px.rgba, 'base64');
    expect(rgba.length).toBe(px.width * px.height * 4);
    const colours = new Set<number>();
    let lo = 255;
    let hi = 0;
    for (let i = 0; i < rgba.length; i += 4) {
      colours.add(rgba.readUInt32BE(i));
      const y = 0.2126 * rgba[i]! + 0.7152 * rgba[i + 1]! + 0.0722 * rgba[i + 2]!;
      lo = Math.min(lo, y);
      hi = Math.max(hi, y);
    }
    expect(colours.size).toBeGreaterThan(100);
    expect(hi - lo).toBeGreaterThan(100);

    // Download through the link, as a person would; the hook serves the same bytes.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(download.suggestedFilename()).toBe('ebm-two-moons-step43.safetensors');
    const bytes = new Uint8Array(readFileSync((await download.path())!));
    const viaHook = Buffer.from(await page.evaluate(() => window.__ebm.downloadCheckpointBytes()), 'base64');
    expect(Buffer.compare(Buffer.from(bytes), viaHook)).toBe(0);
    const parsed = ebm.parseSafetensors(bytes);
    expect([...parsed.tensors.keys()].sort()).toEqual(
      ['network.0.bias', 'network.0.weight_orig', 'network.0.weight_u', 'network.0.weight_v', 'network.2.bias', 'network.2.weight_orig', 'network.2.weight_u', 'network.2.weight_v', 'output_layer.bias', 'output_layer.weight_orig', 'output_layer.weight_u', 'output_layer.weight_v'].sort(),
    );
    expect(JSON.parse(parsed.metadata['webgpu-ebm.config']!)).toEqual({ inputDim: 2, hiddenDims: [32, 32], activation: 'silu', useSpectralNorm: true });

    // Node (Dawn on lavapipe) against the page (SwiftShader), same weights, same batch.
    const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [32, 32], activation: 'silu', useSpectralNorm: true });
    await ebm.loadSafetensors(model, bytes);
    model.eval();
    const x = ebm.tensor(Float32Array.from(BATCH), [BATCH.length / 2, 2]);
    const e = ebm.tidy(() => ebm.noGrad(() => model.forward(x)));
    const inNode = await e.data();
    e.dispose();
    const inPage = await page.evaluate((b) => window.__ebm.energies(b), BATCH);
    const err = relErr(inPage, inNode);
    console.log(`demo: page vs Node energies on ${inNode.length} points: max |diff| / max |E| = ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    // The trained model is not the initial one: its energies moved by a good part of their
    // spread (the initial network's energies are nearly flat; 40 Adam steps at 3e-3 move them
    // by several times that).
    const moved = relErr(inPage, initial);
    console.log(`demo: energies moved by max |E - E0| / max |E0| = ${moved.toExponential(2)}`);
    expect(moved).toBeGreaterThan(0.5);
    // ...and it puts low energy where the data are: two-moons points (the page's dataset, made
    // here with its default noise) sit lower on average than lattice points of [-3, 3]^2 that are
    // more than 0.5 from every data point, and most of them below the median of those.
    const data = ebm.makeDataset('two-moons', { nSamples: 256, seed: 3 });
    const dataXY = await data.data();
    const far = BATCH.slice(0, 72).reduce<number[]>((acc, _v, i, all) => {
      if (i % 2) return acc;
      const [px, py] = [all[i]!, all[i + 1]!];
      let nearest = Infinity;
      for (let j = 0; j < dataXY.length; j += 2) nearest = Math.min(nearest, Math.hypot(dataXY[j]! - px, dataXY[j + 1]! - py));
      if (nearest > 0.5) acc.push(px, py);
      return acc;
    }, []);
    expect(far.length / 2, 'lattice points away from the data').toBeGreaterThan(15);
    const eData = ebm.tidy(() => ebm.noGrad(() => model.forward(data)));
    const eFar = ebm.tidy(() => ebm.noGrad(() => model.forward(ebm.tensor(Float32Array.from(far), [far.length / 2, 2]))));
    const [onData, offData] = [Array.from(await eData.data()), Array.from(await eFar.data())];
    const median = [...offData].sort((a, b) => a - b)[Math.floor(offData.length / 2)]!;
    const below = onData.filter((v) => v < median).length / onData.length;
    console.log(`demo: mean E on data ${mean(onData).toFixed(4)}, away from data ${mean(offData).toFixed(4)}; ${(100 * below).toFixed(0)}% of data below the latter's median`);
    expect(mean(onData)).toBeLessThan(mean(offData));
    expect(below).toBeGreaterThan(0.8);
    for (const t of [x, data, eData, eFar]) t.dispose();
    model.dispose();

    await page.screenshot({ path: join(ARTIFACTS, 'demo.png') });
  }, 60_000);

  test('loads checkpoints made by PyTorch with the seed classes, through the file input', async () => {
    for (const [name, activation] of [['zoo-mlp-sn', 'silu'], ['zoo-mlp', 'relu']] as const) {
      const io = await ebm.readSafetensors(join(ROOT, 'test', 'fixtures', `${name}-io.safetensors`));
      const xs = Array.from(await io.tensors.get('x')!.data());
      const expected = await io.tensors.get('eval/energy')!.data();
      for (const t of io.tensors.values()) t.dispose();
      // The file has no activation: the menu's choice is used. Choosing it resets the model.
      await page.selectOption('select[name=activation]', activation);
      await page.waitForFunction((a) => window.__ebm.config().activation === a, activation);
      await page.setInputFiles('#load', join(ROOT, 'test', 'fixtures', `${name}.safetensors`));
      await page.waitForFunction((n) => document.documentElement.dataset.ebmLoaded === n || document.documentElement.dataset.ebmLoadError, `${name}.safetensors`);
      expect(await page.evaluate(() => document.documentElement.dataset.ebmLoadError ?? null)).toBeNull();
      const config = await page.evaluate(() => window.__ebm.config());
      expect(config).toMatchObject({ hiddenDims: [32, 32], activation, spectralNorm: name === 'zoo-mlp-sn' });
      const got = await page.evaluate((b) => window.__ebm.energies(b), xs);
      const err = relErr(got, expected);
      expect(err, `${name}: page vs PyTorch`).toBeLessThan(1e-4);
    }
  }, 60_000);

  test("loads a CLI-style training checkpoint: the activation from its metadata, optimizer tensors skipped", async () => {
    // The CLI's checkpoint.safetensors layout (src/cli/checkpoint.ts): the model's tensors, then
    // optimizer.state.<i>.<key> and trainer.* ones; the model config in 'webgpu-ebm.config'.
    const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [16, 8], activation: 'leaky_relu', seed: 5 });
    const extra = { 'optimizer.state.0.exp_avg': ebm.zeros([16, 2]), 'trainer.buffer': ebm.zeros([4, 2]) };
    const dict = new Map([...model.stateDict(), ...Object.entries(extra)]);
    const bytes = await ebm.saveSafetensors(dict, undefined, {
      metadata: { 'webgpu-ebm.model': 'MLPEnergyModel', 'webgpu-ebm.config': JSON.stringify({ inputDim: 2, hiddenDims: [16, 8], activation: 'leaky_relu', useSpectralNorm: false }), 'webgpu-ebm.step': '7' },
    });
    const loaded = await page.evaluate((b64) => window.__ebm.loadCheckpoint(b64, 'checkpoint.safetensors'), Buffer.from(bytes).toString('base64'));
    expect(loaded.activationFrom).toBe('metadata');
    expect(loaded.config).toMatchObject({ hiddenDims: [16, 8], activation: 'leakyRelu', spectralNorm: false });
    const e = ebm.tidy(() => ebm.noGrad(() => model.forward(ebm.tensor(Float32Array.from(BATCH), [BATCH.length / 2, 2]))));
    const expected = await e.data();
    const got = await page.evaluate((b) => window.__ebm.energies(b), BATCH);
    expect(relErr(got, expected)).toBeLessThan(1e-4);
    // A file that is not an MLPEnergyModel is refused with the reason.
    const other = await ebm.saveSafetensors({ 'input_proj.0.weight': ebm.zeros([4, 2]) });
    await expect(page.evaluate((b64) => window.__ebm.loadCheckpoint(b64, 'resnet.safetensors'), Buffer.from(other).toString('base64'))).rejects.toThrow(/not an MLPEnergyModel checkpoint/);
    for (const t of [e, ...Object.values(extra)]) t.dispose();
    model.dispose();
  }, 60_000);
});

describe('the digits mode (MNIST) in headless Chromium', () => {
  let page: Page;
  let errors: string[];
  const M = ebm.CHECKPOINT_METADATA;
  /** Small enough for SwiftShader on a loaded 2-core machine: two convs, batch 32, PCD-5. */
  const SMALL = { channels: [8, 16], batchSize: 32, langevinSteps: 5, lr: 1e-3, seed: 0 } satisfies DigitsConfig;
  const STEPS = 6;

  beforeAll(() => {
    ({ page, errors } = demo);
    expect(demo.info.status).toBe('ready');
  });

  afterEach(() => {
    expect(errors, 'page errors and console errors').toEqual([]);
  });

  test('trains: held-out digits end up below noise in energy, the 64-chain grid is drawn, the quality score is live', async () => {
    // configure switches the page to digits as the dataset menu does (the menu follows), with a
    // small model; the 2-D panels give way to the digits ones.
    const config = await page.evaluate((c) => window.__ebm.digits.configure(c), SMALL);
    expect(config).toEqual(SMALL);
    expect(await page.inputValue('select[name=dataset]')).toBe('mnist');
    expect(await page.isVisible('#digits-grid')).toBe(true);
    expect(await page.isVisible('#heatmap')).toBe(false);
    expect(await page.textContent('#digits-model')).toContain('channels 8, 16');
    const before = await page.evaluate(() => window.__ebm.digits.heldOutVsNoise(64));
    const run = await page.evaluate((n) => window.__ebm.digits.train(n), STEPS);
    expect(run.step).toBe(STEPS);
    expect(run.losses.every(Number.isFinite)).toBe(true);
    const after = await page.evaluate(() => window.__ebm.digits.heldOutVsNoise(64));
    const gap = (r: { heldOut: number[]; noise: number[] }) => mean(r.noise) - mean(r.heldOut);
    // The fraction of held-out digits below the lowest-energy noise image: 64 each, so one
    // digit is 1.6%; an untrained net does not separate them (its energies barely depend on x).
    const minNoise = Math.min(...after.noise);
    const below = after.heldOut.filter((e) => e < minNoise).length / after.heldOut.length;
    console.log(
      `digits: ${STEPS} steps in ${run.seconds.toFixed(1)} s (${run.stepsPerSecond.toFixed(2)} steps/s); E(noise) - E(held-out): ${gap(before).toExponential(2)} -> ${gap(after).toExponential(2)}; ` +
        `${(100 * below).toFixed(0)}% of held-out digits below every noise image; classifier confidence ${run.quality?.meanConfidence.toFixed(3)}, IS ${run.quality?.inceptionScore.toFixed(2)}`,
    );
    expect(mean(after.heldOut)).toBeLessThan(mean(after.noise));
    expect(gap(after)).toBeGreaterThan(gap(before));
    expect(below).toBeGreaterThan(0.9);
    // The live quality figures of the 64 chains: probabilities and a histogram over 10 classes.
    expect(run.quality!.n).toBe(64);
    expect(run.quality!.meanConfidence).toBeGreaterThan(0.1);
    expect(run.quality!.meanConfidence).toBeLessThanOrEqual(1);
    expect(run.quality!.histogram.length).toBe(10);
    expect(run.quality!.inceptionScore).toBeGreaterThanOrEqual(1 - 1e-4);
    expect(await page.textContent('#digits-confidence')).toBe(run.quality!.meanConfidence.toFixed(3));

    // The grid as drawn: 8 x 8 tiles, not one flat colour (the grey levels spread: variance
    // of the tiles' luminance well above 0; uniform noise in [-1, 1] gives ~5,400, a flat grid 0).
    const px = await page.evaluate(() => window.__ebm.digits.gridPixels());
    const rgba = Buffer.from(px.rgba, 'base64');
    expect(rgba.length).toBe(px.width * px.height * 4);
    const ys: number[] = [];
    for (let i = 0; i < rgba.length; i += 4) ys.push(rgba[i]!);
    const m = mean(ys);
    const variance = mean(ys.map((y) => (y - m) ** 2));
    console.log(`digits: grid ${px.width}x${px.height}, luminance mean ${m.toFixed(1)}, variance ${variance.toFixed(0)}`);
    expect(variance).toBeGreaterThan(500);
    await page.screenshot({ path: join(ARTIFACTS, 'demo-digits.png') });

    // Download: the CLI's model.safetensors format, and Node gives the page's energies with it.
    const bytes = Buffer.from(await page.evaluate(() => window.__ebm.digits.downloadCheckpointBytes()), 'base64');
    const parsed = ebm.parseSafetensors(new Uint8Array(bytes));
    expect(parsed.metadata[M.model]).toBe('ConvEnergyModel');
    const options = JSON.parse(parsed.metadata[M.config]!) as ebm.ConvEnergyModelOptions;
    expect(options).toEqual({ inputChannels: 1, imageSize: 28, channels: [8, 16], kernelSize: 3, activation: 'silu' });
    expect(parsed.metadata[M.step]).toBe(String(STEPS));
    const model = new ebm.ConvEnergyModel(options);
    await ebm.loadSafetensors(model, new Uint8Array(bytes));
    const ref = await ebm.readSafetensors(join(ROOT, 'test', 'fixtures', 'pytorch-example', 'reference.safetensors'));
    const images = ref.tensors.get('images')!;
    const e = ebm.tidy(() => ebm.noGrad(() => model.forward(images)));
    const inNode = await e.data();
    const inPage = await page.evaluate((x) => window.__ebm.digits.energies(x), Array.from(await images.data()));
    expect(relErr(inPage, inNode), 'page vs Node energies of the downloaded model').toBeLessThan(1e-4);
    e.dispose();
    model.dispose();
    for (const t of ref.tensors.values()) t.dispose();
  }, 240_000);

  test('loads the PyTorch example checkpoint (examples/pytorch) through the file input: PyTorch energies', async () => {
    const ref = await ebm.readSafetensors(join(ROOT, 'test', 'fixtures', 'pytorch-example', 'reference.safetensors'));
    const xs = Array.from(await ref.tensors.get('images')!.data());
    const expected = await ref.tensors.get('energies')!.data();
    for (const t of ref.tensors.values()) t.dispose();
    await page.setInputFiles('#digits-load', join(ROOT, 'test', 'fixtures', 'pytorch-example', 'model.safetensors'));
    await page.waitForFunction(() => document.documentElement.dataset.ebmLoaded === 'model.safetensors' || document.documentElement.dataset.ebmLoadError, undefined, { timeout: 60_000 });
    expect(await page.evaluate(() => document.documentElement.dataset.ebmLoadError ?? null)).toBeNull();
    expect(await page.evaluate(() => window.__ebm.digits.config().channels)).toEqual([4, 8]);
    const got = await page.evaluate((x) => window.__ebm.digits.energies(x), xs);
    // The file's step (metadata) is the page's (drawn once the load's refresh is done, as it is now).
    expect(await page.textContent('#digits-step')).toBe('5');
    const err = relErr(got, expected);
    console.log(`digits: PyTorch example checkpoint, page vs PyTorch energies on ${expected.length} images: ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    // The live loop (the Start button) trains the loaded model on and redraws; Pause stops it.
    await page.click('#digits-toggle');
    await page.waitForFunction(() => Number(document.getElementById('digits-step')!.textContent) > 5, undefined, { timeout: 60_000 });
    await page.evaluate(() => window.__ebm.digits.pause());
    expect(await page.textContent('#digits-toggle')).toBe('Start');
    // A 2-D model's file is refused in this mode, with the reason.
    const mlp = readFileSync(join(ROOT, 'test', 'fixtures', 'zoo-mlp.safetensors')).toString('base64');
    await expect(page.evaluate((b64) => window.__ebm.digits.loadCheckpoint(b64, 'zoo-mlp.safetensors'), mlp)).rejects.toThrow(/ConvEnergyModel/);
    // Back to a 2-D dataset: the 2-D page returns.
    await page.selectOption('select[name=dataset]', 'two-moons');
    await page.waitForFunction(() => document.body.dataset.mode !== 'digits' && window.__ebm.config().dataset === 'two-moons', undefined, { timeout: 60_000 });
    expect(await page.isVisible('#heatmap')).toBe(true);
    expect(await page.isVisible('#digits-grid')).toBe(false);
  }, 120_000);
});

test('without WebGPU the demo shows a message instead of a blank page', async () => {
  const ctx = await launch(false);
  try {
    const { page, info, errors } = await openDemo(ctx, `${base}/demo/`);
    expect(info.status).toBe('no-webgpu');
    expect(info.error).toMatch(/WebGPU|adapter/);
    expect(await page.isVisible('#no-webgpu')).toBe(true);
    expect(await page.isVisible('#app')).toBe(false);
    expect(await page.textContent('#no-webgpu h2')).toBe('WebGPU is not available');
    expect(await page.title()).toBe('webgpu-ebm demo: no WebGPU');
    await page.screenshot({ path: join(ARTIFACTS, 'demo-no-webgpu.png') });
    // The missing adapter is reported on the page, not thrown: no page or console errors.
    expect(errors).toEqual([]);
  } finally {
    await ctx.close();
  }
}, 60_000);

test('the library bundle works from a plain <script type="module">', async () => {
  // A second page in the shared WebGPU browser.
  const page = await gpuCtx!.newPage();
  try {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${base}/lib/plain.html`);
    await page.waitForFunction(() => document.title !== 'plain: loading', undefined, { timeout: 30_000 });
    const result = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as { s: number; e: number[]; bytes: number; f16: boolean; error?: string };
    expect(result.error).toBeUndefined();
    expect(result.s).toBe(1 * 1 + 2 * 2 + 2 * (1 * 3 + 2 * 4) + 3 * 3 + 4 * 4);
    expect(result.f16).toBe(false);
    // The same model made in Node gives the same energies.
    const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [8], activation: 'silu', seed: 1 });
    const e = await model.forward(ebm.tensor([[1, 2], [3, 4]])).data();
    expect(relErr(result.e, e)).toBeLessThan(1e-4);
    expect(result.bytes).toBeGreaterThan(100);
    expect(errors).toEqual([]);
    model.dispose();
  } finally {
    await page.close();
  }
}, 60_000);
