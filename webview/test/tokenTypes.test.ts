import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnalysisModel } from '../src/common/masks';
import { displayToken } from '@common/tokens';
import { sortTokenTypes, tokenTypeStats } from '../src/common/tokenTypes';
import { makeAnalysis, SMALL_SHAPE } from './fixtures';

describe('tokenTypeStats', () => {
  const tokens = ['a', 'b', 'a', 'c', 'a'].map((text, i) => ({ id: text.charCodeAt(0), text, start: i, end: i + 1 }));
  const active = [
    [2, 5, 4, 1, 6],
    [0, 0, 0, 0, 3],
  ];
  const stats = tokenTypeStats(tokens, active);

  it('groups occurrences by token id with mean and population std per site', () => {
    const a = stats.find((s) => s.text === 'a')!;
    assert.equal(a.count, 3);
    assert.deepEqual(a.occurrences, [0, 2, 4]);
    assert.equal(a.mean[0], 4);
    assert.ok(Math.abs(a.std[0]! - Math.sqrt(8 / 3)) < 1e-12);
    assert.equal(a.mean[1], 1);
    const b = stats.find((s) => s.text === 'b')!;
    assert.equal(b.std[0], 0);
  });

  it('sorts by any column, ties by frequency', () => {
    assert.deepEqual(
      sortTokenTypes(stats, 'mean', 0, true).map((s) => s.text),
      ['b', 'a', 'c'],
    );
    assert.deepEqual(
      sortTokenTypes(stats, 'count', 0, true).map((s) => s.text),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(
      sortTokenTypes(stats, 'text', 0, false).map((s) => s.text),
      ['a', 'b', 'c'],
    );
  });

  it('agrees with a direct computation on a realistic analysis', () => {
    const model = new AnalysisModel(makeAnalysis(SMALL_SHAPE));
    const all = tokenTypeStats(
      model.tokens,
      model.sites.map((_, i) => model.active(i)),
    );
    assert.equal(
      all.reduce((n, s) => n + s.count, 0),
      model.tokenCount,
    );
    for (const s of all.slice(0, 5)) {
      for (let site = 0; site < model.sites.length; site++) {
        const xs = s.occurrences.map((t) => model.active(site)[t]!);
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        assert.ok(Math.abs(mean - s.mean[site]!) < 1e-9);
      }
    }
  });

  it('shows whitespace tokens visibly', () => {
    assert.equal(displayToken(' \n'), '␣⏎');
    assert.equal(displayToken(''), '∅');
  });
});
