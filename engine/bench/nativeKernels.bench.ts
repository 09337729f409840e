// A/B of builds of the native kernels (engine/native/ldnative.c), each in its own processes (in one
// process, one build's OpenBLAS threads, spinning after its products, would slow the other's
// threads), the processes alternated so that a shared machine's load falls on all alike. Each
// process times `--rounds` calls of each of `tiny`'s
// LearnedDropout calls (attention site over 16 × 4 heads × 64², sites of 1024 × 64 and 1024 × 256;
// plain inference, and the training forward with the backward's arrays and the penalties) and of
// its five single products (1024 rows; 64 → 192, 64, 256, 65; 256 → 64), on 2 threads, and reports
// medians; the summary gives, per build and call, the median and range of the processes' medians.
// Build B with `node scripts/build-native.mjs`, keep a copy of A's .node from before.
//   node --import tsx engine/bench/nativeKernels.bench.ts A.node B.node [--runs 5] [--rounds 300]
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { INV_C, LOG_C, POW2 } from '../src/ops/kernels';
import type { NativeKernels } from '../src/ops/native';

const { values: o, positionals: paths } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string' }, runs: { type: 'string' }, child: { type: 'boolean' } },
});
if (paths.length < 1) {
  console.error('usage: nativeKernels.bench.ts A.node [B.node ...] [--runs 5] [--rounds 300]');
  process.exit(2);
}
const rounds = Number(o.rounds ?? 300);

/** One build, in this process: each call's median time in µs, as JSON on stdout. */
function measure(path: string): Record<string, number> {
  const tables = new Float64Array(2456);
  tables.set(LOG_C, 0);
  tables.set(INV_C, 128);
  tables.set(POW2, 256);
  const k = createRequire(__filename)(path) as NativeKernels;
  if (!k.open().ok) throw new Error(`${path}: no BLAS`);
  k.ldTables(tables, 2);
  const rnd = (n: number, s = 1) => Float32Array.from({ length: n }, () => s * (Math.random() * 2 - 1));
  const T = 64, heads = 16 * 4;
  const s = rnd(heads * T * T, 3), aT = rnd(T, 2), bT = rnd(T, 2), m0 = new Float64Array(T).fill(0.5);
  const x64 = rnd(1024 * 64), a64 = rnd(64, 2), b64 = rnd(64, 2), x256 = rnd(1024 * 256), a256 = rnd(256, 2), b256 = rnd(256, 2);
  const y = new Float32Array(heads * T * T), m = new Float32Array(heads * T * T), out = new Float64Array(3);
  const p = new Float32Array(heads * T * T), q = new Float32Array(heads * T * T), r = new Float32Array(heads * T * T);
  const products = ([[1024, 192, 64], [1024, 64, 64], [1024, 256, 64], [1024, 64, 256], [1024, 65, 64]] as const).map(([M, N, K]) => ({ M, N, K, a: rnd(M * K), b: rnd(N * K), c: new Float32Array(M * N) }));
  const e = 1024 * 256;
  const calls: [string, () => void][] = [
    ['attention site, plain', () => k.attnFwd(s, aT, bT, y, m, null, null, null, T, 0.125, 0, 0, 0, 0, m0, out)],
    ['site 1024 × 64, plain', () => k.ldFwd(x64, a64, b64, y.subarray(0, 1024 * 64), m.subarray(0, 1024 * 64), null, null, 64, 0, 0, 0, 0, out)],
    ['site 1024 × 256, plain', () => k.ldFwd(x256, a256, b256, y.subarray(0, e), m.subarray(0, e), null, null, 256, 0, 0, 0, 0, out)],
    ['attention site, training', () => k.attnFwd(s, aT, bT, y, m, p, q, r, T, 0.125, 1e-6, 1e-6, 0, 1, m0, out)],
    ['site 1024 × 256, training', () => k.ldFwd(x256, a256, b256, y.subarray(0, e), m.subarray(0, e), q.subarray(0, e), r.subarray(0, e), 256, 1e-6, 1e-6, 0, 1, out)],
    ['five single products', () => {
      for (const { M, N, K, a, b, c } of products) k.gemm(a, b, c, M, N, K, false, true, K, K, N, 1, 1, 0, 0, 0, 0, 0, 0);
    }],
  ];
  const times = calls.map(() => [] as number[]);
  for (let i = 0; i < rounds; i++)
    calls.forEach(([, f], c) => {
      const t0 = process.hrtime.bigint();
      f();
      times[c].push(Number(process.hrtime.bigint() - t0) / 1000);
    });
  return Object.fromEntries(calls.map(([name], c) => [name, median(times[c])]));
}

function median(a: number[]): number {
  const v = [...a].sort((x, y) => x - y);
  return v[Math.floor((v.length - 1) / 2)];
}

if (o.child) console.log(JSON.stringify(measure(paths[0])));
else {
  const runs = Number(o.runs ?? 5);
  const got = paths.map(() => [] as Record<string, number>[]);
  for (let run = 0; run < runs; run++)
    paths.forEach((path, i) => {
      const c = spawnSync(process.execPath, [...process.execArgv, __filename, path, '--child', '--rounds', String(rounds)], { encoding: 'utf8' });
      if (c.status !== 0) throw new Error(`${path}: ${c.stderr}`);
      got[i].push(JSON.parse(c.stdout));
    });
  for (const name of Object.keys(got[0][0]))
    paths.forEach((path, i) => {
      const v = got[i].map((r) => r[name]);
      console.log(`${name.padEnd(26)} ${path.padEnd(28)} median ${median(v).toFixed(0)} µs (${Math.min(...v).toFixed(0)}-${Math.max(...v).toFixed(0)} over ${runs} processes)`);
    });
}
