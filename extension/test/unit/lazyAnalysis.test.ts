// The editor's side of analyses the engine keeps, against a real `ldlens serve` and a freshly
// trained checkpoint: a view built from summary chunks with masks fetched by token paints the same
// values, and builds the same hovers, as a view of the full analysis; the explorer's joined slices
// equal the full analysis; the single-unit metric fetches one site and paints the same.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import * as W from '@common/analysisWire';
import * as P from '@common/protocol';
import { cliPath, runCli, smallCorpus, tempDir, TINY_SETS } from '../../../engine/test/helpers';
import { MaskRows, SummaryAssembler, materialize } from '../../src/heatmap/lazyAnalysis';
import { computeLevels, LEVELLINGS } from '../../src/heatmap/levels';
import { AnalysisView, DEFAULT_CHOICE, type PaintChoice } from '../../src/heatmap/metrics';
import { buildHoverMarkdown } from '../../src/hover/hoverContent';
import { chanceSpread } from '../../src/hover/siteFigures';
import { meanSd } from '@common/stats';

const dir = tempDir();
const runDir = join(dir, 'run');
let corpus = '';
let conn: MessageConnection;
let stop = () => {};

before(async () => {
  const data = smallCorpus(dir, 30_000);
  corpus = readFileSync(data, 'utf8');
  const r = await runCli(['train', '--data', data, '--steps', '20', ...TINY_SETS, '--out', runDir, '--json'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  // A small reply limit, so that summaries and slices come in several chunks.
  const child = spawn(process.execPath, [cliPath, 'serve'], { env: { ...process.env, LDLENS_BACKEND: 'wasm', LDLENS_ANALYSIS_REPLY_MB: '0.0625', LDLENS_ANALYSIS_MASKS_MB: '0' }, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.onNotification(() => {});
  conn.listen();
  stop = () => {
    conn.dispose();
    child.kill();
  };
  await conn.sendRequest(P.Initialize, {});
});
after(() => {
  stop();
  rmSync(dir, { recursive: true, force: true });
});

async function kept(text: string): Promise<{ handle: W.AnalysisHandle; view: AnalysisView; rows: MaskRows }> {
  const handle = await conn.sendRequest(W.AnalysisOpen, { checkpoint: runDir, text, first: { start: 900, end: 1000 } });
  const asm = new SummaryAssembler(handle, text);
  // The first range, then the rest in chunks, as the analyzer asks for them.
  for (const [from, to] of [[handle.first!.from, handle.first!.to], [0, handle.first!.from], [handle.first!.to, handle.tokenCount]]) {
    for (let at = from; at < to; ) {
      const c = await conn.sendRequest(W.AnalysisSummaries, { id: handle.id, from: at, to });
      asm.add(c);
      at = c.to;
    }
  }
  assert.ok(asm.complete);
  const rows = new MaskRows(asm.result, (from, to, sites) => conn.sendRequest(W.AnalysisSlice, { id: handle.id, from, to, ...(sites ? { sites } : {}) }), handle.sliceChunk);
  return { handle, view: new AnalysisView(asm.result, rows), rows };
}

const CHOICES: PaintChoice[] = [
  // The default (the engine's painted column) and issue 13's statistics, chance included.
  DEFAULT_CHOICE,
  { site: { kind: 'all' }, metric: 'fraction', unit: 0, rounded: true },
  { site: { kind: 'all' }, metric: 'decided', unit: 0, rounded: true },
  { site: { kind: 'all' }, metric: 'vsChance', unit: 0, rounded: true },
  { site: { kind: 'site', name: 'transformer.h.0.attn.attn_dropout' }, metric: 'fraction', unit: 0, rounded: true },
  { site: { kind: 'site', name: 'transformer.h.0.mlp.dropout' }, metric: 'vsChance', unit: 0, rounded: true },
  { site: { kind: 'site', name: 'transformer.h.0.mlp.dropout' }, metric: 'painted', unit: 0, rounded: true },
  { site: { kind: 'all' }, metric: 'active', unit: 0, rounded: true },
  { site: { kind: 'all' }, metric: 'mean', unit: 0, rounded: false },
  { site: { kind: 'site', name: 'transformer.h.0.mlp.dropout' }, metric: 'active', unit: 0, rounded: false },
  { site: { kind: 'site', name: 'transformer.h.0.attn.attn_dropout' }, metric: 'mean', unit: 0, rounded: true },
];

test('a view from summary chunks paints the same values and builds the same hovers as the full analysis', async () => {
  const text = corpus.slice(2000, 5000);
  const full = new AnalysisView(await conn.sendRequest(P.Analyze, { checkpoint: runDir, text }));
  const { view, handle } = await kept(text);
  assert.equal(view.tokenCount, full.tokenCount);
  assert.deepEqual(view.analysis.tokens, full.analysis.tokens);
  assert.deepEqual(view.analysis.surprisal.map((v) => (v === null ? null : Math.fround(v))), full.analysis.surprisal.map((v) => (v === null ? null : Math.fround(v))));
  assert.equal(view.analysis.crossEntropy, full.analysis.crossEntropy);
  // The engine's painted column and its definition arrive with the summaries, as in a full analysis.
  assert.ok(full.analysis.painted && full.analysis.paintedBy, 'the full analysis paints the engine\'s value');
  assert.deepEqual(Array.from(view.analysis.painted!), full.analysis.painted);
  assert.deepEqual(view.analysis.paintedBy, full.analysis.paintedBy);
  full.analysis.layers.forEach((l, k) => {
    const v = view.analysis.layers[k];
    assert.deepEqual(Array.from(v.fraction!), l.fraction, `fraction at ${l.site}`);
    assert.deepEqual(Array.from(v.decided!), l.decided, `decided at ${l.site}`);
    assert.ok(l.chance, `chance at ${l.site}`);
    for (const f of ['active', 'fraction', 'mean', 'decided'] as const) assert.deepEqual(Array.from(v.chance![f]), l.chance[f], `chance.${f} at ${l.site}`);
  });
  for (const choice of CHOICES) {
    assert.deepEqual(view.values(choice), full.values(choice), JSON.stringify(choice));
    assert.deepEqual(view.explain(choice), full.explain(choice), JSON.stringify(choice));
    for (const levelling of LEVELLINGS) assert.deepEqual(view.levels(choice, levelling), full.levels(choice, levelling), `${levelling} ${JSON.stringify(choice)}`);
  }
  for (const index of [0, 1, 77, 1500, full.tokenCount - 1]) {
    for (const choice of CHOICES) {
      await view.fetchRows(index, index + 1);
      const input = { index, choice, uri: 'file:///x.txt' };
      assert.equal(buildHoverMarkdown({ ...input, view }), buildHoverMarkdown({ ...input, view: full }), `token ${index}, ${JSON.stringify(choice)}`);
    }
  }
  await conn.sendRequest(W.AnalysisRelease, { id: handle.id });
});

test('an analysis still arriving: tokens not received have no value, spreads and levels count the received ones only', async () => {
  // As Analyze Document paints the visible lines first: only the first range received. Columns are
  // allocated zeroed (not NaN-filled) for speed, so the view must tell the missing tokens itself.
  const text = corpus.slice(2000, 5000);
  const full = new AnalysisView(await conn.sendRequest(P.Analyze, { checkpoint: runDir, text }));
  const handle = await conn.sendRequest(W.AnalysisOpen, { checkpoint: runDir, text, first: { start: 900, end: 1400 } });
  const asm = new SummaryAssembler(handle, text);
  const { from, to } = handle.first!;
  assert.ok(from > 0 && to < handle.tokenCount && to - from > 100, `a first range inside the text (${from}–${to})`);
  for (let at = from; at < to; ) {
    const c = await conn.sendRequest(W.AnalysisSummaries, { id: handle.id, from: at, to });
    asm.add(c);
    at = c.to;
  }
  assert.ok(!asm.complete);
  const part = new AnalysisView(asm.result);
  const inRange = (i: number) => i >= from && i < to;
  for (const choice of CHOICES.filter((c) => c.metric !== 'unit')) {
    const got = part.values(choice).values, want = full.values(choice).values;
    const wrong = Array.from(got).findIndex((v, i) => (inRange(i) ? !Object.is(v, want[i]) : !Number.isNaN(v)));
    assert.equal(wrong, -1, `${JSON.stringify(choice)}: token ${wrong} has ${got[wrong]} (full analysis ${want[wrong]}, received ${from}–${to})`);
    // Levels shaped by the received tokens alone, as by the full analysis's values over that range.
    const masked = Float32Array.from(want, (v, i) => (inRange(i) ? v : NaN));
    for (const levelling of LEVELLINGS) assert.deepEqual(part.levels(choice, levelling), computeLevels(masked, levelling), `${levelling} ${JSON.stringify(choice)}`);
  }
  // The hover's "chance ± sd": over the received tokens, not zeros for the others.
  full.analysis.layers.forEach((l, k) => {
    const got = chanceSpread(asm.result.layers[k], asm.result.tokens)!;
    const want = meanSd(l.chance!.fraction.slice(from, to));
    assert.ok(Math.abs(got.mean - want.mean) < 1e-9 && Math.abs(got.sd - want.sd) < 1e-9, `${l.site}: ${got.mean} ± ${got.sd}, want ${want.mean} ± ${want.sd}`);
  });
  await conn.sendRequest(W.AnalysisRelease, { id: handle.id });
});

test('the explorer joins bounded slices into the full analysis; the single-unit metric fetches one site', async () => {
  const text = corpus.slice(7000, 9000);
  const fullResult = await conn.sendRequest(P.Analyze, { checkpoint: runDir, text });
  const { view, handle } = await kept(text);
  assert.ok(handle.sliceChunk < handle.tokenCount, 'several slices');
  assert.deepEqual(await materialize(view.analysis, view.rows!.source, 0, handle.tokenCount), fullResult);
  const part = await materialize(view.analysis, view.rows!.source, 100, 300);
  assert.deepEqual(part.tokens, fullResult.tokens.slice(100, 300));
  assert.deepEqual(part.layers[2].mean, fullResult.layers[2].mean.slice(100, 300));
  const unit: PaintChoice = { site: { kind: 'site', name: 'transformer.h.0.mlp.dropout' }, metric: 'unit', unit: 7, rounded: false };
  await view.prepare(unit);
  assert.deepEqual(view.values(unit), new AnalysisView(fullResult).values(unit));
  await assert.rejects(view.prepare({ ...unit, site: { kind: 'site', name: 'transformer.h.0.attn.attn_dropout' } }, 1000), /more than the 0 MB the editor keeps|painting one unit needs/);
  await conn.sendRequest(W.AnalysisRelease, { id: handle.id });
});
