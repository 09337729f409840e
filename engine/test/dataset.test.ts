import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CorpusError } from '../src/corpus';
import { Dataset } from '../src/dataset';
import { Rng } from '../src/rng';
import { buildTokenizer } from '../src/tokenizer';

const here = dirname(fileURLToPath(import.meta.url));
const SHAKESPEARE = resolve(here, '../../../shared/data/tinyshakespeare.txt');

const iota = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

test("nanoGPT's split: first int(n·(1−valFraction)) tokens train, the rest validate", () => {
  const d = new Dataset(iota(1000), 0.1);
  assert.equal(d.train.length, 900);
  assert.equal(d.val.length, 100);
  assert.equal(d.train[899], 899);
  assert.equal(d.val[0], 900);
  // Odd sizes truncate like Python's int().
  const o = new Dataset(iota(1001), 0.1);
  assert.equal(o.train.length, Math.trunc(1001 * 0.9));
  assert.equal(o.train.length + o.val.length, 1001);
  // tinyshakespeare char: nanoGPT's prepare.py reports 1,003,854 train and 111,540 val tokens.
  const text = readFileSync(SHAKESPEARE, 'utf8');
  const tk = buildTokenizer('char', text);
  const s = new Dataset(Int32Array.from(tk.encode(text).ids), 0.1);
  assert.equal(s.train.length, 1003854);
  assert.equal(s.val.length, 111540);
  for (const bad of [-0.1, 1, NaN]) assert.throws(() => new Dataset(iota(10), bad), RangeError);
});

test('batch: shapes, y is x shifted by one, windows come from the right split', () => {
  const d = new Dataset(iota(500), 0.2); // train 0..399, val 400..499
  const rng = new Rng(5);
  for (const split of ['train', 'val'] as const) {
    const { x, y } = d.batch(split, 8, 16, rng);
    assert.equal(x.length, 8 * 16);
    assert.equal(y.length, 8 * 16);
    for (let b = 0; b < 8; b++) {
      const row = x.subarray(b * 16, (b + 1) * 16);
      const rowY = y.subarray(b * 16, (b + 1) * 16);
      for (let t = 0; t < 16; t++) {
        // With ids = positions, a window is consecutive integers and y[t] = x[t] + 1.
        assert.equal(row[t], row[0]! + t);
        assert.equal(rowY[t], row[t]! + 1);
      }
      if (split === 'train') assert.ok(row[0]! >= 0 && rowY[15]! <= 399);
      else assert.ok(row[0]! >= 400 && rowY[15]! <= 499);
    }
  }
});

test('batch: every start in [0, len − blockSize) is reachable, none beyond; deterministic from the rng state', () => {
  const d = new Dataset(iota(21), 0.0476); // train = 20 tokens
  assert.equal(d.train.length, 20);
  const rng = new Rng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 400; i++) seen.add(d.batch('train', 1, 4, rng).x[0]!);
  assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => i));

  const a = new Rng(77);
  const b = Rng.fromState(a.state());
  assert.deepEqual(d.batch('train', 4, 8, a), d.batch('train', 4, 8, b));
  // Exactly fits: blockSize + 1 tokens leaves one start.
  const tight = new Dataset(iota(9), 0.0);
  assert.deepEqual(tight.batch('train', 2, 8, new Rng(0)).x, Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7]));
});

test('a split too short for one window is a CorpusError saying how many tokens there are and are needed', () => {
  const d = new Dataset(iota(100), 0.1); // train 90, val 10
  assert.throws(() => d.batch('val', 1, 16, new Rng(0)), (e: unknown) => {
    assert.ok(e instanceof CorpusError);
    assert.equal(e.message, 'the val split has 10 tokens, but one window of blockSize 16 needs 17; use a smaller blockSize or more text (or a larger valFraction).');
    return true;
  });
  assert.throws(() => d.batch('train', 1, 90, new Rng(0)), /the train split has 90 tokens, but one window of blockSize 90 needs 91; use a smaller blockSize or more text\.$/);
  assert.throws(() => d.checkWindow(16), /val split has 10 tokens/);
  d.checkWindow(9);
  assert.throws(() => new Dataset(iota(100), 0).batch('val', 1, 4, new Rng(0)), /the val split has 0 tokens/);
  assert.throws(() => d.batch('train', 0, 4, new Rng(0)), RangeError);
  assert.throws(() => d.batch('train', 2, 0, new Rng(0)), RangeError);
});
