// Painted spans computed chunk by chunk as an analysis arrives (the visible range first, then the
// rest; chunk edges anywhere, inside clusters too) are the spans `paintSpans` gives for the whole
// analysis at once, and the work yields to the event loop instead of holding the thread.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IncrementalSpans } from '../../src/heatmap/incrementalSpans';
import { paintSpans, tokenAt, type TokenSpan } from '../../src/heatmap/offsets';
import { codePointTokens, codeUnitTokens, mix } from './mixedText';

/** Chunk edges for `n` tokens: a deterministic random cut every 1 to `maxChunk` tokens. */
function chunkEdges(n: number, maxChunk: number, seed: number): number[] {
  const edges = [0];
  let x = seed >>> 0 || 1;
  while (edges[edges.length - 1] < n) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    edges.push(Math.min(n, edges[edges.length - 1] + 1 + (x % maxChunk)));
  }
  return edges;
}

/** Adds the chunks as the analyzer receives them: one chunk in the middle (the visible range) first, then the others in order. */
async function addVisibleFirst(spans: IncrementalSpans, tokens: readonly TokenSpan[], edges: number[]): Promise<void> {
  const v = edges.length >> 1;
  const order = [v - 1, ...Array.from({ length: edges.length - 1 }, (_, k) => k).filter((k) => k !== v - 1)];
  for (const k of order) await spans.add(tokens, edges[k], edges[k + 1]);
}

function painted(text: string, s: Int32Array, e: Int32Array): string[] {
  return Array.from(s, (x, i) => text.slice(x, e[i]));
}

describe('IncrementalSpans', () => {
  it('equals paintSpans of the whole analysis on mixed texts, chunk edges anywhere (code-point tokens)', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const text = mix(600 + seed * 97, seed);
      const toks = codePointTokens(text);
      const ref = paintSpans(text, toks);
      const spans = new IncrementalSpans(text, 0, toks.length);
      await addVisibleFirst(spans, toks, chunkEdges(toks.length, 1 + (seed % 7) * 9, seed));
      assert.ok(spans.complete);
      const got = spans.snapshot();
      assert.deepEqual(got.starts, ref.starts, `seed ${seed}: starts`);
      assert.deepEqual(got.ends, ref.ends, `seed ${seed}: ends`);
    }
  });

  it('equals paintSpans with tokens that cut surrogate pairs and clusters (byte-level BPE), and for a selection (base > 0)', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const doc = mix(3000, seed + 100);
      // The selection starts and ends anywhere, e.g. on a combining mark whose base lies before it.
      const base = (seed * 131) % 500, end = doc.length - ((seed * 71) % 400);
      const toks = codeUnitTokens(doc.slice(base, end), seed);
      const ref = paintSpans(doc, toks, base);
      const spans = new IncrementalSpans(doc, base, toks.length);
      await addVisibleFirst(spans, toks, chunkEdges(toks.length, 40, seed));
      const got = spans.snapshot();
      assert.deepEqual(got.starts, ref.starts, `seed ${seed}: starts`);
      assert.deepEqual(got.ends, ref.ends, `seed ${seed}: ends`);
    }
  });

  it('keeps whole graphemes across a chunk edge: a cluster split between two chunks is painted once, by its first token', async () => {
    // e + U+0301, a ZWJ family, a skin tone, a flag, a Malayalam conjunct: each cut by a chunk edge.
    const text = 'ae\u0301b👨‍👩‍👧c👍🏽d🇫🇷eക്ഷf\r\ng';
    const toks = codePointTokens(text);
    const cpIndex = (s: string) => Array.from(text).indexOf(s);
    const cuts = [cpIndex('\u0301'), cpIndex('👩') - 1, cpIndex('🏽'), cpIndex('🇫') + 1, cpIndex('്'), cpIndex('\n')];
    const edges = [0, ...cuts, toks.length];
    const spans = new IncrementalSpans(text, 0, toks.length);
    for (let k = edges.length - 2; k >= 0; k--) await spans.add(toks, edges[k], edges[k + 1]); // last chunk first
    const p = spans.snapshot();
    assert.deepEqual(painted(text, p.starts, p.ends).filter((s) => s), ['a', 'e\u0301', 'b', '👨‍👩‍👧', 'c', '👍🏽', 'd', '🇫🇷', 'e', 'ക്ഷ', 'f', '\r', '\n', 'g']);
  });

  it('tokens not received yet get empty spans that keep the starts sorted (hovers find the received ones)', async () => {
    const text = mix(5000, 3);
    const toks = codePointTokens(text);
    const spans = new IncrementalSpans(text, 0, toks.length);
    const from = Math.floor(toks.length / 2), to = from + 300;
    await spans.add(toks, from, to);
    assert.ok(!spans.complete);
    const { starts, ends } = spans.snapshot();
    const ref = paintSpans(text, toks);
    for (let i = 0; i < toks.length; i++) {
      if (i > 0) assert.ok(starts[i] >= starts[i - 1], `sorted at ${i}`);
      if (i < from || i >= to) assert.equal(starts[i], ends[i], `token ${i} not received: empty`);
    }
    // Received tokens paint as in the whole analysis, except a cluster its first token (not received) would paint.
    for (let i = from + 1; i < to; i++) {
      assert.equal(ends[i], ref.ends[i], `token ${i}`);
      if (ref.starts[i] < ref.ends[i]) assert.equal(tokenAt(starts, ends, ref.starts[i]), i, `hover over token ${i}`);
    }
  });

  it('yields to the event loop while a long chunk is computed, and stops when cancelled', async () => {
    const text = 'മലയാളം ഭാഷ '.repeat(20_000); // 240 k code units: about a second of segmenting
    const toks = codePointTokens(text);
    const spans = new IncrementalSpans(text, 0, toks.length);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    try {
      await spans.add(toks, 0, toks.length);
    } finally {
      clearInterval(ticker);
    }
    assert.ok(spans.complete);
    assert.ok(ticks >= 5, `the event loop ran ${ticks} times while the chunk was computed`);
    const { starts, ends } = spans.snapshot();
    assert.deepEqual(painted(text, starts, ends).slice(0, 7), ['മ', 'ല', 'യാ', '', 'ളം', '', ' ']);

    const cancelled = new IncrementalSpans(text, 0, toks.length);
    let stop = false;
    setTimeout(() => (stop = true), 1);
    await cancelled.add(toks, 0, toks.length, () => stop);
    assert.ok(!cancelled.complete, 'cancelled before the end');
  });
});
