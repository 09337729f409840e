// `ldlens bench --torch-backend`: the torch backend's training throughput on a bench shape, as a
// user gets it: a real run (prepared by the engine, trained by the supervised worker, with its
// metric records, mask statistics and the final evaluation and checkpoint), timed from the
// records' wall-clock stamps after `warmup` steps, so the overhead of our records is inside the
// figure. Training only: analysis and sampling stay in the TypeScript engine.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { StepRecord } from '@common/protocol';
import { BENCH_SHAPES, type BenchResult, type BenchShape } from '../bench';
import { readMetrics } from '../checkpoint';
import { prepareTorchRun } from './prepare';
import { probeTorch } from './python';
import { TorchRun } from './worker';

export async function torchBackendBench(text: string, shape: BenchShape, o: { steps: number; warmup: number; python?: string; threads?: number; device?: string }): Promise<{ result: BenchResult | null; error?: string }> {
  const probe = probeTorch(o.python);
  if (!probe.ok) return { result: null, error: probe.reason };
  const dir = mkdtempSync(join(tmpdir(), 'ldlens-torch-bench-'));
  try {
    writeFileSync(join(dir, 'corpus.txt'), text);
    const steps = o.warmup + o.steps + 1;
    const prepared = await prepareTorchRun(
      {
        data: [join(dir, 'corpus.txt')],
        runsDir: dir,
        runDir: join(dir, 'run'),
        overrides: {
          model: { blockSize: shape.block, nEmbd: shape.embd, nHead: shape.head, nLayer: shape.layer },
          // the bench loop's dropout (ld_gpt.py bench: A ~ N(0, 1), B ~ N(0, 0.02), λ 0.01) and the default intervals
          dropout: { bInit: { mean: 0, std: 0.02 }, entropy: { schedule: { max: 0.01, min: 0.01, rate: 0 } }, l1: { schedule: { max: 0.01, min: 0.01, rate: 0 } } },
          train: { steps, batchSize: shape.batch, lr: 1e-3, minLr: 1e-3, warmupSteps: 0, evalBatches: 1 },
        },
      },
      { threads: o.threads ?? null, device: o.device ?? 'auto' },
    );
    const run = new TorchRun(prepared, { python: o.python });
    const outcome = await run.run();
    if (outcome.status !== 'completed') return { result: null, error: `the torch backend's run ${outcome.status}: ${outcome.error ?? ''}` };
    const recs = readMetrics(prepared.dir).filter((r): r is StepRecord => r.type === 'step');
    // from the end of step `warmup` to the end of the last timed step (the final step's evaluation and checkpoint left out)
    const a = recs[o.warmup - 1], b = recs[o.warmup + o.steps - 1];
    const secs = (b.time - a.time) / 1000;
    return {
      result: {
        impl: `ldlens-torch-${probe.torch} (${run.device})`,
        threads: o.threads ?? 0,
        config: prepared.shape,
        batch: shape.batch,
        trainTokensPerSec: (o.steps * shape.batch * shape.block) / Math.max(secs, 1e-3),
        inferTokensPerSec: 0,
        lastLoss: b.loss,
        device: run.device ?? undefined,
      },
    };
  } catch (e) {
    return { result: null, error: (e as Error).message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `ldlens bench --torch-backend-only`: just the torch backend's rows (a GPU machine's bench, engine/bench/gpu-bench.sh). */
export async function torchBackendRows(shapes: string[], text: string, o: { steps: number; warmup: number; python?: string; json: boolean; out?: string }): Promise<number> {
  const rows: { shape: string; torchBackend: BenchResult | null; torchBackendError?: string }[] = [];
  for (const name of shapes) {
    const shape = BENCH_SHAPES[name];
    if (!shape) throw new Error(`unknown shape ${name} (known: ${Object.keys(BENCH_SHAPES).join(', ')})`);
    const r = await torchBackendBench(text, shape, o);
    rows.push({ shape: name, torchBackend: r.result, ...(r.error ? { torchBackendError: r.error } : {}) });
    if (!o.json) process.stdout.write(`torch backend ${name}: ${r.result ? `${Math.round(r.result.trainTokensPerSec).toLocaleString('en-US')} train tok/s (${r.result.impl})` : r.error}\n`);
  }
  if (o.json) process.stdout.write(JSON.stringify({ rows }) + '\n');
  if (o.out) {
    mkdirSync(dirname(resolve(o.out)), { recursive: true });
    writeFileSync(o.out, JSON.stringify({ rows }, null, 1) + '\n');
  }
  return rows.some((r) => !r.torchBackend) ? 1 : 0;
}
