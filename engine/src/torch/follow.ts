// `ldlens follow --run DIR`: a run written by another process or machine (a cluster job on a
// shared filesystem, a run over Remote-SSH), followed by polling its folder: new metric records,
// new checkpoints and progress, as the same events a local training sends, until run.json says it
// ended. Reads only; a record line still being written is read on the next poll.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CheckpointInfo, MetricRecord, RunStatus } from '@common/protocol';
import { CheckpointError, listCheckpoints, readRunMeta, type RunMeta } from '../checkpoint';
import type { LDConfig, ModelShape } from '../config';
import type { RunOutcome, TrainEvents } from '../train/trainingRun';

export interface FollowOptions {
  intervalMs?: number;
  /** Stop following (the run goes on) when this resolves or is aborted. */
  signal?: AbortSignal;
  /** Only what is written from now on: skip the records already there. */
  fromEnd?: boolean;
}

export interface FollowOutcome {
  status: RunStatus | 'following-stopped';
  step: number;
  error?: string;
}

/** Reads whole new lines appended to a file since `offset`. */
function readNewLines(path: string, offset: number): { lines: string[]; offset: number } {
  if (!existsSync(path)) return { lines: [], offset: 0 };
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < offset) offset = 0; // rewritten (a resume set records aside): read it again
    if (size === offset) return { lines: [], offset };
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    const text = buf.toString('utf8');
    const end = text.lastIndexOf('\n');
    if (end < 0) return { lines: [], offset };
    return { lines: text.slice(0, end).split('\n').filter((l) => l.trim()), offset: offset + Buffer.byteLength(text.slice(0, end + 1)) };
  } finally {
    closeSync(fd);
  }
}

export async function followRun(runDir: string, events: TrainEvents, o: FollowOptions = {}): Promise<FollowOutcome> {
  const dir = resolve(runDir);
  readRunMeta(dir); // not a run: say so now
  const metricsPath = join(dir, 'metrics.jsonl');
  let offset = 0;
  if (o.fromEnd) offset = readNewLines(metricsPath, 0).offset;
  const seen = new Set(o.fromEnd ? listCheckpoints(dir).map((c) => c.dir) : []);
  let step = 0, firstStep: number | null = null, firstTime = 0;
  const interval = o.intervalMs ?? 2000;
  // A stopped run (a cluster script not launched yet, a run to be resumed elsewhere) is waited for;
  // once seen running, its end ends the following. A completed or failed run ends it at once.
  let sawRunning = false, announced = false;
  for (;;) {
    const r = readNewLines(metricsPath, offset);
    offset = r.offset;
    for (const line of r.lines) {
      let rec: MetricRecord;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      events.metric?.(rec);
      if (rec.type === 'step') {
        step = rec.step;
        if (firstStep === null) [firstStep, firstTime] = [rec.step, rec.time];
        const meta = safeMeta(dir);
        const total = meta?.totalSteps ?? step;
        const rate = rec.time > firstTime ? (rec.step - firstStep) / ((rec.time - firstTime) / 1000) : 0;
        events.progress?.({ step, totalSteps: total, loss: rec.loss, tokensPerSec: rec.tokensPerSec, etaSeconds: rate > 0 ? (total - step) / rate : NaN });
      }
    }
    for (const c of listCheckpoints(dir)) {
      if (seen.has(c.dir)) continue;
      seen.add(c.dir);
      events.checkpoint?.(c as CheckpointInfo);
    }
    const meta = safeMeta(dir);
    if (meta?.status === 'running') sawRunning = true;
    // ended, and every record it wrote before saying so has been read (run.json is written last)
    const caughtUp = meta && meta.status !== 'running' && meta.step <= step && r.lines.length === 0;
    if (meta && caughtUp && (sawRunning || meta.status !== 'stopped'))
      return { status: meta.status, step: meta.step, ...(meta.error ? { error: meta.error } : {}) };
    if (meta && meta.status !== 'running' && !sawRunning && !announced) {
      announced = true;
      events.log?.('info', `run ${meta.id} is ${meta.status} at step ${meta.step}; waiting for it to start (Ctrl-C to stop following)`);
    }
    if (o.signal?.aborted) return { status: 'following-stopped', step };
    await new Promise<void>((res) => {
      const wake = () => (clearTimeout(t), res());
      const t = setTimeout(() => (o.signal?.removeEventListener('abort', wake), res()), interval);
      o.signal?.addEventListener('abort', wake, { once: true });
    });
  }
}

function safeMeta(dir: string) {
  try {
    return readRunMeta(dir);
  } catch {
    return null; // mid-rename on a network filesystem: the next poll reads it
  }
}

/**
 * A followed run, driven by the server like a training (train/progress, train/metric,
 * train/checkpoint, train/ended notifications; train/stop stops following, not the run).
 */
export class FollowedRun {
  watchText: string | null = null;
  step: number;
  readonly config: LDConfig;
  readonly shape: ModelShape;
  private readonly ac = new AbortController();

  constructor(readonly dir: string, readonly meta: RunMeta, saved: { config: LDConfig; model: ModelShape }, readonly intervalMs = 2000) {
    this.config = saved.config;
    this.shape = saved.model;
    this.step = meta.step;
  }

  static open(runDir: string, intervalMs?: number): FollowedRun {
    const dir = resolve(runDir);
    const meta = readRunMeta(dir);
    const p = join(dir, 'config.json');
    let saved: { config: LDConfig; model: ModelShape };
    try {
      saved = JSON.parse(readFileSync(p, 'utf8'));
    } catch (e) {
      throw new CheckpointError(`${p}: ${existsSync(p) ? 'not valid JSON (' + (e as Error).message + ')' : 'missing'}; the run cannot be followed`, p);
    }
    return new FollowedRun(dir, meta, saved, intervalMs);
  }

  get id(): string {
    return this.meta.id;
  }
  get totalSteps(): number {
    return safeMeta(this.dir)?.totalSteps ?? this.config.train.steps;
  }
  stop(): void {
    this.ac.abort();
  }
  dispose(): void {
    this.ac.abort();
  }

  async run(events: TrainEvents = {}): Promise<RunOutcome> {
    const o = await followRun(this.dir, { ...events, progress: (p) => ((this.step = p.step), events.progress?.(p)) }, { intervalMs: this.intervalMs, signal: this.ac.signal, fromEnd: true });
    // (from the end: the records already there are in metrics.jsonl, which the charts read)
    // following ended by Stop: the run itself goes on wherever it runs
    if (o.status === 'following-stopped' || o.status === 'running') return { status: 'stopped', step: o.step };
    if (o.status === 'interrupted') return { status: 'failed', step: o.step, error: o.error ?? 'the run was interrupted' };
    return { status: o.status, step: o.step, ...(o.error ? { error: o.error } : {}) };
  }
}
