#!/usr/bin/env node
// The browser demo's training speed (steps/s) on headless Chromium's WebGPU adapter (SwiftShader
// on a machine without a GPU), for before/after comparisons of engine changes:
//
//   node scripts/demo-speed.mjs [--root DIR] [--seconds N] [--config JSON]
//
// Builds the demo of the checkout at DIR (default: this one) with its own vite config, serves it
// on localhost, opens it in Debian's chromium (flags from ../shared/notes/environment.md, as
// test/browser.e2e.test.ts uses them; never a downloaded browser), then measures two figures:
//   train(): the automation hook's window.__ebm.train(10) rate (training steps, then one redraw),
//            the median of repeated calls over N seconds after one warm-up call (compiles);
//   live:    the page's own steps/s readout (#stat-rate: the last 3 s of its live loop, heat-map
//            refreshes included), read every 3 s over N seconds of Start: the median.
// --config applies part of the demo's config first (e.g. '{"kSteps":40}'). Prints one JSON line.
//
//   node scripts/demo-speed.mjs --coverage [--root DIR] [--seconds 60] [--config JSON]
//
// instead runs the page as a visitor does: Start (the live loop, redraws included) for N seconds
// from a fresh model, reading the page's samples (window.__ebm.samples(), the display chains as
// drawn) every 5 s, and prints the steps taken and the samples' mode coverage at each reading
// (the CLI's modeCoverage, src/cli/train.ts: a mode is covered when >= 5% of the samples lie
// within 4 std of its centre). The clock starts at Start, so the first readings include the
// shader compiles.
//
//   node scripts/demo-speed.mjs --sampler [--root DIR] [--seconds N]
//
// instead times the demo's Langevin chains alone in the page, through the library bundle: the
// demo's default model (2-32-32-1 SiLU), 256 chains x 10 steps (one training step's negatives) awaited to
// a readback, on the general path (fused: false) and fused under each schedule of
// rt.tuning.langevinMlp (where the checkout has them): the first call (compiles) and the median
// of the calls in N seconds, alternating the variants.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const root = resolve(opt('root', join(import.meta.dirname, '..')));
const seconds = Number(opt('seconds', '20'));
const config = JSON.parse(opt('config', '{}'));
const samplerMode = args.includes('--sampler');
const coverageMode = args.includes('--coverage');
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${opt('seconds')}`);
const CHROMIUM = process.env.WEBGPU_EBM_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM} (apt-get install -y chromium; never a downloaded browser)`);

const work = mkdtempSync(join(tmpdir(), 'demo-speed-'));
const out = join(work, 'dist');
for (const [cmd, argv] of [
  ['node', ['scripts/embed-shaders.mjs']],
  samplerMode ? ['npx', ['vite', 'build', '--outDir', out, '--emptyOutDir']] : ['npx', ['vite', 'build', '--mode', 'demo', '--outDir', out, '--emptyOutDir']],
]) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed in ${root}`);
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };
const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  if (samplerMode && path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>sampler</title>');
  let file = normalize(join(out, path));
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!file.startsWith(out + sep) && file !== out) return res.writeHead(404).end();
  if (!existsSync(file)) return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

// playwright-core from the checkout measured (or this one's).
const { chromium } = await import(join(root, 'node_modules', 'playwright-core', 'index.mjs'));
const FLAGS = ['--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--enable-unsafe-webgpu'];
const ctx = await chromium.launchPersistentContext(join(work, 'profile'), { executablePath: CHROMIUM, headless: true, args: FLAGS });
try {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  if (samplerMode) {
    await page.goto(url);
    const r = await page.evaluate(async (seconds) => {
      const ebm = await import('/webgpu-ebm.js');
      const rt = await ebm.init();
      const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [32, 32], activation: 'silu', seed: 1 });
      const x = ebm.randn([256, 2], { seed: 1 });
      const variants = ['general', 'subgroup8', 'subgroup4', 'workgroup', 'auto'];
      const time = async (v) => {
        if (v === 'general') delete rt.tuning.langevinMlp;
        else rt.tuning.langevinMlp = v;
        const before = new Map(rt.stats.byShader);
        const t = performance.now();
        const y = new ebm.LangevinDynamics(model, { stepSize: 0.02, noiseScale: 0.1, fused: v !== 'general' }).sample({ x, nSteps: 10, seed: 3 });
        await y.data();
        y.dispose();
        const ran = [...rt.stats.byShader].filter(([k, n]) => k.startsWith('langevin') && n !== (before.get(k) ?? 0)).map(([k]) => k);
        return { ms: performance.now() - t, ran };
      };
      const out = {};
      for (const v of variants) {
        try {
          const first = await time(v);
          out[v] = { firstMs: first.ms, ran: first.ran, ms: [] };
        } catch (e) {
          out[v] = { error: String(e.message ?? e) };
        }
      }
      const live = variants.filter((v) => out[v].ms);
      const t0 = performance.now();
      while (performance.now() - t0 < seconds * 1000) for (const v of live) out[v].ms.push((await time(v)).ms);
      for (const v of live) {
        const m = out[v].ms.sort((a, b) => a - b);
        out[v] = { ran: out[v].ran, firstMs: Math.round(out[v].firstMs), medianMs: Math.round(m[Math.floor(m.length / 2)]), runs: m.length };
      }
      return { adapter: `${rt.info.vendor} ${rt.info.architecture}`, subgroups: [rt.info.subgroupMinSize, rt.info.subgroupMaxSize], variants: out };
    }, seconds);
    console.log(JSON.stringify({ root, commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim(), chains: 256, steps: 10, model: '2-32-32-1 silu', ...r }));
    process.exitCode = 0;
  } else if (coverageMode) {
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // The CLI's mode-coverage function, from the checkout's TypeScript (vite transpiles it).
    const { createServer: viteServer } = await import(join(root, 'node_modules', 'vite', 'dist', 'node', 'index.js'));
    const vs = await viteServer({ root, configFile: false, logLevel: 'silent', server: { middlewareMode: true, hmr: false } });
    const { modeCoverage } = await vs.ssrLoadModule('/src/cli/train.ts');
    await page.goto(url);
    await page.waitForFunction(() => window.__ebm !== undefined, undefined, { timeout: 30_000 });
    const info = await page.evaluate(() => window.__ebm.ready);
    if (info.status !== 'ready') throw new Error(`the demo is not ready: ${info.status}: ${info.error}`);
    const cfg = await page.evaluate((c) => window.__ebm.configure(c), config);
    const cover = async () => {
      const xy = Float32Array.from(await page.evaluate(() => window.__ebm.samples()));
      const c = modeCoverage(xy, cfg.dataset);
      return { covered: c.modes_covered, near: c.near_mode_fraction, fractions: c.mode_fractions };
    };
    const readings = [];
    const t0 = Date.now();
    await page.evaluate(() => window.__ebm.start());
    while (Date.now() - t0 < seconds * 1000) {
      await page.waitForTimeout(Math.min(5000, seconds * 1000 - (Date.now() - t0)));
      const step = Number(await page.evaluate(() => document.getElementById('stat-step').textContent));
      readings.push({ s: Math.round((Date.now() - t0) / 1000), step, ...(await cover()) });
      console.error(JSON.stringify(readings.at(-1)));
    }
    await page.evaluate(() => window.__ebm.pause());
    const live = { seconds, steps: readings.at(-1).step, ...(await cover()) };
    console.log(JSON.stringify({ root, commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim(), adapter: info.adapter, config: cfg, live, readings, errors }));
    await vs.close();
  } else {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.__ebm !== undefined, undefined, { timeout: 30_000 });
  const info = await page.evaluate(() => window.__ebm.ready);
  if (info.status !== 'ready') throw new Error(`the demo is not ready: ${info.status}: ${info.error}`);
  const gpu = await page.evaluate(async () => {
    const a = await navigator.gpu.requestAdapter();
    const i = a.info;
    return { subgroups: a.features.has('subgroups'), subgroupMinSize: i.subgroupMinSize ?? null, subgroupMaxSize: i.subgroupMaxSize ?? null };
  });
  const cfg = await page.evaluate((c) => window.__ebm.configure(c), config);

  // train(): one warm-up call (pipeline compiles), then calls of 10 steps until `seconds` pass.
  const warmup = await page.evaluate(() => window.__ebm.train(10).then((r) => r.seconds));
  const rates = [];
  const t1 = Date.now();
  while (Date.now() - t1 < seconds * 1000) rates.push(await page.evaluate(() => window.__ebm.train(10).then((r) => r.stepsPerSecond)));
  rates.sort((a, b) => a - b);

  // The live loop and the page's own readout (3 s windows).
  await page.evaluate(() => window.__ebm.start());
  await page.waitForTimeout(4000);
  const lives = [];
  for (let t = 0; t < seconds; t += 3) {
    lives.push(Number.parseFloat(await page.evaluate(() => document.getElementById('stat-rate').textContent)));
    await page.waitForTimeout(3000);
  }
  await page.evaluate(() => window.__ebm.pause());
  lives.sort((a, b) => a - b);

  console.log(
    JSON.stringify({
      root,
      commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim(),
      adapter: info.adapter,
      features: info.features,
      ...gpu,
      config: { hiddenDims: cfg.hiddenDims, activation: cfg.activation, batchSize: cfg.batchSize, kSteps: cfg.kSteps, persistent: cfg.persistent },
      warmupSeconds: warmup,
      liveStepsPerSecond: { median: lives[Math.floor(lives.length / 2)], readings: lives },
      trainStepsPerSecond: { median: rates[Math.floor(rates.length / 2)], min: rates[0], max: rates.at(-1), calls: rates.length },
      errors,
    }),
  );
  }
} finally {
  await ctx.close();
  server.close();
  rmSync(work, { recursive: true, force: true });
}
