// The supervised PyTorch worker: one Python process (or torchrun and its N processes) training a
// run that prepare.ts laid out, reporting JSON lines on stdout. It offers what the CLI and the
// server use of TrainingRun (id, dir, config, shape, step, run(events), stop(), dispose()), so a
// torch run is driven like any other.
//
// States:  starting ─(worker says "started")→ running ─stop()→ stopping ─(exit)→ stopped
//              └──────────────(exit with an error, or a crash)──────────────→ failed
// stop(): a {"type":"stop"} line on stdin and the file RUN/torch/stop (torchrun's workers read no
// stdin), so the worker checkpoints after its current step and exits; after `graceMs` SIGTERM
// (the worker treats it the same way; torchrun forwards it), after `killMs` more SIGKILL to the
// process group. Checkpoints are written whole or not at all, so a killed worker leaves the run
// resumable from its last checkpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { CheckpointInfo, MetricRecord } from '@common/protocol';
import { hasReportRecord, loadCheckpoint, readRunMeta, writeRunMeta, type LoadedCheckpoint } from '../checkpoint';
import type { GPT } from '../model';
import { writeFileAtomicSync } from '../fsutil';
import type { LDConfig, ModelShape } from '../config';
import type { RunOutcome, TrainEvents } from '../train/trainingRun';
import type { PreparedRun } from './prepare';
import { pythonCommand, pythonEnv, torchPackageDir } from './python';

export type WorkerState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface WorkerOptions {
  python?: string | null;
  /** Processes on this machine (torchrun --nproc_per_node); 1: a plain process. */
  nproc?: number;
  /** After stop(): how long the worker may take to checkpoint before SIGTERM, then before SIGKILL. */
  graceMs?: number;
  killMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The argv that starts the worker (also what the cluster scripts write). */
export function workerArgs(jobPath: string, nproc: number, torchrunArgs: string[] = ['--standalone']): string[] {
  const train = ['-m', 'ldtorch.train', '--job', jobPath];
  // ldtorch.launch is torchrun with torch 1.13's Python 3.11 bug mended (see launch.py)
  return nproc > 1 || torchrunArgs.length > 1 ? ['-m', 'ldtorch.launch', ...torchrunArgs, '--nproc_per_node', String(nproc), ...train] : train;
}

/**
 * The worker's CPU settings (a user's own environment wins):
 * - one OpenBLAS thread per torch thread, as the reference's torch-bench.sh: torch already runs its
 *   CPU ops on its own threads, and OpenBLAS's on top of them oversubscribe the cores;
 * - glibc's malloc keeps the step's large tensors in its heap: with its default, adaptive mmap and
 *   trim thresholds the worker's loop gave its memory back and page-faulted it in again each step,
 *   and trained `small` at 4,293 tok/s instead of 9,041 on a 2-core machine
 *   (engine/bench/torch-model-vs-reference.py times the model alone; README "torch backend").
 */
export const WORKER_CPU_DEFAULTS: Readonly<Record<string, string>> = {
  OPENBLAS_NUM_THREADS: '1',
  MALLOC_MMAP_THRESHOLD_: String(2 ** 30),
  MALLOC_TRIM_THRESHOLD_: String(2 ** 30),
};
const WORKER_CPU_ENV: Record<string, string> = Object.fromEntries(Object.entries(WORKER_CPU_DEFAULTS).map(([k, v]) => [k, process.env[k] ?? v]));

export class TorchRun {
  state: WorkerState = 'starting';
  watchText: string | null = null;
  step: number;
  /** Where the worker runs (cpu, cuda:0, mps) and its torch version, once it has said. */
  device: string | null = null;
  torchVersion: string | null = null;
  readonly stderrTail: string[] = [];
  private child: ChildProcess | null = null;
  private timers: NodeJS.Timeout[] = [];
  private killed: NodeJS.Signals | null = null;
  private readonly transitions: WorkerState[] = ['starting'];

  constructor(
    readonly prepared: PreparedRun,
    private readonly opts: WorkerOptions = {},
  ) {
    this.step = prepared.step;
  }

  get id(): string {
    return this.prepared.meta.id;
  }
  get dir(): string {
    return this.prepared.dir;
  }
  get config(): LDConfig {
    return this.prepared.config;
  }
  get shape(): ModelShape {
    return this.prepared.shape;
  }
  get totalSteps(): number {
    return this.prepared.config.train.steps;
  }
  get stopRequested(): boolean {
    return this.state === 'stopping';
  }
  /** Every state the worker went through, in order (for the log and the tests). */
  get history(): readonly WorkerState[] {
    return this.transitions;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private to(s: WorkerState): void {
    if (this.state === s) return;
    this.state = s;
    this.transitions.push(s);
  }

  stop(): void {
    if (this.state !== 'starting' && this.state !== 'running') return;
    this.to('stopping');
    try {
      writeFileSync(join(this.dir, 'torch', 'stop'), `${new Date().toISOString()}\n`);
    } catch {
      /* the stdin message and the signals below still reach it */
    }
    if (this.child?.stdin?.writable) this.child.stdin.write('{"type":"stop"}\n');
    const grace = this.opts.graceMs ?? 60_000, kill = this.opts.killMs ?? 30_000;
    this.timers.push(
      setTimeout(() => this.signal('SIGTERM'), grace),
      setTimeout(() => this.signal('SIGKILL'), grace + kill),
    );
  }

  /** SIGKILL now, to the whole process group (torchrun's workers included). */
  kill(): void {
    this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null || !c.pid) return;
    this.killed = sig;
    try {
      // the worker leads its own process group (detached): a SIGKILL reaches torchrun's children too
      process.kill(sig === 'SIGKILL' ? -c.pid : c.pid, sig);
    } catch {
      /* already gone */
    }
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  async run(events: TrainEvents = {}): Promise<RunOutcome> {
    const nproc = this.opts.nproc ?? 1;
    const python = pythonCommand(this.opts.python);
    let ended: { status: string; step: number; error?: string } | null = null;
    const started = Date.now();
    await this.reportResumedCheckpoint(events);
    let child: ChildProcess;
    try {
      child = spawn(python, workerArgs(this.prepared.jobPath, nproc), {
        cwd: torchPackageDir(),
        env: pythonEnv({ ...WORKER_CPU_ENV, ...(nproc > 1 ? { OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '1' } : {}), ...this.opts.env }),
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: process.platform !== 'win32',
      });
    } catch (e) {
      return this.finish({ status: 'failed', step: this.step, error: `the torch worker could not start: ${(e as Error).message}` }, events);
    }
    this.child = child;
    child.stdin!.on('error', () => {}); // the worker may be gone before a stop message lands
    if (this.state === 'stopping') child.stdin!.write('{"type":"stop"}\n');
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((res) => {
      child.on('error', (error) => res({ code: null, signal: null, error }));
      child.on('close', (code, signal) => res({ code, signal }));
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
    });
    const pending: Promise<void>[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        if (line.trim()) events.log?.('debug', `torch worker: ${line}`);
        return;
      }
      switch (msg.type) {
        case 'started':
          this.device = String(msg.device);
          this.torchVersion = String(msg.torch);
          if (this.state === 'starting') this.to('running');
          events.log?.('info', `run ${this.id}: torch ${msg.torch} on ${msg.device}${Number(msg.world) > 1 ? ` × ${msg.world} processes` : ''}, ${msg.precision}, from step ${msg.step}`);
          break;
        case 'metric': {
          const r = msg.record as MetricRecord;
          if (r.type === 'step') this.step = r.step;
          events.metric?.(r);
          break;
        }
        case 'progress':
          events.progress?.(msg as unknown as Parameters<NonNullable<TrainEvents['progress']>>[0]);
          break;
        case 'checkpoint': {
          const info = msg.checkpoint as CheckpointInfo;
          if (this.prepared.job.reports && this.config.dropout.kind === 'learned') {
            // the worker waits (appending nothing) until RUN/torch/reported names this step
            pending.push(
              this.report(info, events).finally(() => {
                events.checkpoint?.(info);
                try {
                  writeFileAtomicSync(join(this.dir, 'torch', 'reported'), `${info.step}\n`);
                } catch (e) {
                  events.log?.('warn', `run ${this.id}: could not tell the torch worker the report is written: ${(e as Error).message}`);
                }
                if (this.watchText && events.watch) return this.watch(info, events);
              }),
            );
          } else {
            events.checkpoint?.(info);
            if (this.watchText && events.watch) pending.push(this.watch(info, events));
          }
          break;
        }
        case 'log':
          events.log?.(msg.level as 'info', String(msg.message));
          break;
        case 'ended':
          ended = msg as unknown as { status: string; step: number; error?: string };
          break;
      }
    });
    const exit = await exited;
    await Promise.all(pending);
    this.dispose();
    if (exit.error) {
      const code = (exit.error as NodeJS.ErrnoException).code;
      return this.finish({ status: 'failed', step: this.step, error: code === 'ENOENT' ? `no Python: ${python} was not found (set ldlens.engine.pythonPath or --python)` : `the torch worker could not start: ${exit.error.message}` }, events);
    }
    const e = ended as { status: string; step: number; error?: string } | null;
    if (e && (e.status === 'completed' || e.status === 'stopped')) return this.finish({ status: e.status, step: e.step }, events, true);
    if (e?.status === 'failed') return this.finish({ status: 'failed', step: e.step, error: e.error }, events, true);
    // no "ended": killed, or crashed before it could say
    const how = exit.signal ? `was killed (${exit.signal})` : `exited with code ${exit.code}`;
    const tail = this.stderrTail.filter((l) => l.trim()).slice(-3).join(' | ');
    if (this.killed && this.state === 'stopping')
      return this.finish({ status: 'stopped', step: this.step, error: `the torch worker did not stop within the grace period and ${how}; the run resumes from its last checkpoint` }, events);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    return this.finish({ status: 'failed', step: this.step, error: `the torch worker ${how} after ${secs} s at step ${this.step}${tail ? ': ' + tail : ''}; the run resumes from its last checkpoint` }, events);
  }

  /** Final state; run.json is written here unless the worker wrote it itself (`reported`). */
  private finish(o: RunOutcome, events: TrainEvents, reported = false): RunOutcome {
    this.to(o.status === 'failed' ? 'failed' : 'stopped');
    if (!reported) {
      try {
        const meta = readRunMeta(this.dir);
        meta.status = o.status;
        meta.error = o.error;
        writeRunMeta(this.dir, meta);
      } catch {
        /* the run folder itself is gone or damaged: the outcome still says what happened */
      }
    }
    if (o.status === 'failed') events.log?.('error', `run ${this.id} failed at step ${o.step}: ${o.error}`);
    return o;
  }

  /**
   * A worker killed between its checkpoint and the engine's report leaves that checkpoint without
   * its report record: made before the worker resumes from it (as TrainingRun.resume does).
   */
  private async reportResumedCheckpoint(events: TrainEvents): Promise<void> {
    const { job } = this.prepared;
    if (!job.resumeFrom || !job.reports || this.config.dropout.kind !== 'learned') return;
    const step = this.prepared.step;
    if (hasReportRecord(this.dir, step)) return;
    await this.report({ runDir: this.dir, dir: resolve(this.dir, job.resumeFrom), step, time: new Date().toISOString(), valLoss: null }, events);
  }

  /** The validation split's token ids, as prepare.ts wrote them for the worker. */
  private validationIds(): Int32Array {
    const job = this.prepared.job;
    const b = readFileSync(join(this.dir, job.valBin));
    const a = job.tokenDtype === 'uint32' ? new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4) : new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
    return Int32Array.from(a);
  }

  /**
   * The checkpoint's mask report record, as TrainingRun writes it at its checkpoints
   * (maskReportRecord.ts), computed here by the TypeScript engine from the checkpoint the worker
   * just wrote, and appended while the worker waits (so only one process appends to metrics.jsonl
   * at a time).
   */
  private async report(info: CheckpointInfo, events: TrainEvents): Promise<void> {
    try {
      await this.withCheckpointModel(info, async (model, ck) => {
        if (!model.sites.length) return;
        const { maskReportRecord } = await import('../train/maskReportRecord');
        const rec = await maskReportRecord(model, ck.tokenizer, this.validationIds(), info.step);
        appendFileSync(join(this.dir, 'metrics.jsonl'), JSON.stringify(rec) + '\n');
        events.metric?.(rec);
      });
    } catch (e) {
      events.log?.('warn', `run ${this.id}: no mask report at step ${info.step}: ${(e as Error).message}`);
    }
  }

  /** The watched text re-analyzed with the new checkpoint, by the TypeScript engine (as for its own runs). */
  private async watch(info: CheckpointInfo, events: TrainEvents): Promise<void> {
    try {
      await this.withCheckpointModel(info, async (model, ck) => {
        const { analyzeText } = await import('../inference');
        events.watch?.(await analyzeText({ model, tokenizer: ck.tokenizer, checkpoint: { runDir: this.dir, dir: info.dir, step: info.step } }, this.watchText!));
      });
    } catch (e) {
      events.log?.('warn', `run ${this.id}: could not analyze the watched text at step ${info.step}: ${(e as Error).message}`);
    }
  }

  /** `use` on the checkpoint's model in the TypeScript engine (its modules imported when first needed), disposed after. */
  private async withCheckpointModel(info: CheckpointInfo, use: (model: GPT, ck: LoadedCheckpoint) => Promise<void>): Promise<void> {
    const { GPT } = await import('../model');
    const ck = loadCheckpoint(info.dir);
    const model = GPT.fromWeights(ck.shape, ck.config.dropout, ck.weights);
    try {
      await use(model, ck);
    } finally {
      model.dispose();
    }
  }
}
