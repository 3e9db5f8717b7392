// The browser bundle (vite.config.ts's libraryConfig, what `npm run build:browser` writes to
// dist-browser/webgpu-ebm.js): built from src/index.ts, it must carry the WGSL inline and must
// not import Dawn (`webgpu`) or any Node built-in at the top level. test/browser.e2e.test.ts
// loads the written file from a plain <script type="module"> in Chromium.
import { expect, test } from 'vitest';
import { build, type Rollup } from 'vite';
import { libraryConfig } from '../vite.config.js';

test('vite bundles the library for the browser without webgpu or node: imports', async () => {
  const result = (await build({ ...libraryConfig({ write: false }), configFile: false, logLevel: 'silent' })) as Rollup.RollupOutput[] | Rollup.RollupOutput;
  const outputs = (Array.isArray(result) ? result : [result]).flatMap((r) => r.output);
  const chunks = outputs.filter((o): o is Rollup.OutputChunk => o.type === 'chunk');
  // One self-contained file: a page imports it with a single <script type="module">.
  expect(chunks.map((c) => c.fileName)).toEqual(['webgpu-ebm.js']);
  expect(outputs.map((o) => o.fileName)).toContain('webgpu-ebm.d.ts');
  const code = chunks.map((c) => c.code).join('\n');
  // Static imports only: the Dawn loader uses a computed specifier that bundlers leave alone.
  const imports = [...code.matchAll(/^\s*import\s[^;]*?from\s*['"]([^'"]+)['"]/gm), ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
  expect(imports).toEqual([]);
  expect(code).not.toMatch(/import\(\s*['"](webgpu|fs|path|os|node:[^'"]*)['"]\s*\)/);
  expect(code).not.toMatch(/require\(\s*['"]/);
  // The shaders travel inside the bundle.
  expect(code).toContain('fn per_workgroup');
  expect(code).toContain('Philox');
  // The public API is there.
  expect(code).toMatch(/export \{[^}]*\bMLPEnergyModel\b[^}]*\bsaveSafetensors\b/);
}, 120_000);
