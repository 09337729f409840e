// `ldlens serve` as the extension uses it: the built CLI as a child process, spoken to over
// JSON-RPC on its stdio with the typed descriptors of protocol.ts. Nothing of the engine is mocked.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  CancellationTokenSource,
  createMessageConnection,
  ErrorCodes,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import * as P from '@common/protocol';
import { cliPath, smallCorpus, tempDir, TINY_OVERRIDES } from './helpers';

const BACKENDS = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

/**
 * train/progress steps: ascending, from the run's first step to its last (both always sent), at
 * most every 100 ms in between (server.ts PROGRESS_MS), so some steps may be left out.
 */
function assertProgress(steps: number[], first: number, last: number, what = 'progress'): void {
  // (tests that wait for a step wait for its train/metric record: every step has one)
  assert.equal(steps[0], first, `${what}: first step ${steps}`);
  assert.equal(steps.at(-1), last, `${what}: last step ${steps}`);
  for (let i = 1; i < steps.length; i++) assert.ok(steps[i] > steps[i - 1], `${what}: ascending ${steps}`);
}

const scratchDirs: string[] = [];
/** A temporary folder, removed when the file's tests are done. */
function scratch(): string {
  const d = tempDir();
  scratchDirs.push(d);
  return d;
}
after(() => {
  for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
});

interface Note {
  method: string;
  params: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A running `ldlens serve` with every notification it sent, in order. */
class Server {
  readonly notes: Note[] = [];
  stderr = '';
  private waiters: (() => void)[] = [];
  private closed = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcessWithoutNullStreams,
    readonly conn: MessageConnection,
  ) {
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    child.stdin.on('error', () => {}); // writes after a kill
    this.exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
    conn.onNotification((method: string, params: unknown) => {
      this.notes.push({ method, params });
      for (const w of this.waiters) w();
    });
    conn.onClose(() => {
      this.closed = true;
      for (const w of this.waiters) w();
    });
    conn.onError(() => {});
    conn.listen();
  }

  static start(cwd?: string): Server {
    const child = spawn(process.execPath, [cliPath, 'serve'], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    return new Server(child, conn);
  }

  /** The first notification at index ≥ `from` that matches, waiting for it if need be. */
  waitFor(method: string, pred: (params: any) => boolean = () => true, o: { from?: number; timeoutMs?: number } = {}): Promise<Note> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const find = () => this.notes.find((n, i) => i >= (o.from ?? 0) && n.method === method && pred(n.params));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no ${method} notification within ${o.timeoutMs ?? 60_000} ms; stderr:\n${this.stderr}`)), o.timeoutMs ?? 60_000);
      const check = () => {
        const hit = find();
        if (hit) done(null, hit);
        else if (this.closed) done(new Error(`the connection closed before a ${method} notification; stderr:\n${this.stderr}`));
      };
      const done = (e: Error | null, n?: Note) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        if (e) reject(e);
        else resolve(n!);
      };
      this.waiters.push(check);
      check();
    });
  }

  of(method: string, runId?: string): any[] { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.notes.filter((n) => n.method === method && (runId === undefined || n.params.runId === runId)).map((n) => n.params);
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Closes stdin (the server saves what it can and leaves); kills it if it lingers. */
  async close(): Promise<void> {
    this.conn.dispose();
    if (this.alive()) {
      this.child.stdin.end();
      const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(t);
    }
  }
}

/** Awaits a request that must fail, and returns its error after checking the code. */
async function failsWith(p: Promise<unknown>, code: number): Promise<ResponseError<P.EngineErrorData>> {
  let result: unknown;
  try {
    result = await p;
  } catch (e) {
    assert.ok(e instanceof ResponseError, `expected a ResponseError, got ${e}`);
    assert.equal(e.code, code, `error code of "${e.message}"`);
    return e as ResponseError<P.EngineErrorData>;
  }
  assert.fail(`expected error ${code}, got the result ${JSON.stringify(result)?.slice(0, 200)}`);
}

const range = (a: number, b: number, step = 1) => Array.from({ length: Math.floor((b - a) / step) + 1 }, (_, i) => a + i * step);

function readJsonl(path: string): P.MetricRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

function stepsOf(records: P.MetricRecord[], type: P.MetricRecord['type']): number[] {
  return records.filter((r) => r.type === type).map((r) => r.step);
}

/** Overrides for a run of `steps` steps with checkpoints every `checkpointInterval`. */
function tiny(steps: number, checkpointInterval = TINY_OVERRIDES.train.checkpointInterval) {
  return { model: TINY_OVERRIDES.model, train: { ...TINY_OVERRIDES.train, steps, checkpointInterval } };
}

const CKPT_FILES = ['config.json', 'model.safetensors', 'optimizer.safetensors', 'state.json'];
const ckptName = (step: number) => `step-${String(step).padStart(6, '0')}`;

test('serve: initialize, a full training run, its metrics, runs/list, analyze, sample and eval', { timeout: 120_000 }, async (t) => {
  const dir = scratch();
  const corpus = smallCorpus(dir);
  const corpusText = readFileSync(corpus, 'utf8');
  const runsDir = join(dir, 'runs');
  const s = Server.start(dir);
  t.after(() => s.close());

  const init = await s.conn.sendRequest(P.Initialize, { clientName: 'server.test' });
  assert.ok(BACKENDS.includes(init.backend), `backend ${init.backend}`);
  assert.equal(init.protocolVersion, P.PROTOCOL_VERSION);
  assert.equal(typeof init.engineVersion, 'string');
  assert.ok(init.attempts.length >= 1);
  for (const a of init.attempts) {
    assert.ok(BACKENDS.includes(a.name), `attempt ${a.name}`);
    assert.equal(typeof a.reason, 'string');
    assert.ok(a.reason.length > 0);
  }
  const okAttempts = init.attempts.filter((a) => a.ok);
  assert.deepEqual(okAttempts.map((a) => a.name), [init.backend], 'exactly the chosen backend succeeded');
  assert.equal(init.attempts.at(-1)!.name, init.backend, 'attempts stop at the first that works');
  const presets = new Map(init.presets.map((p) => [p.name, p.description]));
  for (const name of ['tiny', 'small']) assert.ok(presets.get(name)?.length, `preset ${name} listed with a description`);

  // ------------------------------------------------------------------ train/start → completed
  const watchText = 'First Citizen:\nBefore we proceed any further';
  const started = await s.conn.sendRequest(P.TrainStart, { data: [corpus], runsDir, name: 'server test', overrides: TINY_OVERRIDES, watchText });
  const { runId, runDir } = started;
  assert.ok(runId);
  assert.ok(runDir.startsWith(runsDir), `${runDir} is inside ${runsDir}`);
  assert.equal(started.config.train.steps, 20);
  assert.deepEqual({ ...started.model, vocabSize: 0 }, { ...TINY_OVERRIDES.model, vocabSize: 0 });
  assert.ok(started.model.vocabSize > 10);

  const ended = (await s.waitFor('train/ended', (p) => p.runId === runId)).params as P.TrainEndedParams;
  assert.deepEqual({ status: ended.status, step: ended.step, runDir: ended.runDir, error: ended.error }, { status: 'completed', step: 20, runDir, error: undefined });
  const endedAt = s.notes.findIndex((n) => n.method === 'train/ended');

  const records = s.of('train/metric', runId).map((p) => p.record as P.MetricRecord);
  assert.deepEqual(stepsOf(records, 'step'), range(1, 20), 'a step record for every step, in order');
  assert.deepEqual(stepsOf(records, 'stats'), [5, 10, 15, 20], 'stats every statsInterval');
  assert.deepEqual(stepsOf(records, 'eval'), [10, 20], 'eval every evalInterval');
  for (const r of records) {
    if (r.type === 'step') for (const k of ['loss', 'crossEntropy', 'entropy', 'l1', 'lr', 'tokensPerSec'] as const) assert.ok(Number.isFinite(r[k]), `step ${r.step}: ${k}`);
    if (r.type === 'eval') assert.ok(Number.isFinite(r.trainLoss) && Number.isFinite(r.valLoss), `eval ${r.step}`);
    if (r.type === 'stats') {
      assert.deepEqual(
        r.sites.map((x) => x.site),
        ['transformer.drop', 'transformer.h.0.attn.attn_dropout', 'transformer.h.0.attn.resid_dropout', 'transformer.h.0.mlp.dropout'],
      );
      for (const x of r.sites) assert.ok(x.meanMask >= 0 && x.meanMask <= 1 && x.fracLow >= 0 && x.fracHigh <= 1, `stats ${r.step} ${x.site}`);
    }
  }
  const progress = s.of('train/progress', runId) as P.TrainProgressParams[];
  assertProgress(progress.map((p) => p.step), 1, 20);
  for (const p of progress) assert.ok(p.totalSteps === 20 && Number.isFinite(p.loss) && p.etaSeconds >= 0, JSON.stringify(p));
  const ckpts = s.of('train/checkpoint', runId).map((p) => p.checkpoint as P.CheckpointInfo);
  assert.deepEqual(ckpts.map((c) => c.step), [10, 20]);
  for (const c of ckpts) {
    assert.equal(c.dir, join(runDir, 'checkpoints', ckptName(c.step)));
    assert.deepEqual(readdirSync(c.dir).sort(), CKPT_FILES);
  }
  assert.ok(Number.isFinite(ckpts[1].valLoss), 'the final checkpoint carries the last validation loss');
  const watched = s.of('train/watchAnalysis', runId).map((p) => p.analysis as P.AnalysisResult);
  assert.deepEqual(watched.map((a) => a.checkpoint.step), [10, 20], 'the watched text is re-analyzed at every checkpoint');
  for (const a of watched) assert.equal(a.tokens.map((x) => x.text).join(''), watchText);
  assert.ok(
    s.notes.every((n, i) => n.method !== 'train/metric' || i < endedAt),
    'train/ended comes after every metric',
  );

  // ------------------------------------------------------------------ metrics.jsonl = runs/metrics = notifications
  const onDisk = readJsonl(join(runDir, 'metrics.jsonl'));
  const served = await s.conn.sendRequest(P.RunMetrics, { runDir });
  assert.deepEqual(served, onDisk);
  assert.deepEqual(onDisk, records);

  // ------------------------------------------------------------------ runs/list
  const runs = await s.conn.sendRequest(P.ListRuns, { runsDir });
  assert.equal(runs.length, 1);
  const run = runs[0];
  assert.deepEqual(
    { id: run.id, dir: run.dir, status: run.status, step: run.step, totalSteps: run.totalSteps, name: run.name, dropoutKind: run.dropoutKind, backend: run.backend },
    { id: runId, dir: runDir, status: 'completed', step: 20, totalSteps: 20, name: 'server test', dropoutKind: 'learned', backend: init.backend },
  );
  assert.deepEqual(run.checkpoints.map((c) => [c.step, c.dir]), ckpts.map((c) => [c.step, c.dir]));
  const vals = records.filter((r): r is P.EvalRecord => r.type === 'eval').map((r) => r.valLoss);
  assert.equal(run.bestValLoss, Math.min(...vals));

  // ------------------------------------------------------------------ analyze
  const text = corpusText.slice(2000, 2100); // 100 characters, every one in the vocabulary
  const a = await s.conn.sendRequest(P.Analyze, { checkpoint: runDir, text });
  assert.equal(a.checkpoint.step, 20);
  assert.equal(a.checkpoint.dir, join(runDir, 'checkpoints', ckptName(20)));
  assert.equal(a.textLength, text.length);
  assert.equal(a.tokens.length, text.length, 'one token per character (char tokenizer)');
  let at = 0;
  for (const tok of a.tokens) {
    assert.equal(tok.start, at, 'tokens cover the text in order, without gaps');
    assert.ok(tok.end > tok.start);
    assert.equal(tok.text, text.slice(tok.start, tok.end));
    at = tok.end;
  }
  assert.equal(at, text.length);
  checkAnalysis(a, started.model);
  assert.ok(a.crossEntropy !== null && Number.isFinite(a.crossEntropy) && a.crossEntropy > 0);
  assert.equal(a.surprisal.length, a.tokens.length);
  assert.equal(a.surprisal[0], null, 'the first token has nothing before it');
  assert.ok(a.surprisal.slice(1).every((v) => v !== null && Number.isFinite(v) && v >= 0));
  // The same request on the checkpoint folder itself gives the same masks.
  const a2 = await s.conn.sendRequest(P.Analyze, { checkpoint: a.checkpoint.dir, text });
  assert.deepEqual(a2.layers, a.layers);

  // ------------------------------------------------------------------ sample
  const prompt = 'ROMEO:';
  const sm = await s.conn.sendRequest(P.Sample, { checkpoint: runDir, prompt, maxTokens: 24, seed: 7, temperature: 0.8 });
  assert.equal(typeof sm.text, 'string');
  assert.equal([...sm.text].length, 24, 'one character per sampled token');
  assert.equal(sm.analysis.textLength, prompt.length + sm.text.length);
  assert.equal(sm.analysis.tokens.map((x) => x.text).join(''), prompt + sm.text);
  checkAnalysis(sm.analysis, started.model);
  const again = await s.conn.sendRequest(P.Sample, { checkpoint: runDir, prompt, maxTokens: 24, seed: 7, temperature: 0.8 });
  assert.equal(again.text, sm.text, 'the same seed samples the same text');

  // ------------------------------------------------------------------ eval
  const evalFile = join(dir, 'eval.txt');
  const evalText = corpusText.slice(0, 3000);
  writeFileSync(evalFile, evalText);
  const ev = await s.conn.sendRequest(P.Eval, { checkpoint: runDir, data: [evalFile] });
  assert.ok(Number.isFinite(ev.crossEntropy) && ev.crossEntropy > 0, `crossEntropy ${ev.crossEntropy}`);
  assert.ok(ev.crossEntropy < Math.log(started.model.vocabSize) + 1, 'a trained model does about as well as uniform or better');
  assert.equal(ev.tokens, Math.floor((evalText.length - 1) / 32) * 32, 'non-overlapping blockSize windows');
});

/** The per-site arrays of an analysis agree with each other and with the decoded masks. */
function checkAnalysis(a: P.AnalysisResult, shape: { nEmbd: number; nHead: number; nLayer: number; blockSize: number }): void {
  const n = a.tokens.length;
  const want: [string, P.SiteKind, number][] = [['transformer.drop', 'embedding', shape.nEmbd]];
  for (let l = 0; l < shape.nLayer; l++)
    want.push(
      [`transformer.h.${l}.attn.attn_dropout`, 'attention', shape.nHead * shape.blockSize],
      [`transformer.h.${l}.attn.resid_dropout`, 'attentionOutput', shape.nEmbd],
      [`transformer.h.${l}.mlp.dropout`, 'mlp', shape.nEmbd],
    );
  assert.deepEqual(a.sites.map((x) => [x.name, x.kind, x.units]), want);
  // Attention sites say their heads (a head's row is blockSize keys): the hover and the explorer draw by them.
  assert.deepEqual(a.sites.map((x) => x.heads), a.sites.map((x) => (x.kind === 'attention' ? shape.nHead : undefined)));
  assert.equal(a.layers.length, a.sites.length, 'one SiteMasks per site');
  assert.equal(a.window, Math.min(shape.blockSize, a.window));
  a.sites.forEach((site, k) => {
    const L = a.layers[k];
    assert.equal(L.site, site.name);
    const bytes = Buffer.from(L.masks, 'base64');
    assert.equal(bytes.length, n * site.units, `${site.name}: tokens × units bytes`);
    assert.equal(L.active.length, n);
    assert.equal(L.mean.length, n);
    for (let i = 0; i < n; i++) {
      const row = bytes.subarray(i * site.units, (i + 1) * site.units);
      if (site.kind !== 'attention') {
        const active = row.reduce((c, b) => c + (b >= 128 ? 1 : 0), 0);
        assert.equal(L.active[i], active, `${site.name} token ${i}: active = bytes ≥ 128`);
        const mean = row.reduce((c, b) => c + b, 0) / 255 / site.units;
        assert.ok(Math.abs(L.mean[i] - mean) <= 1 / 255, `${site.name} token ${i}: mean ${L.mean[i]} vs bytes ${mean}`);
      } else if (i < a.window) {
        // In the first window token i sits at position i: heads × causal keys 0..i.
        let active = 0;
        for (let h = 0; h < shape.nHead; h++) for (let j = 0; j <= i; j++) if (row[h * shape.blockSize + j] >= 128) active++;
        assert.equal(L.active[i], active, `${site.name} token ${i}: active over causal keys`);
        assert.ok(L.active[i] <= shape.nHead * (i + 1));
      }
      assert.ok(L.mean[i] >= 0 && L.mean[i] <= 1);
    }
  });
}

test('serve: Busy, train/watch, train/stop at a checkpoint, train/resume to the end', { timeout: 120_000 }, async (t) => {
  const dir = scratch();
  const corpus = smallCorpus(dir);
  const runsDir = join(dir, 'runs');
  const s = Server.start(dir);
  t.after(() => s.close());

  // checkpointInterval beyond the run: the only checkpoints are the stop's and the end's.
  // Two starts at once (a double click): one trains, the other is Busy, even while the first is
  // still setting up.
  const both = await Promise.allSettled(
    ['first', 'second'].map((name) => s.conn.sendRequest(P.TrainStart, { data: [corpus], runsDir, name, overrides: tiny(60, 1000) })),
  );
  const won = both.filter((r): r is PromiseFulfilledResult<P.TrainStartResult> => r.status === 'fulfilled');
  const lost = both.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(won.length, 1, `exactly one of two simultaneous starts trains: ${both.map((r) => (r.status === 'fulfilled' ? r.value.runId : r.reason.message)).join(' | ')}`);
  assert.ok(lost[0].reason instanceof ResponseError && lost[0].reason.code === P.EngineErrorCode.Busy, `the other is Busy: ${lost[0].reason.message}`);
  const { runId, runDir } = won[0].value;
  assert.equal(readdirSync(runsDir).length, 1, 'one run folder');

  const busy = await failsWith(s.conn.sendRequest(P.TrainStart, { data: [corpus], runsDir, overrides: tiny(20) }), P.EngineErrorCode.Busy);
  assert.match(busy.message, new RegExp(runId));
  await failsWith(s.conn.sendRequest(P.TrainResume, { runDir }), P.EngineErrorCode.Busy);

  const watchText = 'To be, or not to be';
  await s.conn.sendRequest(P.TrainWatch, { runId, text: watchText });
  await s.waitFor('train/metric', (p) => p.runId === runId && p.record.type === 'step' && p.record.step >= 3);
  assert.deepEqual(await s.conn.sendRequest(P.TrainStop, { runId }), { stopped: true });
  const ended = (await s.waitFor('train/ended', (p) => p.runId === runId)).params as P.TrainEndedParams;
  assert.equal(ended.status, 'stopped');
  const S = ended.step;
  assert.ok(S >= 3 && S < 60, `stopped at step ${S}`);
  assert.deepEqual(s.of('train/checkpoint', runId).map((p) => p.checkpoint.step), [S], 'a checkpoint at the stop step');
  const stopCkpt = join(runDir, 'checkpoints', ckptName(S));
  assert.deepEqual(readdirSync(stopCkpt).sort(), CKPT_FILES);
  const watched = s.of('train/watchAnalysis', runId).map((p) => p.analysis as P.AnalysisResult);
  assert.equal(watched.length, 1, 'train/watch text analyzed at the stop checkpoint');
  assert.equal(watched[0].checkpoint.step, S);
  assert.equal(watched[0].tokens.map((x) => x.text).join(''), watchText);
  assert.deepEqual(await s.conn.sendRequest(P.TrainStop, { runId }), { stopped: false }, 'nothing left to stop');

  let [info] = await s.conn.sendRequest(P.ListRuns, { runsDir });
  assert.deepEqual({ status: info.status, step: info.step, ckpts: info.checkpoints.map((c) => c.step) }, { status: 'stopped', step: S, ckpts: [S] });
  const before = readJsonl(join(runDir, 'metrics.jsonl'));
  assert.deepEqual(stepsOf(before, 'step'), range(1, S));

  const from = s.notes.length;
  const resumed = await s.conn.sendRequest(P.TrainResume, { runDir });
  assert.equal(resumed.runId, runId);
  assert.equal(resumed.runDir, runDir);
  assert.equal(resumed.config.train.steps, 60);
  const end2 = (await s.waitFor('train/ended', (p) => p.runId === runId, { from })).params as P.TrainEndedParams;
  assert.deepEqual([end2.status, end2.step], ['completed', 60]);
  const progress = s.notes.slice(from).filter((n) => n.method === 'train/progress').map((n) => n.params.step);
  assertProgress(progress, S + 1, 60, 'resumed at the step after the checkpoint');

  const after = readJsonl(join(runDir, 'metrics.jsonl'));
  assert.deepEqual(stepsOf(after, 'step'), range(1, 60), 'every step exactly once');
  assert.deepEqual(stepsOf(after, 'eval'), range(10, 60, 10));
  assert.deepEqual(stepsOf(after, 'stats'), range(5, 60, 5));
  assert.deepEqual(after.slice(0, before.length), before, 'records before the stop kept as they were');
  [info] = await s.conn.sendRequest(P.ListRuns, { runsDir });
  assert.deepEqual({ status: info.status, step: info.step, ckpts: info.checkpoints.map((c) => c.step) }, { status: 'completed', step: 60, ckpts: [S, 60] });
});

test('serve: typed errors, and the server survives bad requests', { timeout: 120_000 }, async (t) => {
  const dir = scratch();
  const corpus = smallCorpus(dir);
  const runsDir = join(dir, 'runs');
  const s = Server.start(dir);
  t.after(() => s.close());
  await s.conn.sendRequest(P.Initialize, {});

  await t.test('invalid config: InvalidConfig naming every problem', async () => {
    const e = await failsWith(
      s.conn.sendRequest(P.TrainStart, { data: [corpus], runsDir, overrides: { model: { nEmbd: 30, nHead: 4 }, train: { lr: -1, bogus: 1 } } as never }),
      P.EngineErrorCode.InvalidConfig,
    );
    const problems = e.data?.problems ?? [];
    for (const re of [/model\.nEmbd \(30\) must be divisible by model\.nHead \(4\)/, /train\.lr: .*-1/, /train\.bogus: unknown key/])
      assert.ok(problems.some((p) => re.test(p)), `${re} in ${JSON.stringify(problems)}`);
    for (const p of problems) assert.ok(e.message.includes(p), `the message names "${p}" too`);
    assert.ok(!existsSync(runsDir) || readdirSync(runsDir).length === 0, 'no run folder for a refused config');
  });

  await t.test('a data path that does not exist: BadInput naming it', async () => {
    const missing = join(dir, 'no-such-corpus.txt');
    const e = await failsWith(s.conn.sendRequest(P.TrainStart, { data: [missing], runsDir, overrides: tiny(20) }), P.EngineErrorCode.BadInput);
    assert.match(e.message, /no-such-corpus\.txt does not exist/);
    assert.match(e.data?.path ?? '', /no-such-corpus\.txt$/);
    await failsWith(s.conn.sendRequest(P.Eval, { checkpoint: dir, data: [missing] }), P.EngineErrorCode.BadInput);
  });

  await t.test('unknown method: MethodNotFound, then the next request is answered', async () => {
    await failsWith(s.conn.sendRequest('engine/noSuchMethod', { x: 1 }), ErrorCodes.MethodNotFound);
    assert.deepEqual(await s.conn.sendRequest(P.ListRuns, { runsDir: join(dir, 'none') }), []);
    assert.ok(s.alive());
  });

  await t.test('missing or mistyped params: InvalidParams naming each', async () => {
    const e = await failsWith(s.conn.sendRequest(P.Analyze, {} as never), ErrorCodes.InvalidParams);
    assert.deepEqual(e.data?.problems, ['checkpoint is required', 'text is required']);
    const e2 = await failsWith(s.conn.sendRequest(P.TrainStart, { runsDir: 5 } as never), ErrorCodes.InvalidParams);
    assert.deepEqual(e2.data?.problems, ['data is required', 'runsDir must be a string']);
    await failsWith(s.conn.sendRequest(P.Sample, { checkpoint: dir, prompt: 'x', maxTokens: 0 }), ErrorCodes.InvalidParams);
    await failsWith(s.conn.sendRequest(P.ListRuns, null as never), ErrorCodes.InvalidParams);
  });

  await t.test('garbage on stdin: the process stays up and answers the next request', async () => {
    const body = '{not json';
    s.child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const body2 = '{"jsonrpc":"2.0","id":"x","method":5}';
    s.child.stdin.write(`Content-Length: ${Buffer.byteLength(body2)}\r\n\r\n${body2}`);
    const runs = await Promise.race([
      s.conn.sendRequest(P.ListRuns, { runsDir: join(dir, 'none') }),
      new Promise((_, rej) => setTimeout(() => rej(new Error('no answer after garbage within 10 s; stderr:\n' + s.stderr)), 10_000)),
    ]);
    assert.deepEqual(runs, []);
    assert.ok(s.alive());
  });

  // A real checkpoint to damage.
  const started = await s.conn.sendRequest(P.TrainStart, { data: [corpus], runsDir, overrides: tiny(10) });
  const ended = await s.waitFor('train/ended', (p) => p.runId === started.runId);
  assert.equal(ended.params.status, 'completed');
  const good = join(started.runDir, 'checkpoints', ckptName(10));

  await t.test('a truncated model.safetensors: CorruptCheckpoint naming the file', async () => {
    const bad = join(dir, 'corrupt', ckptName(10));
    cpSync(good, bad, { recursive: true });
    const weights = join(bad, 'model.safetensors');
    writeFileSync(weights, readFileSync(weights).subarray(0, 1000));
    const e = await failsWith(s.conn.sendRequest(P.Analyze, { checkpoint: bad, text: 'hello' }), P.EngineErrorCode.CorruptCheckpoint);
    assert.ok(e.message.includes(weights), `names the file: ${e.message}`);
    assert.match(e.message, /truncated/);
    assert.equal(e.data?.path, weights);
    await failsWith(s.conn.sendRequest(P.Sample, { checkpoint: bad, prompt: 'a', maxTokens: 3 }), P.EngineErrorCode.CorruptCheckpoint);
    // the good one still works
    const a = await s.conn.sendRequest(P.Analyze, { checkpoint: good, text: 'hello' });
    assert.equal(a.checkpoint.step, 10);
  });

  await t.test('a checkpoint folder without its weights: CorruptCheckpoint naming model.safetensors', async () => {
    const run = join(dir, 'no-weights');
    cpSync(started.runDir, run, { recursive: true });
    const weights = join(run, 'checkpoints', ckptName(10), 'model.safetensors');
    rmSync(weights); // listCheckpoints still finds the folder by its state.json
    const e = await failsWith(s.conn.sendRequest(P.Analyze, { checkpoint: run, text: 'hello' }), P.EngineErrorCode.CorruptCheckpoint);
    assert.equal(e.message, `${weights} is missing`);
  });

  await t.test('nothing to load: NotFound (a missing path, a run without checkpoints, a folder that is not a run)', async () => {
    const gone = join(dir, 'no-such-checkpoint');
    const e = await failsWith(s.conn.sendRequest(P.Analyze, { checkpoint: gone, text: 'hello' }), P.EngineErrorCode.NotFound);
    assert.match(e.message, /no-such-checkpoint/);
    assert.equal(e.data?.path, gone);
    const emptyRun = join(dir, 'empty-run');
    cpSync(started.runDir, emptyRun, { recursive: true, filter: (src) => !src.includes('step-') });
    const e2 = await failsWith(s.conn.sendRequest(P.Sample, { checkpoint: emptyRun, prompt: 'a', maxTokens: 2 }), P.EngineErrorCode.NotFound);
    assert.match(e2.message, /holds no checkpoint yet/);
    const e3 = await failsWith(s.conn.sendRequest(P.TrainResume, { runDir: dir }), P.EngineErrorCode.NotFound);
    assert.match(e3.message, /is not a LearnedDropout run \(no run\.json\)/);
  });

  await t.test('a checkpoint damaged after it was loaded is not served from the cache', async () => {
    const copy = join(dir, 'cached', ckptName(10));
    cpSync(good, copy, { recursive: true });
    await s.conn.sendRequest(P.Analyze, { checkpoint: copy, text: 'hello' });
    const weights = join(copy, 'model.safetensors');
    const bytes = readFileSync(weights);
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(weights, bytes.subarray(0, bytes.length - 64));
    const e = await failsWith(s.conn.sendRequest(P.Analyze, { checkpoint: copy, text: 'hello' }), P.EngineErrorCode.CorruptCheckpoint);
    assert.match(e.message, /truncated/);
  });

  await t.test('cancellation: a long analyze rejects with RequestCancelled and the server goes on', async () => {
    const long = readFileSync(corpus, 'utf8').slice(0, 50_000);
    const src = new CancellationTokenSource();
    const t0 = performance.now();
    const p = s.conn.sendRequest(P.Analyze, { checkpoint: good, text: long }, src.token);
    setTimeout(() => src.cancel(), 150);
    const e = await failsWith(p, P.EngineErrorCode.Cancelled);
    const cancelledAfter = performance.now() - t0;
    assert.equal(e.message, 'request cancelled', 'the rejection is the server’s reply');
    // The same analysis uncancelled, for scale: cancelling must have cut it short.
    const t1 = performance.now();
    const full = await s.conn.sendRequest(P.Analyze, { checkpoint: good, text: long });
    const fullMs = performance.now() - t1;
    assert.equal(full.tokens.length, long.length);
    assert.ok(cancelledAfter < fullMs, `cancelled after ${cancelledAfter.toFixed(0)} ms; the whole analysis takes ${fullMs.toFixed(0)} ms`);
    assert.deepEqual(await s.conn.sendRequest(P.ListRuns, { runsDir: join(dir, 'none') }), []);
  });
});

test('serve: 30 concurrent analyze requests over 5 checkpoints (more than the 3 the cache holds) all succeed', { timeout: 120_000 }, async (t) => {
  // Each request holds its model until it is done: one evicted meanwhile is disposed only after.
  const dir = scratch();
  const corpus = smallCorpus(dir);
  const s = Server.start(dir);
  t.after(() => s.close());
  const { runId, runDir } = await s.conn.sendRequest(P.TrainStart, { data: [corpus], runsDir: join(dir, 'runs'), overrides: tiny(20, 4) });
  await s.waitFor('train/ended', (p) => p.runId === runId);
  const checkpoints = range(4, 20, 4).map((step) => join(runDir, 'checkpoints', ckptName(step)));
  assert.ok(checkpoints.every((c) => existsSync(c)), 'five checkpoints');
  const text = readFileSync(corpus, 'utf8').slice(0, 400);
  const requests = range(0, 29).map((i) => s.conn.sendRequest(P.Analyze, { checkpoint: checkpoints[i % 5], text, window: 16, stride: 8 }));
  const settled = await Promise.allSettled(requests);
  const failures = settled.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason?.message));
  assert.deepEqual(failures, [], `${failures.length} of 30 failed`);
  settled.forEach((r, i) => {
    const a = (r as PromiseFulfilledResult<P.AnalysisResult>).value;
    assert.equal(a.checkpoint.step, 4 * ((i % 5) + 1));
    assert.equal(a.tokens.length, text.length);
  });
});

test('serve: shutdown while training writes a final checkpoint and stops the run; exit leaves', { timeout: 60_000 }, async (t) => {
  const dir = scratch();
  const corpus = smallCorpus(dir);
  const runsDir = join(dir, 'runs');
  const s = Server.start(dir);
  t.after(() => s.close());
  const { runId, runDir } = await s.conn.sendRequest(P.TrainStart, { data: [corpus], runsDir, overrides: tiny(2000, 1000) });
  await s.waitFor('train/metric', (p) => p.runId === runId && p.record.type === 'step' && p.record.step >= 3);
  await s.conn.sendRequest(P.Shutdown);
  const ended = (await s.waitFor('train/ended', (p) => p.runId === runId)).params as P.TrainEndedParams;
  assert.equal(ended.status, 'stopped');
  const S = ended.step;
  assert.ok(S >= 3 && S < 2000);
  assert.deepEqual(readdirSync(join(runDir, 'checkpoints', ckptName(S))).sort(), CKPT_FILES);
  const meta = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
  assert.deepEqual([meta.status, meta.step], ['stopped', S]);
  assert.ok(s.alive(), 'shutdown alone does not end the process');
  await s.conn.sendNotification('exit');
  const { code } = await s.exited;
  assert.equal(code, 0);
});

for (const how of ['stdin closed', 'SIGTERM'] as const)
  test(`serve: the client going away mid-run (${how}) saves a checkpoint and exits 0`, { timeout: 60_000 }, async () => {
    const dir = scratch();
    const corpus = smallCorpus(dir);
    const s = Server.start(dir);
    const { runId, runDir } = await s.conn.sendRequest(P.TrainStart, { data: [corpus], runsDir: join(dir, 'runs'), overrides: tiny(2000, 1000) });
    await s.waitFor('train/metric', (p) => p.runId === runId && p.record.type === 'step' && p.record.step >= 3);
    if (how === 'SIGTERM') s.child.kill('SIGTERM');
    else s.child.stdin.end();
    const timer = setTimeout(() => s.child.kill('SIGKILL'), 20_000);
    const { code, signal } = await s.exited;
    clearTimeout(timer);
    s.conn.dispose();
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    const meta = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    assert.equal(meta.status, 'stopped', 'the run was stopped, not left running');
    assert.ok(meta.step >= 3);
    assert.deepEqual(readdirSync(join(runDir, 'checkpoints')), [ckptName(meta.step)], 'a checkpoint at the step it stopped');
    assert.deepEqual(stepsOf(readJsonl(join(runDir, 'metrics.jsonl')), 'step'), range(1, meta.step));
  });

test('serve: SIGKILL mid-run → interrupted; resume finishes with every step recorded exactly once', { timeout: 120_000 }, async (t) => {
  const dir = scratch();
  const corpus = smallCorpus(dir);
  const runsDir = join(dir, 'runs');
  const s1 = Server.start(dir);
  // Checkpoints every 20 steps; killed a few steps after the one at 20 (the margin to the next is wide).
  const { runId, runDir } = await s1.conn.sendRequest(P.TrainStart, { data: [corpus], runsDir, overrides: tiny(40, 20) });
  await s1.waitFor('train/metric', (p) => p.runId === runId && p.record.type === 'step' && p.record.step >= 24);
  s1.child.kill('SIGKILL');
  await s1.exited;
  s1.conn.dispose();
  const metricsPath = join(runDir, 'metrics.jsonl');
  const killedLines = readFileSync(metricsPath, 'utf8').split('\n');
  const killed = readJsonl(metricsPath);
  const lastKilled = Math.max(...stepsOf(killed, 'step'));
  const C = Math.max(...readdirSync(join(runDir, 'checkpoints')).map((n) => Number(n.slice('step-'.length))));
  assert.ok(C >= 20 && C < 40, `killed mid-run (last checkpoint ${C})`);
  assert.ok(lastKilled > C, 'steps after the last checkpoint were recorded before the kill');

  const s2 = Server.start(dir);
  t.after(() => s2.close());
  let [info] = await s2.conn.sendRequest(P.ListRuns, { runsDir });
  assert.equal(info.id, runId);
  assert.equal(info.status, 'interrupted', 'a running run whose engine died is interrupted');
  assert.equal(info.checkpoints.at(-1)!.step, C);

  const resumed = await s2.conn.sendRequest(P.TrainResume, { runDir });
  assert.equal(resumed.runId, runId);
  const ended = (await s2.waitFor('train/ended', (p) => p.runId === runId)).params as P.TrainEndedParams;
  assert.deepEqual([ended.status, ended.step], ['completed', 40]);
  assertProgress(s2.of('train/progress', runId).map((p) => p.step), C + 1, 40, 'resumed from the last checkpoint');

  const after = readJsonl(metricsPath);
  assert.deepEqual(stepsOf(after, 'step'), range(1, 40), 'no gaps, no duplicates');
  assert.deepEqual(stepsOf(after, 'eval'), [10, 20, 30, 40]);
  assert.deepEqual(stepsOf(after, 'stats'), range(5, 40, 5));
  // Records up to the checkpoint are kept byte for byte; the ones after it are set aside.
  const upToC = killedLines.filter((l) => l.trim() && JSON.parse(l).step <= C);
  assert.deepEqual(readFileSync(metricsPath, 'utf8').split('\n').slice(0, upToC.length), upToC);
  const orphaned = readJsonl(join(runDir, 'metrics.orphaned.jsonl'));
  assert.deepEqual(stepsOf(orphaned, 'step'), range(C + 1, lastKilled));
  // Exact resume: the recomputed step after the checkpoint is the one that was lost.
  const lost = orphaned.find((r) => r.type === 'step' && r.step === C + 1) as P.StepRecord;
  const redo = after.find((r) => r.type === 'step' && r.step === C + 1) as P.StepRecord;
  assert.equal(redo.loss, lost.loss, `step ${C + 1} recomputed from the same state gives the same loss`);

  [info] = await s2.conn.sendRequest(P.ListRuns, { runsDir });
  assert.deepEqual([info.status, info.step], ['completed', 40]);
});

test("serve runs below the editor's CPU priority (nice 10, LDLENS_ENGINE_NICE; 0 keeps it), and a run's threads with it", { skip: process.platform !== 'linux' && 'reads /proc', timeout: 120_000 }, async () => {
  const niceOf = (pid: number, tid = pid) => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[16]);
  for (const [env, want] of [[{}, 10], [{ LDLENS_ENGINE_NICE: '0' }, 0], [{ LDLENS_ENGINE_NICE: '5' }, 5]] as const) {
    const child = spawn(process.execPath, [cliPath, 'serve'], { env: { ...process.env, LDLENS_BACKEND: 'wasm', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    conn.onNotification(() => {});
    conn.listen();
    try {
      await conn.sendRequest(P.Initialize, {});
      assert.equal(niceOf(child.pid!), want, `the engine's main thread with ${JSON.stringify(env)}`);
      if (want === 10) {
        // a short run: the threads it starts (the native kernels' pool) inherit the priority
        const dir = scratch();
        const data = smallCorpus(dir);
        const before = new Set(readdirSync(`/proc/${child.pid}/task`));
        const done = new Promise<void>((r) => conn.onNotification(P.TrainEnded, () => r()));
        await conn.sendRequest(P.TrainStart, { data: [data], runsDir: dir, overrides: { ...TINY_OVERRIDES, train: { ...TINY_OVERRIDES.train, steps: 3 } } });
        await done;
        const started = readdirSync(`/proc/${child.pid}/task`).filter((t) => !before.has(t));
        for (const t of started) assert.equal(niceOf(child.pid!, Number(t)), 10, `thread ${t} started by the run`);
      }
    } finally {
      conn.dispose();
      child.kill();
    }
  }
});
