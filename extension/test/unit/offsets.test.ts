import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineIndex, clusterBoundaries, paintSpans, sequentialEdits, shiftSpans, tokenAt } from '../../src/heatmap/offsets';
import { codePointTokens } from './mixedText';

/** What a span paints, as text. */
function painted(text: string, s: Int32Array, e: Int32Array): string[] {
  return Array.from(s, (x, i) => text.slice(x, e[i]));
}

describe('LineIndex (positionAt like VS Code)', () => {
  it('counts a tab as one character', () => {
    const idx = new LineIndex('\tfoo\n\t\tbar');
    assert.deepEqual(idx.positionAt(1), { line: 0, character: 1 });
    assert.deepEqual(idx.positionAt(7), { line: 1, character: 2 });
    assert.equal(idx.offsetAt({ line: 1, character: 2 }), 7);
  });

  it('handles CRLF: offsets inside the break clamp to the end of the line', () => {
    const text = 'ab\r\ncd\r\n';
    const idx = new LineIndex(text);
    assert.equal(idx.lineCount, 3);
    assert.deepEqual(idx.positionAt(2), { line: 0, character: 2 }); // on \r
    assert.deepEqual(idx.positionAt(3), { line: 0, character: 2 }); // between \r and \n
    assert.deepEqual(idx.positionAt(4), { line: 1, character: 0 });
    assert.deepEqual(idx.positionAt(6), { line: 1, character: 2 });
    assert.deepEqual(idx.positionAt(8), { line: 2, character: 0 });
    assert.equal(idx.offsetAt({ line: 1, character: 99 }), 6);
  });

  it('handles a lone \\r and \\n as line breaks, and clamps out-of-range offsets', () => {
    const idx = new LineIndex('a\rb\nc');
    assert.deepEqual(idx.positionAt(2), { line: 1, character: 0 });
    assert.deepEqual(idx.positionAt(4), { line: 2, character: 0 });
    assert.deepEqual(idx.positionAt(-5), { line: 0, character: 0 });
    assert.deepEqual(idx.positionAt(99), { line: 2, character: 1 });
  });

  it('counts UTF-16 code units: an astral character is two characters', () => {
    const idx = new LineIndex('😀x\n𝒳y');
    assert.deepEqual(idx.positionAt(2), { line: 0, character: 2 });
    assert.deepEqual(idx.positionAt(6), { line: 1, character: 2 });
  });
});

describe('paintSpans', () => {
  it('is the identity for plain ASCII, tabs and CRLF', () => {
    const text = 'a\tb\r\nc';
    const toks = codePointTokens(text);
    const { starts, ends } = paintSpans(text, toks);
    assert.deepEqual(painted(text, starts, ends), ['a', '\t', 'b', '\r', '\n', 'c']);
    assert.equal(clusterBoundaries(text), undefined, 'fast path: no cluster analysis for plain text');
  });

  it('keeps a surrogate pair whole when a token boundary splits it (byte-level BPE)', () => {
    const text = 'a😀b';
    // Tokens that split the emoji's two code units between them.
    const toks = [{ start: 0, end: 2 }, { start: 2, end: 3 }, { start: 3, end: 4 }];
    const { starts, ends } = paintSpans(text, toks);
    assert.deepEqual(painted(text, starts, ends), ['a😀', '', 'b']);
  });

  it('paints a combining mark with its base character', () => {
    const text = 'cafe\u0301!'; // é as e + U+0301, one token per code point
    const { starts, ends } = paintSpans(text, codePointTokens(text));
    assert.deepEqual(painted(text, starts, ends), ['c', 'a', 'f', 'e\u0301', '', '!']);
  });

  it('keeps ZWJ emoji sequences and flags together', () => {
    const text = 'x👩‍💻🇫🇷y';
    const { starts, ends } = paintSpans(text, codePointTokens(text));
    const p = painted(text, starts, ends).filter((s) => s);
    assert.deepEqual(p, ['x', '👩‍💻', '🇫🇷', 'y']);
  });

  it('adds the base offset (a selection) and clamps to the text', () => {
    const text = 'hello world';
    const { starts, ends } = paintSpans(text, [{ start: 0, end: 5 }, { start: 6, end: 99 }], 0);
    assert.deepEqual(painted(text, starts, ends), ['hello', 'world']);
    const sel = paintSpans(text, [{ start: 0, end: 2 }, { start: 2, end: 5 }], 6);
    assert.deepEqual(painted(text, sel.starts, sel.ends), ['wo', 'rld']);
  });
});

describe('shiftSpans (stale results never paint wrong offsets)', () => {
  const text = 'the cat sat';
  const tokens = [{ start: 0, end: 3 }, { start: 4, end: 7 }, { start: 8, end: 11 }];

  it('shifts tokens after an insertion and keeps the ones before', () => {
    const { starts, ends } = paintSpans(text, tokens);
    const n = shiftSpans(starts, ends, [{ offset: 4, deleteLength: 0, insertLength: 4 }]); // "the big cat sat"
    const after = 'the big cat sat';
    assert.equal(n, 0);
    assert.deepEqual(painted(after, starts, ends), ['the', 'cat', 'sat']);
  });

  it('invalidates a token edited inside, and nothing else', () => {
    const { starts, ends } = paintSpans(text, tokens);
    const n = shiftSpans(starts, ends, [{ offset: 5, deleteLength: 1, insertLength: 2 }]); // "the coot sat"
    const after = 'the coot sat';
    assert.equal(n, 1);
    assert.deepEqual(painted(after, starts, ends), ['the', '', 'sat']);
    assert.equal(tokenAt(starts, ends, 5), -1, 'the edited token is not hoverable');
    assert.equal(tokenAt(starts, ends, 10), 2);
  });

  it('applies a multi-cursor change event highest offset first', () => {
    const { starts, ends } = paintSpans(text, tokens);
    // Two insertions of "X", given relative to the text before the event, in ascending order.
    const edits = sequentialEdits([{ rangeOffset: 3, rangeLength: 0, text: 'X' }, { rangeOffset: 7, rangeLength: 0, text: 'X' }]);
    shiftSpans(starts, ends, edits);
    const after = 'theX catX sat';
    assert.deepEqual(painted(after, starts, ends), ['the', 'cat', 'sat']);
  });

  it('invalidates everything a deletion covers', () => {
    const { starts, ends } = paintSpans(text, tokens);
    shiftSpans(starts, ends, [{ offset: 2, deleteLength: 7, insertLength: 0 }]); // "there"? → "thet"
    assert.deepEqual(painted('that', starts, ends), ['', '', '']);
  });
});

describe('tokenAt', () => {
  it('finds the token under an offset, with gaps between tokens', () => {
    const starts = Int32Array.from([0, 4, 8]);
    const ends = Int32Array.from([3, 7, 11]);
    assert.equal(tokenAt(starts, ends, 0), 0);
    assert.equal(tokenAt(starts, ends, 3), -1);
    assert.equal(tokenAt(starts, ends, 6), 1);
    assert.equal(tokenAt(starts, ends, 11), -1);
  });
});
