import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToBase64, csvField, csvRow, parseCsv, safeFileStem, toCsv } from '../src/common/export';
import { mulberry32 } from './fixtures';

describe('CSV', () => {
  it('quotes only what needs quoting (RFC 4180)', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('line\nbreak'), '"line\nbreak"');
    assert.equal(csvField('\r'), '"\r"');
    assert.equal(csvField(' '), '" "');
    assert.equal(csvField(null), '');
    assert.equal(csvField(0.1 + 0.2), '0.30000000000000004');
    assert.equal(csvField(NaN), 'NaN');
  });

  it('round-trips awkward token texts and exact numbers', () => {
    const rows = [
      [' ', 1e-7, '"', ','],
      ['\n', -0.5, 'é🙂', 'a""b'],
      ['', 123456789.123, '\r\n', 'x'],
    ];
    const text = toCsv(['text', 'value', 'c', 'd'], rows);
    const parsed = parseCsv(text);
    assert.deepEqual(parsed[0], ['text', 'value', 'c', 'd']);
    rows.forEach((r, i) => {
      assert.equal(parsed[i + 1]![0], r[0]);
      assert.equal(Number(parsed[i + 1]![1]), r[1]);
      assert.equal(parsed[i + 1]![2], r[2]);
      assert.equal(parsed[i + 1]![3], r[3]);
    });
    assert.ok(text.endsWith('\r\n'));
    assert.equal(csvRow([1, 'a']), '1,a');
  });
});

describe('bytesToBase64', () => {
  it('matches Buffer, across chunk boundaries', () => {
    const rnd = mulberry32(2);
    for (const n of [0, 1, 2, 3, 4, 5, 49151, 49152, 49153, 100_000]) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
      assert.equal(bytesToBase64(bytes), Buffer.from(bytes).toString('base64'), `length ${n}`);
    }
  });
});

describe('safeFileStem', () => {
  it('keeps names portable', () => {
    assert.equal(safeFileStem('metrics-tiny/run vs base:line'), 'metrics-tiny_run_vs_base_line');
    assert.equal(safeFileStem('///'), 'export');
  });
});
