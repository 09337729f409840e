// Bundles each part with esbuild (type checking is `npm run typecheck`, separately).
// Usage: node scripts/build.mjs [--watch] [engine|extension|webview ...]
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative } from './build-native.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const watch = args.includes('--watch');
const only = args.filter((a) => !a.startsWith('--'));
const want = (part) => only.length === 0 || only.includes(part);

const common = { bundle: true, sourcemap: true, logLevel: 'warning', absWorkingDir: root, legalComments: 'none' };
const builds = [];

if (want('engine')) {
  builds.push({
    ...common,
    entryPoints: { cli: 'engine/src/cli.ts' },
    outdir: 'dist/engine',
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // ESM dependencies (fdir, via tinyglobby) read import.meta.url, which CommonJS output lacks.
    banner: { js: '#!/usr/bin/env node\nconst __importMetaUrl = require("url").pathToFileURL(__filename).href;' },
    define: { 'import.meta.url': '__importMetaUrl' },
    // Optional native backends: loaded at run time only if the user installed them.
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
    // tfjs-backend-cpu's package.json marks its CommonJS entry side-effect free, but importing it
    // is what registers the backend and its kernels.
    ignoreAnnotations: true,
  });
}
if (want('extension') && existsSync(join(root, 'extension/src/extension.ts'))) {
  builds.push({
    ...common,
    entryPoints: { extension: 'extension/src/extension.ts' },
    outdir: 'dist/extension',
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode'],
  });
}
if (want('webview') && existsSync(join(root, 'webview/src'))) {
  const entries = {};
  for (const name of ['explorer', 'charts']) {
    if (existsSync(join(root, `webview/src/${name}/main.ts`))) entries[name] = `webview/src/${name}/main.ts`;
  }
  if (Object.keys(entries).length) {
    builds.push({
      ...common,
      entryPoints: entries,
      outdir: 'dist/webview',
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      loader: { '.css': 'css' },
    });
  }
}

// The wasm backend loads its .wasm binaries from next to the bundle.
if (want('engine')) {
  mkdirSync(join(root, 'dist/engine'), { recursive: true });
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
    cpSync(join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist', f), join(root, 'dist/engine', f));
  }
  // The torch backend's Python package, run by the engine from next to the bundle (engine/src/torch/python.ts).
  cpSync(join(root, 'engine/torch/ldtorch'), join(root, 'dist/engine/torch/ldtorch'), { recursive: true, filter: (src) => !src.includes('__pycache__') });
  // The native CPU kernels (optional: the engine falls back to wasm without them).
  buildNative({ strict: process.env.LDLENS_NATIVE_STRICT === '1' });
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log('watching…');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
