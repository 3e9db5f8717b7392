// ARCHITECTURE.md stays true: every path it names exists, it stays short enough to read, and
// the import rules its layer table states hold for every source file.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const doc = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');

/** Backticked spans that name a file or folder of the repository (they contain a slash or a known extension). */
function namedPaths(text: string): string[] {
  const spans = [...text.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!);
  return [...new Set(spans.filter((s) => /^(src|shaders|test|bench|demo|scripts|bin|docs)\//.test(s) || /^[\w.-]+\.(ts|wgsl|mjs|md|json)$/.test(s)))];
}

describe('ARCHITECTURE.md', () => {
  test('is under 150 lines', () => {
    expect(doc.split('\n').length).toBeLessThan(150);
  });

  test('names only paths that exist', () => {
    const paths = namedPaths(doc);
    expect(paths.length, 'paths found in the document').toBeGreaterThan(30);
    // A bare file name (unary.wgsl) is looked up in shaders/; anything else from the root.
    const missing = paths.filter((p) => !existsSync(join(ROOT, p)) && !existsSync(join(ROOT, 'shaders', p)));
    expect(missing).toEqual([]);
  });
});

/** Every .ts file under a folder of src/. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The src/ folder (layer) each relative import of a file resolves into. */
function importedLayers(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)].map((m) => m[1]!);
  return specs.map((s) => relative(join(ROOT, 'src'), resolve(dirname(join(ROOT, file)), s)).split('/')[0]!);
}

describe('the layer rules', () => {
  const rules: [layer: string, forbidden: string[]][] = [
    ['kernels', ['tensor', 'nn', 'train', 'cli']],
    ['tensor', ['nn', 'train', 'cli']],
    ['nn', ['kernels', 'train', 'cli']],
    ['train', ['kernels', 'cli']],
  ];
  test.each(rules)('src/%s imports none of %j', (layer, forbidden) => {
    const files = sources(join('src', layer));
    expect(files.length).toBeGreaterThan(0);
    const broken = files.flatMap((f) => importedLayers(f).filter((l) => forbidden.includes(l)).map((l) => `${f} imports src/${l}`));
    expect(broken).toEqual([]);
  });

  test('src/train and src/nn never touch a GPU buffer', () => {
    // src/train has no `.buffer` at all (its state is tensors); src/nn reads `.buffer` only of
    // typed arrays (safetensors bytes), so there the check is on the GPU buffer types.
    const inTrain = sources('src/train').filter((f) => /\.buffer\b/.test(readFileSync(join(ROOT, f), 'utf8')));
    const gpuTypes = [...sources('src/train'), ...sources('src/nn')].filter((f) => /\b(PooledBuffer|GPUBuffer|rt\.(write|read|copy)\()/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(inTrain).toEqual([]);
    expect(gpuTypes).toEqual([]);
  });
});
