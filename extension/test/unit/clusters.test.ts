// Grapheme clusters over long, mixed-script documents: the bounded-piece computation gives what
// one Intl.Segmenter pass over the whole text gives, and a 2 MB document of combining marks,
// emoji, ZWJ sequences, CJK and RTL finishes (one pass over it used to take minutes).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterBoundaries, paintSpans } from '../../src/heatmap/offsets';
import { codePointTokens as tokensOf, mix } from './mixedText';

/** The previous implementation: one segmenter pass over the whole text. */
function wholeTextBoundaries(text: string): Uint8Array {
  const b = new Uint8Array(text.length + 1);
  for (const seg of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text)) b[seg.index] = 1;
  b[text.length] = 1;
  return b;
}

describe('clusterBoundaries in bounded pieces', () => {
  it('equals one whole-text segmenter pass on mixed texts, whole and in sub-ranges', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const text = mix(300 + seed * 150, seed); // up to ~6 k code units: crosses several pieces
      const ref = wholeTextBoundaries(text);
      assert.deepEqual(clusterBoundaries(text), ref, `seed ${seed}`);
      const from = (seed * 37) % text.length, to = Math.min(text.length, from + 500 + seed * 13);
      const part = clusterBoundaries(text, from, to);
      if (part) assert.deepEqual(part, ref.slice(from, to + 1), `seed ${seed} [${from}, ${to}]`);
      else assert.ok(ref.slice(from, to + 1).every((v, i) => v === 1 || (text[from + i - 1] === '\r' && text[from + i] === '\n')), `seed ${seed}: no clusters there`);
    }
  });

  it('paints the same spans as before on small texts', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const text = mix(400, seed);
      const ref = wholeTextBoundaries(text);
      const toks = tokensOf(text);
      const { starts, ends } = paintSpans(text, toks);
      // The previous algorithm, on the whole-text boundaries.
      let prevEnd = 0;
      toks.forEach((t, i) => {
        let s = t.start, e = t.end;
        // A CR LF pair is split like any other boundary (a line break paints the same either way).
        const boundary = (k: number) => ref[k] === 1 || (text[k] === '\n' && text[k - 1] === '\r');
        while (s > 0 && !boundary(s)) s--;
        while (e < text.length && !boundary(e)) e++;
        if (s < prevEnd) s = prevEnd;
        if (e < s) e = s;
        assert.equal(starts[i], s, `seed ${seed} token ${i} start`);
        assert.equal(ends[i], e, `seed ${seed} token ${i} end`);
        if (e > prevEnd) prevEnd = e;
      });
    }
  });

  it('a long run without any plain character is segmented piece by piece, still exactly', () => {
    const text = 'ക്ഷ'.repeat(3000) + '👩‍💻'.repeat(500);
    assert.deepEqual(clusterBoundaries(text), wholeTextBoundaries(text));
  });

  it('a 2 MB document of combining marks, emoji, ZWJ sequences, CJK and RTL finishes; its painted spans cover whole clusters', () => {
    const text = mix(2 * 1024 * 1024, 7);
    assert.ok(text.length >= 2 * 1024 * 1024);
    const bits = clusterBoundaries(text)!;
    assert.equal(bits.length, text.length + 1);
    // A window in the middle, as the heatmap paints it (analysis windows, the visible range).
    const mid = Math.floor(text.length / 2);
    const toks = tokensOf(text.slice(mid, mid + 5000));
    const { starts, ends } = paintSpans(text, toks, mid);
    const boundary = (k: number) => bits[k] === 1 || (text[k] === '\n' && text[k - 1] === '\r');
    for (let i = 0; i < toks.length; i++) {
      if (starts[i] === ends[i]) continue;
      assert.ok(boundary(starts[i]), `token ${i} starts a cluster`);
      assert.ok(boundary(ends[i]), `token ${i} ends at a cluster boundary`);
    }
    // And a few spot checks against a direct segmentation of their neighbourhood.
    for (const at of [1000, mid, text.length - 3000]) {
      const ref = wholeTextBoundaries(text.slice(at, at + 2000));
      // Boundaries well inside the slice do not depend on what lies outside it.
      for (let i = 200; i < 1800; i++) assert.equal(bits[at + i], ref[i], `offset ${at + i}`);
    }
  });
});
