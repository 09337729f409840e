// A/B of two builds of the native kernels (engine/native/ldnative.c) in one process, calls
// alternated so that a shared machine's load falls on both alike: per-call times of `tiny`'s plain
// inference LearnedDropout calls (attention site over 16 × 4 heads × 64², sites of 1024 × 64 and
// 1024 × 256) and of its five single products (1024 rows; 64 → 192, 64, 256, 65; 256 → 64), on 2
// threads. Build B with `node scripts/build-native.mjs`, keep a copy of A's .node from before.
//   node --import tsx engine/bench/nativeKernels.bench.ts A.node B.node [--rounds 400]
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { INV_C, LOG_C, POW2 } from '../src/ops/kernels';
import type { NativeKernels } from '../src/ops/native';

const { values: o, positionals: paths } = parseArgs({ allowPositionals: true, options: { rounds: { type: 'string' } } });
if (paths.length < 1) {
  console.error('usage: nativeKernels.bench.ts A.node [B.node ...] [--rounds 400]');
  process.exit(2);
}
const tables = new Float64Array(2456);
tables.set(LOG_C, 0);
tables.set(INV_C, 128);
tables.set(POW2, 256);
const builds = paths.map((p) => {
  const k = createRequire(__filename)(p) as NativeKernels;
  if (!k.open().ok) throw new Error(`${p}: no BLAS`);
  k.ldTables(tables, 2);
  return k;
});
const rnd = (n: number, s = 1) => Float32Array.from({ length: n }, () => s * (Math.random() * 2 - 1));
const T = 64, heads = 16 * 4;
const s = rnd(heads * T * T, 3), aT = rnd(T, 2), bT = rnd(T, 2), m0 = new Float64Array(T).fill(0.5);
const x64 = rnd(1024 * 64), a64 = rnd(64, 2), b64 = rnd(64, 2), x256 = rnd(1024 * 256), a256 = rnd(256, 2), b256 = rnd(256, 2);
const y = new Float32Array(heads * T * T), m = new Float32Array(heads * T * T), out = new Float64Array(3);
const products = ([[1024, 192, 64], [1024, 64, 64], [1024, 256, 64], [1024, 64, 256], [1024, 65, 64]] as const).map(([M, N, K]) => ({ M, N, K, a: rnd(M * K), b: rnd(N * K), c: new Float32Array(M * N) }));
const calls: [string, (k: NativeKernels) => void][] = [
  ['attention site, plain', (k) => k.attnFwd(s, aT, bT, y, m, null, null, null, T, 0.125, 0, 0, 0, 0, m0, out)],
  ['site 1024 × 64, plain', (k) => k.ldFwd(x64, a64, b64, y.subarray(0, 1024 * 64), m.subarray(0, 1024 * 64), null, null, 64, 0, 0, 0, 0, out)],
  ['site 1024 × 256, plain', (k) => k.ldFwd(x256, a256, b256, y.subarray(0, 1024 * 256), m.subarray(0, 1024 * 256), null, null, 256, 0, 0, 0, 0, out)],
  ['five single products', (k) => {
    for (const { M, N, K, a, b, c } of products) k.gemm(a, b, c, M, N, K, false, true, K, K, N, 1, 1, 0, 0, 0, 0, 0, 0);
  }],
];
const times = calls.map(() => builds.map(() => [] as number[]));
for (let r = 0; r < Number(o.rounds ?? 400); r++)
  for (let c = 0; c < calls.length; c++)
    for (let i = 0; i < builds.length; i++) {
      const t0 = process.hrtime.bigint();
      calls[c][1](builds[i]);
      times[c][i].push(Number(process.hrtime.bigint() - t0) / 1000);
    }
const at = (a: number[], f: number) => [...a].sort((x, y) => x - y)[Math.floor(f * (a.length - 1))].toFixed(0);
for (let c = 0; c < calls.length; c++)
  for (let i = 0; i < builds.length; i++)
    console.log(`${calls[c][0].padEnd(24)} ${paths[i].padEnd(28)} median ${at(times[c][i], 0.5)} µs (quartiles ${at(times[c][i], 0.25)}-${at(times[c][i], 0.75)})`);
