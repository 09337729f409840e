import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ema, emaSmooth } from '../src/common/smoothing';

describe('EMA smoothing (TensorBoard)', () => {
  it('is debiased: a constant series stays constant from the first point', () => {
    const out = emaSmooth([3, 3, 3, 3], 0.9);
    for (const v of out) assert.ok(Math.abs(v - 3) < 1e-12);
  });

  it('matches the TensorBoard formula', () => {
    const values = [1, 5, 2, 8, 3];
    const w = 0.6;
    let last = 0;
    const expected = values.map((v, i) => {
      last = last * w + (1 - w) * v;
      return last / (1 - Math.pow(w, i + 1));
    });
    const got = emaSmooth(values, w);
    expected.forEach((e, i) => assert.ok(Math.abs(e - got[i]!) < 1e-12));
  });

  it('weight 0 is the identity and NaN passes through without poisoning later points', () => {
    assert.deepEqual([...emaSmooth([1, 2, 3], 0)], [1, 2, 3]);
    const ema = new Ema(0.5);
    assert.equal(ema.next(2), 2);
    assert.ok(Number.isNaN(ema.next(NaN)));
    assert.ok(Number.isFinite(ema.next(4)));
  });
});
