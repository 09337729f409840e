// analysis/* (common/analysisWire.ts) on a real `ldlens serve` with a freshly trained checkpoint:
// summaries and lazily fetched masks are compared with a full `analyze` of the same text, with
// masks kept and with masks recomputed (a mask limit of 0); bounded replies, release, eviction,
// refusals of what cannot fit, and an analysis answered while a run trains.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createMessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import * as W from '@common/analysisWire';
import * as P from '@common/protocol';
import { cliPath, runCli, smallCorpus, tempDir, TINY_SETS } from './helpers';

const dir = tempDir();
const runDir = join(dir, 'run');
let corpus = '';
after(() => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  const data = smallCorpus(dir, 30_000);
  corpus = readFileSync(data, 'utf8');
  // Checkpoints at steps 5, 10, 15 and 20: more than the engine's model cache holds (3).
  const r = await runCli(['train', '--data', data, '--steps', '20', ...TINY_SETS, '--set', 'train.checkpointInterval=5', '--out', runDir, '--json'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
});

function serve(env: NodeJS.ProcessEnv = {}): { conn: MessageConnection; close: () => void } {
  const child = spawn(process.execPath, [cliPath, 'serve'], { env: { ...process.env, LDLENS_BACKEND: 'wasm', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.onNotification(() => {});
  conn.listen();
  return {
    conn,
    close: () => {
      conn.dispose();
      child.kill();
    },
  };
}

/** Every summary chunk of an analysis, in order, as one array per column key (`site:name`). */
async function allSummaries(conn: MessageConnection, h: W.AnalysisHandle, chunk?: number): Promise<{ cols: Map<string, number[]>; last: W.SummaryChunk }> {
  const cols = new Map<string, number[]>();
  let last: W.SummaryChunk | undefined;
  for (let from = 0; from < h.tokenCount; ) {
    last = await conn.sendRequest(W.AnalysisSummaries, { id: h.id, from, to: chunk ? from + chunk : h.tokenCount });
    assert.equal(last.from, from);
    assert.ok(last.to > from && last.to <= h.tokenCount);
    for (const c of last.columns) {
      const key = `${c.site}:${c.name}`;
      cols.set(key, [...(cols.get(key) ?? []), ...decodeFloat32(c.data)]);
    }
    from = last.to;
  }
  return { cols, last: last! };
}

function decodeFloat32(data: string): Float32Array {
  const b = Buffer.from(data, 'base64');
  return new Float32Array(new Uint8Array(b).buffer);
}

function compareSummaries(full: P.AnalysisResult, cols: Map<string, number[]>): void {
  const f = Math.fround;
  assert.deepEqual(cols.get('-1:id'), full.tokens.map((t) => t.id));
  assert.deepEqual(cols.get('-1:start'), full.tokens.map((t) => t.start));
  assert.deepEqual(cols.get('-1:end'), full.tokens.map((t) => t.end));
  assert.deepEqual(cols.get('-1:surprisal'), full.surprisal.map((v) => (v === null ? NaN : f(v))));
  // Issue 13's statistics: the painted value, kept fraction, decidedness and the chance baseline.
  assert.ok(full.painted && full.painted.length === full.tokens.length, 'the full analysis has painted values');
  assert.deepEqual(cols.get('-1:painted'), full.painted.map(f));
  full.layers.forEach((l, k) => {
    assert.deepEqual(cols.get(`${k}:active`), l.active, `active at ${l.site}`);
    assert.deepEqual(cols.get(`${k}:mean`), l.mean.map(f), `mean at ${l.site}`);
    if (l.keys) assert.deepEqual(cols.get(`${k}:keys`), l.keys, `keys at ${l.site}`);
    assert.deepEqual(cols.get(`${k}:fraction`), l.fraction!.map(f), `fraction at ${l.site}`);
    assert.deepEqual(cols.get(`${k}:decided`), l.decided!.map(f), `decided at ${l.site}`);
    assert.ok(l.chance, `chance at ${l.site}`);
    assert.deepEqual(cols.get(`${k}:chance.active`), l.chance.active, `chance.active at ${l.site}`);
    for (const c of ['fraction', 'mean', 'decided'] as const) assert.deepEqual(cols.get(`${k}:chance.${c}`), l.chance[c].map(f), `chance.${c} at ${l.site}`);
  });
}

/** The full analysis's tokens [from, to), as a slice should give them. */
function expectedSlice(full: P.AnalysisResult, from: number, to: number): P.AnalysisResult {
  return {
    ...full,
    tokens: full.tokens.slice(from, to),
    surprisal: full.surprisal.slice(from, to),
    layers: full.layers.map((l, k) => {
      const u = full.sites[k].units;
      return {
        site: l.site,
        masks: Buffer.from(l.masks, 'base64').subarray(from * u, to * u).toString('base64'),
        active: l.active.slice(from, to),
        mean: l.mean.slice(from, to),
        ...(l.keys ? { keys: l.keys.slice(from, to) } : {}),
        fraction: l.fraction!.slice(from, to),
        decided: l.decided!.slice(from, to),
        chance: { active: l.chance!.active.slice(from, to), fraction: l.chance!.fraction.slice(from, to), mean: l.chance!.mean.slice(from, to), decided: l.chance!.decided.slice(from, to) },
      };
    }),
    painted: full.painted!.slice(from, to),
  };
}

for (const [label, env] of [
  ['masks kept', {}],
  ['masks recomputed', { LDLENS_ANALYSIS_MASKS_MB: '0' }],
] as const) {
  test(`analysis/open: summaries and lazily fetched masks equal a full analysis (${label})`, async () => {
    const { conn, close } = serve(env);
    try {
      await conn.sendRequest(P.Initialize, {});
      const text = corpus.slice(1000, 4000);
      const full = await conn.sendRequest(P.Analyze, { checkpoint: runDir, text });
      const h = await conn.sendRequest(W.AnalysisOpen, { checkpoint: runDir, text, first: { start: 2000, end: 2100 } });
      assert.equal(h.tokenCount, full.tokens.length);
      assert.equal(h.masksStored, label === 'masks kept');
      assert.deepEqual(h.sites, full.sites);
      assert.deepEqual(h.paintedBy, full.paintedBy);
      assert.ok(h.first && h.first.from <= 2000 && h.first.to >= 2100 && full.tokens[h.first.from].end > 2000 && full.tokens[h.first.to - 1].start < 2100);
      // The first range answers before the rest: its own request.
      const firstChunk = await conn.sendRequest(W.AnalysisSummaries, { id: h.id, from: h.first.from, to: h.first.to });
      assert.equal(firstChunk.to, h.first.to);
      const { cols, last } = await allSummaries(conn, h, 1000);
      compareSummaries(full, cols);
      assert.equal(last.complete, true);
      assert.equal(last.crossEntropy, full.crossEntropy);
      // One token (a hover), a run of rows (the explorer), the very end, one site.
      for (const [from, to] of [
        [0, 1],
        [137, 138],
        [500, 900],
        [full.tokens.length - 3, full.tokens.length],
      ]) {
        const s = await conn.sendRequest(W.AnalysisSlice, { id: h.id, from, to });
        assert.deepEqual(s, expectedSlice(full, from, to), `tokens ${from}–${to}`);
      }
      const mlp = full.sites.find((s) => s.kind === 'mlp')!;
      const one = await conn.sendRequest(W.AnalysisSlice, { id: h.id, from: 10, to: 20, sites: [mlp.name] });
      const k = full.sites.indexOf(mlp);
      assert.deepEqual(one.sites, [mlp]);
      assert.deepEqual(one.layers, [expectedSlice(full, 10, 20).layers[k]]);
      assert.deepEqual(await conn.sendRequest(W.AnalysisRelease, { id: h.id }), { released: true });
      await assert.rejects(conn.sendRequest(W.AnalysisSummaries, { id: h.id, from: 0, to: 1 }), (e: ResponseError<unknown>) => e.code === P.EngineErrorCode.NotFound && /analyze the text again/.test(e.message));
    } finally {
      close();
    }
  });
}

test('analysis replies are bounded: chunks stop at the reply limit; bad ranges and unknown sites are refused; the engine stays alive', async () => {
  const { conn, close } = serve({ LDLENS_ANALYSIS_REPLY_MB: '0.0625' }); // 64 KiB a reply
  try {
    await conn.sendRequest(P.Initialize, {});
    const text = corpus.slice(0, 20_000);
    const h = await conn.sendRequest(W.AnalysisOpen, { checkpoint: runDir, text });
    const c = await conn.sendRequest(W.AnalysisSummaries, { id: h.id, from: 0, to: h.tokenCount });
    assert.equal(c.to - c.from, h.summaryChunk);
    assert.ok(h.summaryChunk < h.tokenCount);
    assert.ok(JSON.stringify(c).length < 100_000);
    const s = await conn.sendRequest(W.AnalysisSlice, { id: h.id, from: 0, to: h.tokenCount });
    assert.equal(s.tokens.length, h.sliceChunk);
    await assert.rejects(conn.sendRequest(W.AnalysisSlice, { id: h.id, from: 5, to: 2 }), (e: ResponseError<unknown>) => e.code === P.EngineErrorCode.BadInput && /not within/.test(e.message));
    await assert.rejects(conn.sendRequest(W.AnalysisSlice, { id: h.id, from: 0, to: 1, sites: ['nope'] }), (e: ResponseError<unknown>) => e.code === P.EngineErrorCode.BadInput && /unknown site: nope/.test(e.message));
    assert.equal((await conn.sendRequest(W.AnalysisSummaries, { id: h.id, from: h.tokenCount - 1, to: h.tokenCount })).to, h.tokenCount);
  } finally {
    close();
  }
});

test('the store evicts the least recently used analysis to stay within its limit, and refuses one that alone would not fit', async () => {
  // 2 MB: a 10,000-character analysis (~0.54 MB of summaries with its masks recomputed) fits three times.
  const { conn, close } = serve({ LDLENS_ANALYSIS_STORE_MB: '2', LDLENS_ANALYSIS_MASKS_MB: '0' });
  try {
    await conn.sendRequest(P.Initialize, {});
    const text = corpus.slice(0, 10_000);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await conn.sendRequest(W.AnalysisOpen, { checkpoint: runDir, text })).id);
    await assert.rejects(conn.sendRequest(W.AnalysisSummaries, { id: ids[0], from: 0, to: 1 }), (e: ResponseError<unknown>) => e.code === P.EngineErrorCode.NotFound);
    const latest = await conn.sendRequest(W.AnalysisSummaries, { id: ids[4], from: 0, to: 10 });
    assert.equal(latest.to, 10);
    const huge = 'a'.repeat(2_000_000);
    await assert.rejects(
      conn.sendRequest(W.AnalysisOpen, { checkpoint: runDir, text: huge }),
      (e: ResponseError<unknown>) => e.code === P.EngineErrorCode.BadInput && /too large to analyze: 2,000,000 characters need about \d+ MB .* limit of 2 MB/.test(e.message),
    );
    // The classic analyze refuses, up front, a reply that could not be serialized.
    await assert.rejects(
      conn.sendRequest(P.Analyze, { checkpoint: runDir, text: 'a'.repeat(3_000_000) }),
      (e: ResponseError<unknown>) => e.code === P.EngineErrorCode.BadInput && /MB of JSON, more than the 256 MB one reply may carry; analysis\/open/.test(e.message),
    );
    assert.equal((await conn.sendRequest(W.AnalysisSummaries, { id: ids[4], from: 10, to: 20 })).to, 20);
  } finally {
    close();
  }
});

test('while a run trains, the first range of an analysis answers before the run ends', async () => {
  const { conn, close } = serve();
  try {
    await conn.sendRequest(P.Initialize, {});
    const data = smallCorpus(dir, 30_000, 'train2.txt');
    let ended = false;
    conn.onNotification(P.TrainEnded, () => (ended = true));
    const run = await conn.sendRequest(P.TrainStart, { data: [data], runsDir: join(dir, 'runs'), overrides: { model: { blockSize: 32, nEmbd: 32, nHead: 2, nLayer: 1 }, train: { steps: 100000, batchSize: 4, evalInterval: 100000, checkpointInterval: 100000, statsInterval: 100000 } } });
    const text = corpus.slice(0, 20_000);
    const h = await conn.sendRequest(W.AnalysisOpen, { checkpoint: runDir, text, first: { start: 10_000, end: 11_000 } });
    const c = await conn.sendRequest(W.AnalysisSummaries, { id: h.id, from: h.first!.from, to: h.first!.to });
    assert.equal(c.to, h.first!.to);
    assert.equal(ended, false, 'the run (100,000 steps) was still training');
    await conn.sendRequest(P.TrainStop, { runId: run.runId });
  } finally {
    close();
  }
});

test('ldlens analyze refuses, before analyzing, a text whose JSON would not fit one reply, naming the size', async () => {
  const file = join(dir, 'huge.txt');
  writeFileSync(file, 'ab'.repeat(1_500_000));
  const r = await runCli(['analyze', '--checkpoint', runDir, '--file', file, '--json'], { timeoutMs: 60_000 });
  assert.equal(r.code, 2);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(last.event, 'error');
  assert.match(last.message, /the analysis of 3,000,000 characters would take about [\d,]+ MB of JSON, more than the 256 MB one reply may carry; analyze a part of it/);
  // A small text still prints its whole analysis.
  const ok = await runCli(['analyze', '--checkpoint', runDir, '--text', 'First Citizen:', '--json'], { timeoutMs: 60_000 });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).tokens.length, 14);
});

test("a kept analysis survives its model being evicted from the engine's model cache (masks recomputed)", async () => {
  const { conn, close } = serve({ LDLENS_ANALYSIS_MASKS_MB: '0' });
  try {
    await conn.sendRequest(P.Initialize, {});
    const step = (n: number) => join(runDir, 'checkpoints', `step-${String(n).padStart(6, '0')}`);
    const text = corpus.slice(500, 2500);
    const full = await conn.sendRequest(P.Analyze, { checkpoint: step(5), text });
    const h = await conn.sendRequest(W.AnalysisOpen, { checkpoint: step(5), text });
    await conn.sendRequest(W.AnalysisSummaries, { id: h.id, from: 0, to: 1 });
    // Three other checkpoints fill the cache: step 5's model is disposed.
    for (const n of [10, 15, 20]) await conn.sendRequest(P.Analyze, { checkpoint: step(n), text: 'First Citizen:' });
    const s = await conn.sendRequest(W.AnalysisSlice, { id: h.id, from: 300, to: 340 });
    assert.deepEqual(s, expectedSlice(full, 300, 340));
    const { cols } = await allSummaries(conn, h);
    compareSummaries(full, cols);
  } finally {
    close();
  }
});

test('a slice whose masks are being recomputed when its analysis is released is refused as released (NotFound), and the engine stays alive', async () => {
  const { conn, close } = serve({ LDLENS_ANALYSIS_MASKS_MB: '0' });
  try {
    await conn.sendRequest(P.Initialize, {});
    const text = corpus.slice(0, 20_000);
    const h = await conn.sendRequest(W.AnalysisOpen, { checkpoint: runDir, text });
    const { last } = await allSummaries(conn, h);
    assert.equal(last.complete, true);
    // Many batches to recompute: the release lands between two of them.
    const slice = conn.sendRequest(W.AnalysisSlice, { id: h.id, from: 0, to: h.sliceChunk });
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await conn.sendRequest(W.AnalysisRelease, { id: h.id }), { released: true });
    await assert.rejects(slice, (e: ResponseError<unknown>) => e.code === P.EngineErrorCode.NotFound && /analyze the text again/.test(e.message));
    const again = await conn.sendRequest(P.Analyze, { checkpoint: runDir, text: 'First Citizen:' });
    assert.ok(again.tokens.length > 0, 'the engine still answers');
  } finally {
    close();
  }
});

test("a released analysis's memory serves the next ones (bufferPool.ts): their summaries and masks equal full analyses, short texts' unused mask units zero", async () => {
  const { conn, close } = serve();
  try {
    await conn.sendRequest(P.Initialize, {});
    // Each text is opened after the previous one's release (the first released at once, while it
    // computes), so each takes the buffers the previous one gave back. The 20-character texts are
    // shorter than a window (32 tokens here): their attention masks fill 20 of each row's 32 units,
    // and the rest of a buffer that held a longer analysis must read as zeros.
    let previous: W.AnalysisHandle | undefined;
    for (const [j, [at, len]] of [
      [1000, 1000],
      [5000, 1000],
      [100, 20],
      [300, 20],
    ].entries()) {
      const text = corpus.slice(at, at + len);
      if (previous) assert.deepEqual(await conn.sendRequest(W.AnalysisRelease, { id: previous.id }), { released: true });
      const h = (previous = await conn.sendRequest(W.AnalysisOpen, { checkpoint: runDir, text }));
      if (j === 0) continue;
      const full = await conn.sendRequest(P.Analyze, { checkpoint: runDir, text });
      const { cols, last } = await allSummaries(conn, h);
      compareSummaries(full, cols);
      assert.equal(last.crossEntropy, full.crossEntropy);
      const s = await conn.sendRequest(W.AnalysisSlice, { id: h.id, from: 0, to: h.tokenCount });
      const want = expectedSlice(full, 0, h.tokenCount);
      // the masks first, by string: assert's diff of two long base64 strings takes minutes
      want.layers.forEach((l, k) => assert.ok(s.layers[k].masks === l.masks, `${len} characters at ${at}: masks at ${l.site} differ`));
      assert.deepEqual(s, want, `${len} characters at ${at}`);
    }
  } finally {
    close();
  }
});
