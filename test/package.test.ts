// What `npm pack` ships: the package build (tsconfig.build.json) of the library, the CLI and the
// bench suites the `bench` command imports, the bin and the WGSL sources; never the tests or the
// demo. The build and the pack run in a temporary copy (package.json, README, bin, shaders, a fresh
// dist/), so the check does not depend on, or touch, this checkout's dist/.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const root = join(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'webgpu-ebm-pack-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface PackJson {
  files: { path: string }[];
}

test('npm pack ships dist/src, dist/bench, bin, shaders and the demo data assets, and no test or demo code', () => {
  for (const entry of ['package.json', 'README.md', 'bin', 'shaders', 'demo']) cpSync(join(root, entry), join(work, entry), { recursive: true });
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(work, 'dist')], {
    cwd: root,
    stdio: 'pipe',
  });
  // The package build compiles the shipped code only.
  expect(readdirSync(join(work, 'dist')).sort()).toEqual(['bench', 'src']);
  // Outputs a full `tsc -p tsconfig.json` once left in dist/ stay out of the package too.
  for (const stale of ['test', 'demo']) {
    mkdirSync(join(work, 'dist', stale));
    writeFileSync(join(work, 'dist', stale, 'stale.js'), '');
  }
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const paths = (JSON.parse(out) as PackJson[])[0]!.files.map((f) => f.path);
  const top = new Set(paths.map((p) => (p.startsWith('dist/') || p.startsWith('demo/') ? p.split('/').slice(0, 2).join('/') : p.split('/')[0]!)));
  expect([...top].sort()).toEqual(['README.md', 'bin', 'demo/assets', 'dist/bench', 'dist/src', 'package.json', 'shaders']);
  // The digit classifier's weights and the compact MNIST digits: what loadDigitClassifier() and the image runs read beside the code.
  for (const asset of ['demo/assets/digit-classifier.safetensors', 'demo/assets/mnist-digits.bin']) expect(paths).toContain(asset);
  // What a user imports or runs: the package's entry points, the bin's import, the bench suites.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    main: string;
    types: string;
    exports: Record<string, Record<string, string>>;
    bin: Record<string, string>;
  };
  const entries = [pkg.main, pkg.types, ...Object.values(pkg.exports).flatMap((e) => Object.values(e)), ...Object.values(pkg.bin)].map((p) => p.replace(/^\.\//, ''));
  const binImport = /from '\.\.\/(dist\/[^']+)'/.exec(readFileSync(join(root, 'bin', 'webgpu-ebm.js'), 'utf8'))?.[1];
  for (const p of [...entries, binImport, 'dist/src/cli/bench.js', 'dist/bench/suites.js']) expect(paths).toContain(p);
  expect(paths.filter((p) => p.endsWith('.wgsl')).length).toBe(readdirSync(join(root, 'shaders')).filter((f) => f.endsWith('.wgsl')).length);
}, 60_000);
