// The browser bundle: built from src/index.ts with vite, it must carry the WGSL inline and
// must not import Dawn (`webgpu`) or any Node built-in at the top level.
import { expect, test } from 'vitest';
import { build, type Rollup } from 'vite';
import { join } from 'node:path';

test('vite bundles the library for the browser without webgpu or node: imports', async () => {
  const result = (await build({
    configFile: false,
    logLevel: 'silent',
    root: join(import.meta.dirname, '..'),
    build: {
      write: false,
      minify: false,
      lib: { entry: join(import.meta.dirname, '..', 'src', 'index.ts'), formats: ['es'], fileName: 'webgpu-ebm' },
    },
  })) as Rollup.RollupOutput[] | Rollup.RollupOutput;
  const outputs = (Array.isArray(result) ? result : [result]).flatMap((r) => r.output);
  const chunks = outputs.filter((o): o is Rollup.OutputChunk => o.type === 'chunk');
  expect(chunks.length).toBeGreaterThan(0);
  const code = chunks.map((c) => c.code).join('\n');
  // Static imports only: the Dawn loader uses a computed specifier that bundlers leave alone.
  const imports = [...code.matchAll(/^\s*import\s[^;]*?from\s*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
  expect(imports.filter((s) => s === 'webgpu' || s!.startsWith('node:') || s === 'fs' || s === 'path')).toEqual([]);
  expect(code).not.toMatch(/import\(\s*['"]webgpu['"]\s*\)/);
  // The shaders travel inside the bundle.
  expect(code).toContain('fn per_workgroup');
  expect(code).toContain('Philox');
}, 120_000);
