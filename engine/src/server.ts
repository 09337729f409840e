// `ldlens serve`: the engine as a JSON-RPC 2.0 server on stdio, speaking protocol.ts. Each request
// is checked and handed to the EngineService; its errors become typed error replies.
// stdout carries only protocol messages; everything else goes to stderr or `log` notifications.
import {
  CancellationToken,
  createMessageConnection,
  type NotificationType,
  ErrorCodes,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { RunLockedError } from './runLock';
import { promptWarning, samplingProblems } from './sampling';
import { registerAnalysisHandlers } from './analysisHandlers';
import * as P from '@common/protocol';
import { CheckpointError } from './checkpoint';
import { ConfigError, PRESETS } from './config';
import { CorpusError } from './corpus';
import { SafetensorsError } from './safetensors';
import { BackendError, BusyError, EngineService, type RunEvents } from './service/engineService';
import type { Trainer } from './service/trainers';
import { writeClusterScripts } from './torch/cluster';
import { FollowedRun } from './torch/follow';
import { serverTorchTrainer, TorchChoiceError } from './torch/serve';
import { TokenizerError } from './tokenizer';
import { ENGINE_VERSION } from './version';

/** Maps an engine error to a JSON-RPC error with a stable code and every problem named. */
export function toResponseError(e: unknown): ResponseError<P.EngineErrorData> {
  if (e instanceof ResponseError) return e;
  const err = e as Error;
  if (e instanceof RunLockedError) return new ResponseError(P.EngineErrorCode.Busy, err.message, { problems: [err.message], path: e.path });
  if (e instanceof ConfigError) return new ResponseError(P.EngineErrorCode.InvalidConfig, err.message, { problems: e.problems });
  if (e instanceof CorpusError) return new ResponseError(P.EngineErrorCode.BadInput, err.message, { problems: [err.message], path: e.path });
  if (e instanceof TokenizerError) return new ResponseError(P.EngineErrorCode.BadInput, err.message, { problems: [err.message] });
  if (e instanceof CheckpointError)
    return new ResponseError(e.notFound ? P.EngineErrorCode.NotFound : P.EngineErrorCode.CorruptCheckpoint, err.message, { problems: [err.message], path: e.path });
  if (e instanceof SafetensorsError) return new ResponseError(P.EngineErrorCode.CorruptCheckpoint, err.message, { problems: [err.message] });
  if (e instanceof BusyError) return new ResponseError(P.EngineErrorCode.Busy, err.message);
  if (e instanceof BackendError) return new ResponseError(P.EngineErrorCode.Backend, err.message);
  if (e instanceof RangeError) return new ResponseError(P.EngineErrorCode.BadInput, err.message, { problems: [err.message] });
  if (e instanceof TorchChoiceError) return new ResponseError(P.EngineErrorCode.Backend, err.message, { problems: [err.message] });
  return new ResponseError(ErrorCodes.InternalError, err?.message ?? String(e));
}

function cancelled(): ResponseError<P.EngineErrorData> {
  return new ResponseError(P.EngineErrorCode.Cancelled, 'request cancelled');
}

type Kind = 'string' | 'number' | 'boolean' | 'string[]' | 'object';
/** Checks a request's params; a malformed request gets InvalidParams naming every bad field. */
function check(params: unknown, fields: Record<string, [Kind, boolean]>): void {
  const p = (params ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof params !== 'object' || params === null || Array.isArray(params)) problems.push('params must be an object');
  else
    for (const [name, [kind, required]] of Object.entries(fields)) {
      const v = p[name];
      if (v === undefined || v === null) {
        if (required) problems.push(`${name} is required`);
        continue;
      }
      const ok =
        kind === 'string[]' ? Array.isArray(v) && v.every((x) => typeof x === 'string') : kind === 'object' ? typeof v === 'object' && !Array.isArray(v) : typeof v === kind;
      if (!ok) problems.push(`${name} must be ${kind === 'string[]' ? 'an array of strings' : kind === 'object' ? 'an object' : 'a ' + kind}`);
    }
  if (problems.length) throw new ResponseError(ErrorCodes.InvalidParams, `invalid params: ${problems.join('; ')}`, { problems });
}

/** Exit status of an engine that left because its input stream became unreadable. */
export const EXIT_PROTOCOL = 3;

/** Least time between two train/progress notifications of a run. */
const PROGRESS_MS = 100;

export function startServer(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): MessageConnection {
  // Anything a library prints must not corrupt the protocol stream.
  for (const k of ['log', 'info', 'debug'] as const) console[k] = console.error;

  const reader = new StreamMessageReader(input);
  const conn = createMessageConnection(reader, new StreamMessageWriter(output));
  // A body that is not JSON leaves the stream in step (its length was right): answered, ignored.
  // A bad header (a Content-Length shorter or longer than its body) does not: every later message
  // would be misread and the engine would sit deaf. Leave, so that the client restarts it.
  reader.onError((e) => {
    if (e instanceof SyntaxError) return;
    process.stderr.write(`ldlens serve: the message stream is out of step (${e.message.split('\n')[0]}); exiting\n`);
    void shutdown().finally(() => process.exit(EXIT_PROTOCOL));
  });
  // Once the client has gone away, sendNotification throws (synchronously): drop the message, so
  // that a run still stops cleanly and writes its checkpoint.
  const notify = <T>(type: NotificationType<T>, params: T): void => {
    try {
      conn.sendNotification(type, params).catch(() => {});
    } catch {
      /* connection closed or disposed */
    }
  };
  const log = (level: P.LogLevel, message: string) => notify(P.Log, { level, message });
  const envBackend = process.env.LDLENS_BACKEND;
  const service = new EngineService({ backend: envBackend && envBackend !== 'torch' ? (envBackend as P.BackendChoice) : 'auto' });
  // What trains: `torch`, or `auto`/a tfjs backend (torch/serve.ts decides `auto` per training)
  let trainChoice: string = envBackend || 'auto';
  let pythonPath: string | undefined;

  const cancelHook = (token: CancellationToken) => async () => {
    await new Promise((r) => setImmediate(r));
    if (token.isCancellationRequested) throw cancelled();
  };

  /** Runs a handler, turning every failure into a typed error reply. */
  const handle = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R | ResponseError<P.EngineErrorData>> => {
    try {
      return await f(...a);
    } catch (e) {
      const re = toResponseError(e);
      if (re.code === ErrorCodes.InternalError) log('error', `internal error: ${(e as Error).stack ?? e}`);
      return re;
    }
  };

  /** A run's events as train/* notifications. */
  const notifications = (run: Trainer): RunEvents => {
    const runId = run.id;
    let progressAt = -Infinity;
    return {
      metric: (record) => notify(P.TrainMetric, { runId, record }),
      // At most every PROGRESS_MS (each moves VS Code's status bar: one per step, ~50 a second on
      // `tiny`, kept the window so busy that a message waited 30 s), the first and the last always.
      progress: (p) => {
        const now = Date.now();
        if (now - progressAt < PROGRESS_MS && p.step < p.totalSteps) return;
        progressAt = now;
        notify(P.TrainProgress, { runId, ...p });
      },
      checkpoint: (checkpoint) => notify(P.TrainCheckpoint, { runId, checkpoint }),
      watch: (analysis) => notify(P.TrainWatchAnalysis, { runId, analysis }),
      log,
      ended: (outcome) => notify(P.TrainEnded, { runId, runDir: run.dir, status: outcome.status, step: outcome.step, ...(outcome.error ? { error: outcome.error } : {}) }),
    };
  };

  const started = (run: Trainer): P.TrainStartResult => ({ runId: run.id, runDir: run.dir, config: run.config, model: run.shape });

  conn.onRequest(
    P.Initialize,
    handle(async (p: P.InitializeParams) => {
      check(p, { backend: ['string', false], clientName: ['string', false], pythonPath: ['string', false] });
      if (p.backend) trainChoice = p.backend;
      pythonPath = p.pythonPath || undefined;
      const r = await service.initBackend(p.backend === 'torch' ? 'auto' : (p.backend ?? undefined));
      return {
        engineVersion: ENGINE_VERSION,
        protocolVersion: P.PROTOCOL_VERSION,
        backend: r.backend,
        attempts: r.attempts,
        presets: Object.entries(PRESETS).map(([name, v]) => ({ name, description: v.description })),
      };
    }),
  );

  conn.onRequest(
    P.TrainStart,
    handle(async (p: P.TrainStartParams) => {
      check(p, { data: ['string[]', true], runsDir: ['string', true], name: ['string', false], preset: ['string', false], configFile: ['string', false], overrides: ['object', false], watchText: ['string', false] });
      const torch = await serverTorchTrainer(trainChoice, pythonPath, log);
      const { run } = await service.train({ ...p, overrides: p.overrides }, notifications, torch ?? undefined);
      const { backend } = await service.initBackend();
      log('info', `run ${run.id}: ${run.config.train.steps} steps on ${torch ? 'torch' : backend}, ${run.shape.nLayer} layers × ${run.shape.nEmbd}, vocabulary ${run.shape.vocabSize}`);
      return started(run);
    }),
  );

  conn.onRequest(
    P.TrainResume,
    handle(async (p: P.TrainResumeParams) => {
      check(p, { runDir: ['string', true], steps: ['number', false], watchText: ['string', false] });
      const torch = await serverTorchTrainer(trainChoice, pythonPath, log);
      const { run } = await service.resume(p, notifications, torch ?? undefined);
      log('info', `run ${run.id}: resumed at step ${run.step} of ${run.totalSteps}`);
      return started(run);
    }),
  );

  conn.onRequest(
    P.TrainStop,
    handle(async (p: P.RunIdParams) => {
      check(p, { runId: ['string', true] });
      return { stopped: await service.stop(p.runId) };
    }),
  );

  conn.onRequest(
    P.TrainWatch,
    handle(async (p: { runId: string; text: string | null }) => {
      check(p, { runId: ['string', true], text: ['string', false] });
      service.watch(p.runId, p.text ?? null);
    }),
  );

  conn.onRequest(
    P.Analyze,
    handle(async (p: P.AnalyzeParams, token: CancellationToken) => {
      check(p, { checkpoint: ['string', true], text: ['string', true], window: ['number', false], stride: ['number', false] });
      return service.analyze(p, cancelHook(token));
    }),
  );

  conn.onRequest(
    P.Report,
    handle(async (p: P.ReportParams, token: CancellationToken) => {
      check(p, { checkpoint: ['string', true], text: ['string', true], chanceDraws: ['number', false] });
      return service.report(p, cancelHook(token));
    }),
  );

  // analysis/open, summaries, slice, release: analyses kept by the engine, replies bounded.
  registerAnalysisHandlers(conn, { handle, check, service });

  conn.onRequest(
    P.Sample,
    handle(async (p: P.SampleParams, token: CancellationToken) => {
      check(p, { checkpoint: ['string', true], prompt: ['string', true], maxTokens: ['number', true], temperature: ['number', false], topK: ['number', false], seed: ['number', false] });
      const bad = samplingProblems(p);
      if (bad.length) throw new ResponseError(ErrorCodes.InvalidParams, `invalid params: ${bad.join('; ')}`, { problems: bad });
      const warning = await service.withModel(p.checkpoint, async (im) => promptWarning(im.tokenizer, p.prompt));
      if (warning) log('warn', `sample: ${warning}`);
      return { ...(await service.sample(p, cancelHook(token))), ...(warning ? { warnings: [warning] } : {}) };
    }),
  );

  conn.onRequest(
    P.Eval,
    handle(async (p: P.EvalParams) => {
      check(p, { checkpoint: ['string', true], data: ['string[]', true] });
      return service.eval(p);
    }),
  );

  conn.onRequest(
    P.ListRuns,
    handle(async (p: { runsDir: string }) => {
      check(p, { runsDir: ['string', true] });
      return service.listRuns(p.runsDir);
    }),
  );

  conn.onRequest(
    P.RunFollow,
    handle(async (p: { runDir: string; intervalMs?: number }) => {
      check(p, { runDir: ['string', true], intervalMs: ['number', false] });
      const { run } = await service.claim(async () => FollowedRun.open(p.runDir, p.intervalMs), notifications);
      log('info', `following run ${run.id} in ${run.dir} (polling its folder; Stop stops following, not the run)`);
      return started(run);
    }),
  );

  conn.onRequest(
    P.ClusterScript,
    handle(async (p: P.ClusterScriptParams) => {
      check(p, { data: ['string[]', true], runsDir: ['string', true], name: ['string', false], preset: ['string', false], configFile: ['string', false], overrides: ['object', false], nodes: ['number', true], gpusPerNode: ['number', true], python: ['string', false], partition: ['string', false], time: ['string', false], device: ['string', false] });
      for (const k of ['nodes', 'gpusPerNode'] as const) if (!(Number.isInteger(p[k]) && p[k] >= 1)) throw new ResponseError(ErrorCodes.InvalidParams, `${k} must be a positive integer`);
      if (p.device && !['cuda', 'auto', 'mps', 'cpu'].includes(p.device)) throw new ResponseError(ErrorCodes.InvalidParams, 'device must be cuda, auto, mps or cpu');
      const { run, files } = await writeClusterScripts({ setup: { ...p, overrides: p.overrides } }, { nodes: p.nodes, gpusPerNode: p.gpusPerNode, python: p.python, partition: p.partition, time: p.time, device: p.device });
      log('info', `run ${run.meta.id}: cluster scripts in ${run.dir}/torch`);
      return { runId: run.meta.id, runDir: run.dir, files };
    }),
  );

  conn.onRequest(
    P.RunMetrics,
    handle(async (p: { runDir: string }) => {
      check(p, { runDir: ['string', true] });
      return service.metrics(p.runDir);
    }),
  );

  // Every caller (shutdown request, connection close, SIGTERM) waits for the same final checkpoint.
  let shuttingDown: Promise<void> | null = null;
  const shutdown = () => (shuttingDown ??= (async () => {
    const run = service.activeRun;
    if (run) log('info', `stopping run ${run.id} (writing a checkpoint)`);
    await service.stopAll();
  })());
  conn.onRequest(P.Shutdown, handle(shutdown));
  conn.onRequest(P.Ping, () => ({ pid: process.pid }));
  conn.onNotification('exit', () => process.exit(0));
  conn.onError(([err]) => log('warn', `protocol error: ${err.message}`));
  // The client went away: save what can be saved, then leave.
  conn.onClose(() => void shutdown().finally(() => process.exit(0)));
  process.on('SIGTERM', () => void shutdown().finally(() => process.exit(0)));
  process.on('uncaughtException', (e) => log('error', `uncaught: ${e.stack ?? e}`));
  conn.listen();
  return conn;
}
