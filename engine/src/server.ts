// `ldlens serve`: the engine as a JSON-RPC 2.0 server on stdio, speaking protocol.ts.
// stdout carries only protocol messages; everything else goes to stderr or `log` notifications.
import { statSync } from 'node:fs';
import { join } from 'node:path';
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
import { initBackend, type BackendReport } from './backend';
import { CheckpointError, listCheckpoints, listRuns, loadCheckpoint, readMetrics, resolveCheckpointDir } from './checkpoint';
import { ConfigError, PRESETS } from './config';
import { CorpusError, loadCorpus } from './corpus';
import { registerAnalysisHandlers } from './analysisHandlers';
import { checkFullReply } from './analysisStore';
import { analyzeText, checkpointCrossEntropy, sampleText, type InferenceModel } from './inference';
import { GPT } from './model';
import { holdTraining } from './requestPriority';
import * as P from '@common/protocol';
import { SafetensorsError } from './safetensors';
import { TokenizerError } from './tokenizer';
import { TrainingRun } from './trainer';
import { ENGINE_VERSION } from './version';

/** Maps an engine error to a JSON-RPC error with a stable code and every problem named. */
export function toResponseError(e: unknown): ResponseError<P.EngineErrorData> {
  if (e instanceof ResponseError) return e;
  const err = e as Error;
  if (e instanceof ConfigError) return new ResponseError(P.EngineErrorCode.InvalidConfig, err.message, { problems: e.problems });
  if (e instanceof CorpusError) return new ResponseError(P.EngineErrorCode.BadInput, err.message, { problems: [err.message], path: e.path });
  if (e instanceof TokenizerError) return new ResponseError(P.EngineErrorCode.BadInput, err.message, { problems: [err.message] });
  if (e instanceof CheckpointError)
    return new ResponseError(e.notFound ? P.EngineErrorCode.NotFound : P.EngineErrorCode.CorruptCheckpoint, err.message, { problems: [err.message], path: e.path });
  if (e instanceof SafetensorsError) return new ResponseError(P.EngineErrorCode.CorruptCheckpoint, err.message, { problems: [err.message] });
  if (e instanceof RangeError) return new ResponseError(P.EngineErrorCode.BadInput, err.message, { problems: [err.message] });
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

/** Loaded checkpoints, keyed by folder and the weights' mtime, so a rewritten checkpoint reloads. */
class ModelCache {
  private readonly entries = new Map<string, InferenceModel>();
  constructor(private readonly max = 3) {}

  get(path: string): InferenceModel {
    const { dir } = resolveCheckpointDir(path);
    let mtime = 0;
    try {
      mtime = statSync(join(dir, 'model.safetensors')).mtimeMs;
    } catch {
      /* missing weights: loadCheckpoint below names the file */
    }
    const key = `${dir}@${mtime}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit); // most recently used last
      return hit;
    }
    const ck = loadCheckpoint(dir);
    const im: InferenceModel = { model: GPT.fromWeights(ck.shape, ck.config.dropout, ck.weights), tokenizer: ck.tokenizer, checkpoint: { runDir: ck.runDir, dir: ck.dir, step: ck.step } };
    this.entries.set(key, im);
    while (this.entries.size > this.max) {
      const [k, old] = this.entries.entries().next().value as [string, InferenceModel];
      old.model.dispose();
      this.entries.delete(k);
    }
    return im;
  }
}

export function startServer(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): MessageConnection {
  // Anything a library prints must not corrupt the protocol stream.
  for (const k of ['log', 'info', 'debug'] as const) console[k] = console.error;

  const conn = createMessageConnection(new StreamMessageReader(input), new StreamMessageWriter(output));
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
  let backend: Promise<BackendReport> | null = null;
  const ensureBackend = (choice: P.BackendChoice = (process.env.LDLENS_BACKEND as P.BackendChoice) || 'auto') =>
    (backend ??= initBackend(choice).catch((e) => {
      backend = null;
      throw new ResponseError(P.EngineErrorCode.Backend, (e as Error).message);
    }));
  const models = new ModelCache();
  let active: TrainingRun | null = null;
  let activeDone: Promise<void> | null = null;

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

  const startLoop = (run: TrainingRun) => {
    active = run;
    const runId = run.id;
    activeDone = (async () => {
      const outcome = await run.run({
        metric: (record) => notify(P.TrainMetric, { runId, record }),
        progress: (p) => notify(P.TrainProgress, { runId, ...p }),
        checkpoint: (checkpoint) => notify(P.TrainCheckpoint, { runId, checkpoint }),
        watch: (analysis) => notify(P.TrainWatchAnalysis, { runId, analysis }),
        log,
      });
      run.dispose();
      active = null;
      notify(P.TrainEnded, { runId, runDir: run.dir, status: outcome.status, step: outcome.step, ...(outcome.error ? { error: outcome.error } : {}) });
    })();
  };

  // Set-up (corpus, model) takes a while: a second train/start or train/resume arriving meanwhile is
  // Busy too, not a second run training alongside the first.
  let settingUp = false;
  const claimTraining = async (setUp: () => Promise<TrainingRun>): Promise<TrainingRun> => {
    if (active) throw new ResponseError(P.EngineErrorCode.Busy, `a run is already training (${active.id}); stop it first`);
    if (settingUp) throw new ResponseError(P.EngineErrorCode.Busy, 'a run is being set up; wait for it or stop it first');
    settingUp = true;
    try {
      const run = await setUp();
      startLoop(run);
      return run;
    } finally {
      settingUp = false;
    }
  };

  const started = (run: TrainingRun): P.TrainStartResult => ({ runId: run.id, runDir: run.dir, config: run.config, model: run.shape });

  conn.onRequest(
    P.Initialize,
    handle(async (p: P.InitializeParams) => {
      check(p, { backend: ['string', false], clientName: ['string', false] });
      const r = await ensureBackend(p.backend ?? ((process.env.LDLENS_BACKEND as P.BackendChoice) || 'auto'));
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
      const { backend: name } = await ensureBackend();
      const run = await claimTraining(() => TrainingRun.create({ ...p, overrides: p.overrides }, name));
      log('info', `run ${run.id}: ${run.config.train.steps} steps on ${name}, ${run.shape.nLayer} layers × ${run.shape.nEmbd}, vocabulary ${run.shape.vocabSize}`);
      return started(run);
    }),
  );

  conn.onRequest(
    P.TrainResume,
    handle(async (p: P.TrainResumeParams) => {
      check(p, { runDir: ['string', true], steps: ['number', false], watchText: ['string', false] });
      const { backend: name } = await ensureBackend();
      const run = await claimTraining(async () => {
        const r = await TrainingRun.resume(p.runDir, name, p.steps);
        r.watchText = p.watchText ?? null;
        return r;
      });
      log('info', `run ${run.id}: resumed at step ${run.step} of ${run.totalSteps}`);
      return started(run);
    }),
  );

  conn.onRequest(
    P.TrainStop,
    handle(async (p: P.RunIdParams) => {
      check(p, { runId: ['string', true] });
      if (!active || active.id !== p.runId) return { stopped: false };
      active.stop();
      await activeDone;
      return { stopped: true };
    }),
  );

  conn.onRequest(
    P.TrainWatch,
    handle(async (p: { runId: string; text: string | null }) => {
      check(p, { runId: ['string', true], text: ['string', false] });
      if (active?.id === p.runId) active.watchText = p.text ?? null;
    }),
  );

  conn.onRequest(
    P.Analyze,
    handle(async (p: P.AnalyzeParams, token: CancellationToken) => {
      check(p, { checkpoint: ['string', true], text: ['string', true], window: ['number', false], stride: ['number', false] });
      await ensureBackend();
      const im = models.get(p.checkpoint);
      checkFullReply(im, p.text.length, 'analysis/open sends it in bounded chunks');
      return holdTraining(analyzeText(im, p.text, { window: p.window, stride: p.stride, checkpointHook: cancelHook(token) }));
    }),
  );

  // analysis/open, summaries, slice, release: analyses kept by the engine, replies bounded.
  registerAnalysisHandlers(conn, { handle, check, ensureBackend: () => ensureBackend(), model: (c) => models.get(c) });

  conn.onRequest(
    P.Sample,
    handle(async (p: P.SampleParams, token: CancellationToken) => {
      check(p, { checkpoint: ['string', true], prompt: ['string', true], maxTokens: ['number', true], temperature: ['number', false], topK: ['number', false], seed: ['number', false] });
      if (!(p.maxTokens >= 1 && p.maxTokens <= 10000)) throw new ResponseError(ErrorCodes.InvalidParams, 'maxTokens must be between 1 and 10000');
      await ensureBackend();
      const im = models.get(p.checkpoint);
      const hook = cancelHook(token);
      const text = await sampleText(im, p.prompt, { ...p, checkpointHook: hook });
      return { text, analysis: await analyzeText(im, p.prompt + text, { checkpointHook: hook }) };
    }),
  );

  conn.onRequest(
    P.Eval,
    handle(async (p: P.EvalParams) => {
      check(p, { checkpoint: ['string', true], data: ['string[]', true] });
      await ensureBackend();
      const corpus = await loadCorpus(p.data, { minChars: 2 });
      return checkpointCrossEntropy(models.get(p.checkpoint), corpus.text);
    }),
  );

  conn.onRequest(
    P.ListRuns,
    handle(async (p: { runsDir: string }) => {
      check(p, { runsDir: ['string', true] });
      return listRuns(p.runsDir);
    }),
  );

  conn.onRequest(
    P.RunMetrics,
    handle(async (p: { runDir: string }) => {
      check(p, { runDir: ['string', true] });
      listCheckpoints(p.runDir); // throws nothing; reads fine for a missing dir
      return readMetrics(p.runDir);
    }),
  );

  // Every caller (shutdown request, connection close, SIGTERM) waits for the same final checkpoint.
  let shuttingDown: Promise<void> | null = null;
  const shutdown = () => (shuttingDown ??= (async () => {
    if (active) {
      log('info', `stopping run ${active.id} (writing a checkpoint)`);
      active.stop();
      await activeDone;
    }
  })());
  conn.onRequest(P.Shutdown, handle(shutdown));
  conn.onNotification('exit', () => process.exit(0));
  conn.onError(([err]) => log('warn', `protocol error: ${err.message}`));
  // The client went away: save what can be saved, then leave.
  conn.onClose(() => void shutdown().finally(() => process.exit(0)));
  process.on('SIGTERM', () => void shutdown().finally(() => process.exit(0)));
  process.on('uncaughtException', (e) => log('error', `uncaught: ${e.stack ?? e}`));
  conn.listen();
  return conn;
}
