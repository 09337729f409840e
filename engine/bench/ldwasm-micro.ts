// Times the fused LearnedDropout sites (forward + backward, and inference forward) on `small`'s
// shapes with each kernel table (ops/ldKernels.ts: native where it loads, wasm SIMD, JS), alternating.
// Usage: npx tsx engine/bench/ldwasm-micro.ts [rounds]
import { initBackend, tf } from '../src/backend';
import { attentionProbs, fusedLearnedDropout } from '../src/ops/learnedDropout';
import { jsLdKernels } from '../src/ops/ldJs';
import { nativeLdKernels, wasmLdKernels, type LdKernels } from '../src/ops/ldKernels';
import { ldWasm } from '../src/ops/ldWasm';
import { nativeOps } from '../src/ops/nativeOps';

async function main() {
  await initBackend('wasm');
  const rounds = Number(process.argv[2] ?? 5);
  const x = tf.randomNormal([32, 128, 512], 0, 1, 'float32', 1);
  const dx = tf.randomNormal([32, 128, 512], 0, 1, 'float32', 2);
  const A = tf.randomNormal([512], 0, 1, 'float32', 3), B = tf.randomNormal([512], 0, 0.02, 'float32', 4);
  const S = tf.randomNormal([32, 4, 128, 128], 0, 3, 'float32', 5);
  const dS = tf.randomNormal([32, 4, 128, 128], 0, 1, 'float32', 6);
  const At = tf.randomNormal([128], 0, 1, 'float32', 7), Bt = tf.randomNormal([128], 0, 0.02, 'float32', 8);
  const coef = { entropy: 0.01, l1: 0.01, form: 'shannon' as const };
  const train = { coef, wantMask: false, wantPenalties: true };
  const infer = { coef, wantMask: false, wantPenalties: false };
  const K = nativeOps(), W = ldWasm();
  const tables: LdKernels[] = [...(K ? [nativeLdKernels(K)] : []), ...(W ? [wasmLdKernels(W)] : []), jsLdKernels];
  const cases: [string, (k: LdKernels) => void][] = [
    ['mlp site train (fwd+bwd) 2.1M', (k) => tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor) => fusedLearnedDropout(k, x, a, b, train).y)([A, B], dx))],
    ['mlp site infer 2.1M', (k) => fusedLearnedDropout(k, x, A, B, infer).y.dispose()],
    ['attn site train (fwd+bwd) 2.1M', (k) => tf.dispose(tf.grads((s: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => attentionProbs(k, s, a, b, 0.17, train).y)([S, At, Bt], dS))],
    ['attn site infer 2.1M', (k) => attentionProbs(k, S, At, Bt, 0.17, infer).y.dispose()],
  ];
  const res = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const table of tables) {
      for (const [name, f] of cases) {
        f(table);
        const t0 = performance.now();
        f(table);
        const k = `${name} ${table.name}`;
        res.set(k, [...(res.get(k) ?? []), performance.now() - t0]);
      }
    }
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
  for (const [k, v] of res) console.log(`${k.padEnd(40)} median ${med(v).toFixed(1)} ms  (${v.map((t) => t.toFixed(0)).join(' ')})`);
}
void main();
