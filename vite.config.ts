// Vite builds two things from this repository:
//
//   vite build                 the library for browsers: one ESM file, dist-browser/webgpu-ebm.js
//                              (npm run build:browser); its types are tsc's dist/src/*.d.ts,
//                              referenced by dist-browser/webgpu-ebm.d.ts
//   vite build --mode demo     the live training demo (demo/index.html) into dist-demo/
//                              (npm run build:demo; `npm run demo` serves it with vite's dev server)
//
// Both carry the WGSL inline (src/kernels/shader-sources.generated.ts, which the npm scripts
// regenerate first) and neither may pull in Dawn (`webgpu`) or a Node built-in: src/ reaches
// those only through computed dynamic imports that bundlers leave alone.
// test/bundle.test.ts and test/browser.e2e.test.ts build with the two configs exported here.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { defineConfig, type Plugin, type UserConfig } from 'vite';

const root = dirname(fileURLToPath(import.meta.url));

/** Node-only specifiers the browser outputs must never import. */
export const NODE_ONLY = /^(webgpu|fs|path|os|url|child_process|worker_threads|fs\/promises|node:.*)$/;

/** Fails the build when any module imports a Node-only specifier statically. */
function browserOnly(): Plugin {
  return {
    name: 'webgpu-ebm:browser-only',
    enforce: 'pre',
    resolveId(source, importer) {
      if (NODE_ONLY.test(source) && importer && !importer.includes('/node_modules/'))
        this.error(`${source} is Node-only and cannot go into the browser build (imported by ${importer})`);
      return null;
    },
  };
}

/** dist-browser/webgpu-ebm.d.ts: the bundle's types are tsc's declarations in dist/. */
function typesStub(): Plugin {
  return {
    name: 'webgpu-ebm:types-stub',
    generateBundle() {
      this.emitFile({
        type: 'asset',
        fileName: 'webgpu-ebm.d.ts',
        source: "// Types of webgpu-ebm.js: tsc's declarations (npm run build writes dist/).\nexport * from '../dist/src/index.js';\n",
      });
    },
  };
}

/** The library bundle: ESM, unminified (readable stack traces), with a source map. */
export function libraryConfig(opts: { outDir?: string; write?: boolean } = {}): UserConfig {
  return {
    root,
    logLevel: 'warn',
    publicDir: false,
    plugins: [browserOnly(), typesStub()],
    build: {
      outDir: opts.outDir ?? join(root, 'dist-browser'),
      emptyOutDir: true,
      write: opts.write ?? true,
      target: 'es2022',
      minify: false,
      sourcemap: true,
      lib: { entry: join(root, 'src', 'index.ts'), formats: ['es'], fileName: () => 'webgpu-ebm.js' },
    },
  };
}

/** The demo page: demo/index.html and its modules, importing the library from src/. */
export function demoConfig(opts: { outDir?: string } = {}): UserConfig {
  return {
    root: join(root, 'demo'),
    // Relative asset URLs: dist-demo/ works from any path on any static server.
    base: './',
    logLevel: 'warn',
    publicDir: false,
    plugins: [browserOnly()],
    server: { fs: { allow: [root] } },
    build: {
      outDir: opts.outDir ?? join(root, 'dist-demo'),
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: true,
    },
  };
}

export default defineConfig(({ mode }) => (mode === 'demo' ? demoConfig() : libraryConfig()));
