import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTokenizer, tokenizerFromJSON, TokenizerError, type Encoded } from '../src/tokenizer';

const here = dirname(fileURLToPath(import.meta.url));
const SHAKESPEARE = resolve(here, '../../../shared/data/tinyshakespeare.txt');

// CRLF, tab, astral emoji (surrogate pairs), a precomposed é, e + combining acute, a BMP char above the surrogates.
const MIXED = 'Line one\r\n\tTab: 😀 and 😀😀, café vs cafe\u0301 𝄞 \uFFFD end\n';

/** Contiguous, non-overlapping, in order; with nothing skipped the pieces rebuild the text. */
function assertOffsets(text: string, e: Encoded, contiguous: boolean) {
  assert.equal(e.starts.length, e.ids.length);
  assert.equal(e.ends.length, e.ids.length);
  let prev = 0;
  for (let i = 0; i < e.ids.length; i++) {
    assert.ok(e.starts[i]! >= prev, `token ${i} starts before the previous ends`);
    assert.ok(e.ends[i]! >= e.starts[i]!, `token ${i} has a negative range`);
    if (contiguous) assert.equal(e.starts[i], prev);
    prev = e.ends[i]!;
  }
  if (contiguous) {
    assert.equal(prev, text.length);
    assert.equal(e.ids.map((_, i) => text.slice(e.starts[i], e.ends[i])).join(''), text);
  }
}

test('char vocabulary is sorted by code point, like Python sorted(set(text))', () => {
  const tk = buildTokenizer('char', 'b😀a\uFFFDa𝄞b');
  // JS's default sort compares UTF-16 units and would put the surrogate pairs before U+FFFD.
  assert.deepEqual(tk.toJSON(), { type: 'char', vocab: ['a', 'b', '\uFFFD', '𝄞', '😀'] });
  assert.equal(tk.vocabSize, 5);
  assert.deepEqual(['a', 'b', '\uFFFD', '𝄞', '😀'].slice().sort(), ['a', 'b', '𝄞', '😀', '\uFFFD']);
});

test('char: one token per code point with UTF-16 offsets (CRLF, tabs, surrogate pairs, combining marks)', () => {
  const tk = buildTokenizer('char', MIXED);
  const e = tk.encode(MIXED);
  assert.equal(e.skipped, 0);
  assert.equal(e.ids.length, [...MIXED].length);
  assertOffsets(MIXED, e, true);
  // Each emoji is one token covering its two UTF-16 units.
  const emoji = MIXED.indexOf('😀');
  const k = e.starts.indexOf(emoji);
  assert.deepEqual([e.starts[k], e.ends[k]], [emoji, emoji + 2]);
  assert.equal(tk.tokenText(e.ids[k]!), '😀');
  // \r and \n are separate tokens; the combining mark is its own token right after its 'e'.
  const cr = MIXED.indexOf('\r');
  assert.deepEqual(e.ids.slice(e.starts.indexOf(cr), e.starts.indexOf(cr) + 2).map((i) => tk.tokenText(i)), ['\r', '\n']);
  const comb = MIXED.indexOf('\u0301');
  assert.equal(tk.tokenText(e.ids[e.starts.indexOf(comb)]!), '\u0301');
  assert.equal(tk.decode(e.ids), MIXED);
});

test('char: unknown characters throw with their names, or are skipped with other offsets intact', () => {
  const tk = buildTokenizer('char', 'abc ');
  assert.throws(() => tk.encode('ab 😀 zz'), (err: unknown) => {
    assert.ok(err instanceof TokenizerError);
    assert.match(err.message, /3 characters outside the vocabulary/);
    assert.match(err.message, /U\+1F600/);
    assert.match(err.message, /"z" \(U\+007A\)/);
    return true;
  });
  const e = tk.encode('ab 😀 c', 'skip');
  assert.equal(e.skipped, 1);
  assert.deepEqual(e.ids.map((i) => tk.tokenText(i)).join(''), 'ab  c');
  assert.deepEqual(e.starts, [0, 1, 2, 5, 6]);
  assert.deepEqual(e.ends, [1, 2, 3, 6, 7]);
  assertOffsets('ab 😀 c', e, false);
});

test('char: lone surrogates are single tokens (as Python treats them)', () => {
  const text = 'a\uD800b\uDC00';
  const tk = buildTokenizer('char', text);
  assert.deepEqual(tk.toJSON(), { type: 'char', vocab: ['a', 'b', '\uD800', '\uDC00'] });
  const e = tk.encode(text);
  assertOffsets(text, e, true);
  assert.equal(tk.decode(e.ids), text);
});

test('char: JSON round trip, the PyTorch reference format, and validation', () => {
  const tk = buildTokenizer('char', MIXED);
  const json = JSON.parse(JSON.stringify(tk.toJSON()));
  const back = tokenizerFromJSON(json);
  assert.equal(back.kind, 'char');
  assert.deepEqual(back.encode(MIXED), tk.encode(MIXED));
  // A reference checkpoint's tokenizer section (vocab not required to be sorted).
  const ref = tokenizerFromJSON({ type: 'char', vocab: ['\n', ' ', 'z', 'a'] });
  assert.deepEqual(ref.encode('a z\n').ids, [3, 1, 2, 0]);

  const bad: [unknown, RegExp][] = [
    [null, /expected an object/],
    [[], /expected an object/],
    [{ type: 'bpe' }, /tokenizer.type: expected "char" or "gpt2", got "bpe"/],
    [{ type: 'char' }, /tokenizer.vocab: expected a non-empty array/],
    [{ type: 'char', vocab: [] }, /non-empty/],
    [{ type: 'char', vocab: ['a', 1] }, /vocab\[1\]: expected a string/],
    [{ type: 'char', vocab: ['a', 'ab'] }, /vocab\[1\]: expected exactly one character/],
    [{ type: 'char', vocab: ['a', ''] }, /vocab\[1\]: expected exactly one character/],
    [{ type: 'char', vocab: ['a', 'b', 'a'] }, /vocab\[2\]: "a" \(U\+0061\) appears twice/],
    [{ type: 'gpt2', ids: [5, 3] }, /strictly ascending/],
    [{ type: 'gpt2', ids: [1, 50256] }, /ids\[1\]: expected a GPT-2 id/],
    [{ type: 'gpt2', ids: [1.5] }, /ids\[0\]/],
    [{ type: 'gpt2' }, /tokenizer.ids/],
  ];
  for (const [j, re] of bad) assert.throws(() => tokenizerFromJSON(j), (e: unknown) => e instanceof TokenizerError && re.test(e.message), JSON.stringify(j));
  assert.throws(() => tk.decode([tk.vocabSize]), TokenizerError);
  assert.throws(() => tk.tokenText(-1), TokenizerError);
  assert.throws(() => buildTokenizer('char', ''), TokenizerError);
});

test('gpt2: compact vocabulary of the GPT-2 ids in the corpus, round trip, and JSON', () => {
  const text = 'Hello world! Hello there.';
  const tk = buildTokenizer('gpt2', text);
  const j = tk.toJSON();
  assert.equal(j.type, 'gpt2');
  if (j.type !== 'gpt2') return;
  // GPT-2: "Hello"=15496, " world"=995, "!"=0, " Hello"=18435, " there"=612, "."=13
  assert.deepEqual(j.ids, [0, 13, 612, 995, 15496, 18435]);
  assert.equal(tk.vocabSize, 6);
  const e = tk.encode(text);
  assert.deepEqual(e.ids.map((i) => j.ids[i]), [15496, 995, 0, 18435, 612, 13]);
  assert.deepEqual(e.ids.map((i) => tk.tokenText(i)), ['Hello', ' world', '!', ' Hello', ' there', '.']);
  assertOffsets(text, e, true);
  assert.equal(tk.decode(e.ids), text);
  const back = tokenizerFromJSON(JSON.parse(JSON.stringify(j)));
  assert.deepEqual(back.encode(text), e);
});

test('gpt2: byte-level tokens inside characters get the documented offsets (char belongs to the token with its last byte)', () => {
  const text = ' 😀é\u0301x';
  const tk = buildTokenizer('gpt2', text);
  const e = tk.encode(text);
  const pieces = e.ids.map((id, i) => [tk.tokenText(id), e.starts[i], e.ends[i]]);
  assert.deepEqual(pieces, [
    [' <0xF0><0x9F><0x98>', 0, 1], // space + first three bytes of the emoji: covers just the space
    ['<0x80>', 1, 3], // last byte of the emoji: covers the whole surrogate pair
    ['é', 3, 4],
    ['<0xCC>', 4, 4], // first byte of U+0301: empty range at its start
    ['<0x81>', 4, 5],
    ['x', 5, 6],
  ]);
  assertOffsets(text, e, true);
  assert.equal(tk.decode(e.ids), text);
  // A cut inside a character decodes leniently.
  assert.equal(tk.decode(e.ids.slice(0, 1)), ' \uFFFD');
});

test('gpt2: offsets stay right over CRLF, tabs, emoji runs, combining marks and special-token text', () => {
  const text = MIXED + '<|endoftext|> after';
  const tk = buildTokenizer('gpt2', text);
  const e = tk.encode(text);
  assert.equal(e.skipped, 0);
  assertOffsets(text, e, true);
  assert.equal(tk.decode(e.ids), text);
  // Prefix property: whole characters shown by the first i tokens are text.slice(0, ends[i]).
  for (let i = 0; i < e.ids.length; i++) {
    // (A pending partial character decodes as one trailing U+FFFD.)
    const d = tk.decode(e.ids.slice(0, i + 1));
    const whole = text.slice(0, e.ends[i]);
    assert.ok(d === whole || d === whole + '\uFFFD', `prefix ${i}: ${JSON.stringify(d.slice(-5))} vs ${JSON.stringify(whole.slice(-5))}`);
  }
});

test('gpt2: unknown tokens throw naming them, or are skipped with other offsets intact', () => {
  const tk = buildTokenizer('gpt2', 'hello world hello');
  assert.throws(() => tk.encode('hello there world friend'), (err: unknown) => {
    assert.ok(err instanceof TokenizerError);
    assert.match(err.message, /2 GPT-2 tokens outside the vocabulary \(" there", " friend"\)/);
    return true;
  });
  const text = 'hello there world';
  const e = tk.encode(text, 'skip');
  assert.equal(e.skipped, 1);
  assert.deepEqual(e.ids.map((i, k) => [tk.tokenText(i), text.slice(e.starts[k], e.ends[k])]), [
    ['hello', 'hello'],
    [' world', ' world'],
  ]);
  assert.deepEqual(e.starts, [0, 11]);
});

test('tinyshakespeare: char and gpt2 vocabularies and offsets (timings printed; speed belongs to benchmarks)', (t) => {
  const text = readFileSync(SHAKESPEARE, 'utf8');
  assert.ok(text.length > 1_000_000);

  let t0 = performance.now();
  const ch = buildTokenizer('char', text);
  const ec = ch.encode(text);
  const charMs = performance.now() - t0;
  assert.equal(ch.vocabSize, 65); // nanoGPT's shakespeare_char vocabulary
  assert.equal(ec.ids.length, text.length);

  t0 = performance.now();
  const g = buildTokenizer('gpt2', text);
  const eg = g.encode(text);
  const gptMs = performance.now() - t0;
  assert.equal(eg.ids.length, 338025); // nanoGPT's shakespeare prepare.py: 301,966 train + 36,059 val tokens
  assert.equal(eg.ends[eg.ends.length - 1], text.length);
  assert.ok(g.vocabSize > 10_000 && g.vocabSize < 12_000, `gpt2 vocab ${g.vocabSize}`);
  // Spot-check offsets on a slice rather than paying for a full join.
  for (let i = 1000; i < 1100; i++) assert.equal(g.tokenText(eg.ids[i]!), text.slice(eg.starts[i], eg.ends[i]));
  t.diagnostic(`char ${charMs.toFixed(0)} ms, gpt2 ${gptMs.toFixed(0)} ms, gpt2 vocab ${g.vocabSize}`);
});

test('encodeTyped gives encode\'s ids and offsets in Int32Arrays, unknown tokens skipped or refused alike', () => {
  for (const kind of ['char', 'gpt2'] as const) {
    const tk = buildTokenizer(kind, MIXED);
    for (const text of [MIXED, 'ab 😀 c\uD800', '', `${MIXED} zzz ✓ ${MIXED}`]) {
      let plain: ReturnType<typeof tk.encode> | undefined;
      try {
        plain = tk.encode(text, 'error');
      } catch (e) {
        assert.throws(() => tk.encodeTyped(text, 'error'), { message: (e as Error).message });
      }
      if (plain) assert.deepEqual(mapTyped(tk.encodeTyped(text, 'error')), plain, `${kind}: ${JSON.stringify(text.slice(0, 20))}`);
      const skipped = tk.encode(text, 'skip');
      const typed = tk.encodeTyped(text, 'skip');
      assert.ok(typed.ids instanceof Int32Array && typed.starts instanceof Int32Array && typed.ends instanceof Int32Array);
      assert.deepEqual(mapTyped(typed), skipped, `${kind} skip: ${JSON.stringify(text.slice(0, 20))}`);
      // char's encode is built on encodeTyped: checked on its own too, each token its own character
      if (kind === 'char') typed.ids.forEach((id, k) => assert.equal(text.slice(typed.starts[k], typed.ends[k]), tk.tokenText(id), `char token ${k}`));
    }
  }
  function mapTyped(e: { ids: Int32Array; starts: Int32Array; ends: Int32Array; skipped: number }) {
    return { ids: Array.from(e.ids), starts: Array.from(e.starts), ends: Array.from(e.ends), skipped: e.skipped };
  }
});
