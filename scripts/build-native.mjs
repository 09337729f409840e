// Compiles the native CPU kernels (engine/native/ldnative.c) into
// dist/engine/ldnative-<platform>-<arch>.node (the name engine/src/ops/native.ts looks for) with the
// system's C compiler and Node-API's headers: no node-gyp, no download. The addon opens BLAS with
// dlopen at run time, so it links against nothing but libc. Without a compiler the engine runs its
// wasm kernels (slower) and says so; this script then warns and exits 0.
// Usage: node scripts/build-native.mjs [--strict]   (--strict: fail instead of warning)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function buildNative({ strict = false } = {}) {
  const src = join(root, 'engine/native/ldnative.c');
  const out = join(root, 'dist/engine', `ldnative-${process.platform}-${process.arch}.node`);
  const fail = (why) => {
    if (strict) throw new Error(`native kernels: ${why}`);
    console.warn(`native kernels not built (${why}): the engine will use its wasm kernels`);
    return false;
  };
  if (process.platform === 'win32') return fail('Windows builds are not set up');
  if (existsSync(out) && statSync(out).mtimeMs > Math.max(statSync(src).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs)) return true;
  const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
  if (!cc) return fail('no C compiler: install gcc');
  let include;
  try {
    include = createRequire(join(root, 'package.json'))('node-api-headers').include_dir;
  } catch {
    return fail('the node-api-headers package is missing: npm install');
  }
  mkdirSync(dirname(out), { recursive: true });
  // -ffp-contract=off: no fused multiply-adds the source does not write (same roundings as wasm);
  // no errno and no FP traps: lets the element loops vectorize (results unchanged).
  const flags = ['-O3', '-ffp-contract=off', '-fno-math-errno', '-fno-trapping-math', '-Wall', '-Werror', '-shared', '-fPIC', '-pthread', '-DNODE_GYP_MODULE_NAME=ldnative', '-I', include,
    ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []), src, '-o', out, '-ldl', '-lm'];
  const r = spawnSync(cc, flags, { encoding: 'utf8' });
  if (r.status !== 0) return fail(`${cc} failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(0, 6).join(' | ')}`);
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    if (buildNative({ strict: process.argv.includes('--strict') })) console.log(`native kernels: dist/engine/ldnative-${process.platform}-${process.arch}.node`);
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
