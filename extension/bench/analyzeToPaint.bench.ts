// Benchmark: Analyze Document to paint, as the extension does it (analyzer.ts), against a real
// engine process (`dist/engine/cli.js serve`) and a checkpoint: analysis/open with the visible
// lines first, summary chunks into a SummaryAssembler, then the paint pipeline of
// painter.ts paintEditor (spans → line/character positions → colour levels). VS Code's own
// setDecorations is not included (the e2e suite measures it). Scenarios:
//   doc20k   a 20,000-character document, idle engine: visible range and full paint;
//   training a 2,000-line document while a `tiny` run trains in the same engine: first paint;
//   doc2mb   a 2,000,000-character document painted whole, with the extension process's and the
//            engine's memory (peak RSS).
// Usage: node --import tsx extension/bench/analyzeToPaint.bench.ts --checkpoint DIR --data FILE
//          [--scenarios doc20k,training,doc2mb] [--runs 3] [--json]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import * as W from '@common/analysisWire';
import * as P from '@common/protocol';
import { LEVELS, levelOf } from '../src/heatmap/colors';
import { SummaryAssembler } from '../src/heatmap/lazyAnalysis';
import { AnalysisView, DEFAULT_CHOICE } from '../src/heatmap/metrics';
import { LineIndex, paintSpans } from '../src/heatmap/offsets';

const { values: o } = parseArgs({ options: { checkpoint: { type: 'string' }, data: { type: 'string' }, scenarios: { type: 'string' }, runs: { type: 'string' }, json: { type: 'boolean' } } });
if (!o.checkpoint || !o.data) {
  console.error('usage: analyzeToPaint.bench.ts --checkpoint DIR --data FILE [--scenarios doc20k,training,doc2mb] [--runs 3] [--json]');
  process.exit(2);
}
const root = join(__dirname, '../..');
const corpus = readFileSync(o.data, 'utf8');
const scenarios = (o.scenarios ?? 'doc20k,training,doc2mb').split(',');
const runs = Number(o.runs ?? 3);
/** What the analyzer asks first: the visible lines (a 60-line screen) and 10 lines of margin each side. */
const VISIBLE_LINES = 60 + 2 * 10;

function engine(): { conn: MessageConnection; pid: number; close: () => void } {
  const child = spawn(process.execPath, [join(root, 'dist/engine/cli.js'), 'serve'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.onNotification(() => {});
  conn.listen();
  return { conn, pid: child.pid!, close: () => (conn.dispose(), child.kill()) };
}

/** Peak and current resident memory of a process (MB), from /proc. */
function procMemory(pid: number): { peakRssMb: number; rssMb: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
    return { peakRssMb: Math.round(kb('VmHWM') / 1024), rssMb: Math.round(kb('VmRSS') / 1024) };
  } catch {
    return null;
  }
}

/**
 * The paint of painter.ts paintEditor, minus VS Code: spans, then neighbouring tokens of
 * one colour level joined into one range (line/character positions), per level. Returns the
 * tokens painted and the ranges made.
 */
function paint(text: string, a: P.AnalysisResult): { painted: number; ranges: number } {
  const view = new AnalysisView(a);
  const spans = paintSpans(text, a.tokens);
  const idx = new LineIndex(text);
  const buckets: number[][] = Array.from({ length: LEVELS }, () => []);
  const { values, domain } = view.values(DEFAULT_CHOICE);
  let painted = 0, ranges = 0, runLevel = -1, runStart = 0, runEnd = -1;
  const flush = () => {
    if (runLevel < 0) return;
    const p = idx.positionAt(runStart);
    const q = idx.positionAt(runEnd);
    buckets[runLevel].push(p.line, p.character, q.line, q.character);
    ranges++;
  };
  for (let i = 0; i < spans.starts.length; i++) {
    const s = spans.starts[i], e = spans.ends[i];
    if (e <= s) continue;
    painted++;
    const level = levelOf(values[i], domain[0], domain[1]);
    if (level === runLevel && s === runEnd) {
      runEnd = e;
      continue;
    }
    flush();
    runLevel = level;
    runStart = s;
    runEnd = e;
  }
  flush();
  return { painted, ranges };
}

/** One Analyze Document: ms to the visible paint and to the full paint. */
async function analyzeToPaint(conn: MessageConnection, checkpoint: string, text: string, full = true) {
  const t0 = performance.now();
  const lineEnd = (n: number) => {
    let at = 0;
    for (let l = 0; l < n && at >= 0; l++) at = text.indexOf('\n', at) + 1 || -1;
    return at < 0 ? text.length : at;
  };
  const h = await conn.sendRequest(W.AnalysisOpen, { checkpoint, text, first: { start: 0, end: lineEnd(VISIBLE_LINES) } });
  const asm = new SummaryAssembler(h, text);
  const fetch = async (from: number, to: number) => {
    for (let at = from; at < to; ) {
      const c = await conn.sendRequest(W.AnalysisSummaries, { id: h.id, from: at, to });
      asm.add(c);
      at = c.to;
    }
  };
  await fetch(h.first!.from, h.first!.to);
  const visiblePainted = paint(text, asm.result).painted;
  const visibleMs = performance.now() - t0;
  let fullMs: number | null = null;
  let ranges: number | null = null;
  if (full) {
    for (let at = h.first!.to; at < h.tokenCount; at = Math.min(h.tokenCount, at + h.summaryChunk)) await fetch(at, Math.min(h.tokenCount, at + h.summaryChunk));
    const p = paint(text, asm.result);
    fullMs = performance.now() - t0;
    ranges = p.ranges;
    if (p.painted !== h.tokenCount) throw new Error(`painted ${p.painted} of ${h.tokenCount} tokens`);
  }
  await conn.sendRequest(W.AnalysisRelease, { id: h.id });
  return { tokens: h.tokenCount, visibleTokens: visiblePainted, visibleMs: Math.round(visibleMs), fullMs: fullMs === null ? null : Math.round(fullMs), ranges, masksStored: h.masksStored, engineBytes: h.bytes };
}

const spread = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[s.length >> 1], min: s[0], max: s[s.length - 1], runs: s.length };
};

void (async () => {
  const out: Record<string, unknown> = {};
  const at = Math.floor(corpus.length / 3);
  if (scenarios.includes('doc20k')) {
    const e = engine();
    try {
      await e.conn.sendRequest(P.Initialize, {});
      const text = corpus.slice(at, at + 20_000);
      await analyzeToPaint(e.conn, o.checkpoint!, text); // loads the checkpoint
      const rs = [];
      for (let r = 0; r < runs; r++) rs.push(await analyzeToPaint(e.conn, o.checkpoint!, text));
      out.doc20k = { chars: text.length, tokens: rs[0].tokens, ranges: rs[0].ranges, visibleTokens: rs[0].visibleTokens, visibleMs: spread(rs.map((r) => r.visibleMs)), fullMs: spread(rs.map((r) => r.fullMs!)) };
    } finally {
      e.close();
    }
  }
  if (scenarios.includes('training')) {
    const e = engine();
    try {
      await e.conn.sendRequest(P.Initialize, {});
      const lines = corpus.slice(at).split('\n').slice(0, 2000).join('\n');
      await analyzeToPaint(e.conn, o.checkpoint!, lines.slice(0, 2000), false); // loads the checkpoint
      const run = await e.conn.sendRequest(P.TrainStart, { data: [o.data!], runsDir: join(root, 'bench-results', 'training-bench-runs'), preset: 'tiny', overrides: { train: { steps: 100000, evalInterval: 100000, checkpointInterval: 100000 } } });
      await new Promise((r) => setTimeout(r, 3000)); // training under way
      const rs = [];
      for (let r = 0; r < runs; r++) rs.push(await analyzeToPaint(e.conn, o.checkpoint!, lines, false));
      await e.conn.sendRequest(P.TrainStop, { runId: run.runId });
      out.duringTraining = { lines: 2000, chars: lines.length, tokens: rs[0].tokens, visibleTokens: rs[0].visibleTokens, firstPaintMs: spread(rs.map((r) => r.visibleMs)), goalMs: 2000 };
    } finally {
      e.close();
    }
  }
  if (scenarios.includes('doc2mb')) {
    const e = engine();
    try {
      await e.conn.sendRequest(P.Initialize, {});
      let text = '';
      while (text.length < 2_000_000) text += corpus;
      text = text.slice(0, 2_000_000);
      const before = procMemory(process.pid);
      const r = await analyzeToPaint(e.conn, o.checkpoint!, text);
      global.gc?.();
      out.doc2mb = {
        chars: text.length,
        tokens: r.tokens,
        visibleMs: r.visibleMs,
        fullMs: r.fullMs,
        ranges: r.ranges,
        masksStored: r.masksStored,
        engineStoreMb: Math.round(r.engineBytes / 2 ** 20),
        engine: procMemory(e.pid),
        extension: { before, after: procMemory(process.pid), heapUsedMb: Math.round(process.memoryUsage().heapUsed / 2 ** 20) },
        limits: 'engine store ≤ 512 MB (LDLENS_ANALYSIS_STORE_MB); replies ≤ 8 MB of columns or masks',
      };
    } finally {
      e.close();
    }
  }
  if (o.json) console.log(JSON.stringify(out));
  else console.log(JSON.stringify(out, null, 1));
  process.exit(0);
})();
