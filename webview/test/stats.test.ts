import assert from 'node:assert/strict';
import { test } from 'node:test';
import { meanSd } from '@common/stats';

test('meanSd: mean and sample sd of the finite values', () => {
  const { mean, sd, n } = meanSd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(n, 8);
  assert.equal(mean, 5);
  assert.ok(Math.abs(sd - Math.sqrt(32 / 7)) < 1e-12, `sd ${sd}`);
});

test('meanSd: NaN and infinities are skipped, not counted', () => {
  const { mean, sd, n } = meanSd(new Float64Array([1, NaN, 3, Infinity, -Infinity]));
  assert.equal(n, 2);
  assert.equal(mean, 2);
  assert.ok(Math.abs(sd - Math.SQRT2) < 1e-12, `sd ${sd}`);
});

test('meanSd: no value gives a NaN mean, one value a zero sd', () => {
  const none = meanSd([]);
  assert.equal(none.n, 0);
  assert.ok(Number.isNaN(none.mean));
  assert.equal(none.sd, 0);
  assert.deepEqual(meanSd([NaN, 0.25]), { mean: 0.25, sd: 0, n: 1 });
});
