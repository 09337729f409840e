import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatsRecord } from '@common/protocol';
import { siteName, StuckWarnings } from '../../src/training/stuckWarning';

const stats = (step: number, stuckSites?: StatsRecord['stuckSites']): StatsRecord => ({ type: 'stats', step, time: 0, sites: [], stuck: false, ...(stuckSites ? { stuckSites } : {}) });

describe('stuck-mask warnings', () => {
  it('names each stuck site and where, once per newly stuck site and run', () => {
    const w = new StuckWarnings();
    assert.equal(w.check('r', 'run', stats(10)), undefined, 'older engines: no field, no warning');
    assert.equal(w.check('r', 'run', stats(20, [])), undefined);
    const first = w.check('r', 'run', stats(30, [{ site: 'transformer.h.1.mlp.dropout', at: 'one' }, { site: 'transformer.h.0.attn.attn_dropout', at: 'half' }]));
    assert.equal(first, 'Training run: masks stuck at step 30: layer 1 MLP at 1 (drops nothing); layer 0 attention at 0.5 (undecided). A stuck mask does not depend on the token; see the Run Charts.');
    assert.equal(w.check('r', 'run', stats(40, [{ site: 'transformer.h.1.mlp.dropout', at: 'one' }])), undefined, 'nothing new');
    assert.match(w.check('r', 'run', stats(50, [{ site: 'transformer.drop', at: 'zero' }])) ?? '', /embedding at 0 \(drops everything\)/);
    assert.match(w.check('other', 'b', stats(30, [{ site: 'transformer.h.1.mlp.dropout', at: 'one' }])) ?? '', /^Training b:/, 'per run');
    assert.equal(w.check('r', 'run', { type: 'eval', step: 60, time: 0, trainLoss: 1, valLoss: 1 }), undefined);
  });

  it('pops up once per run; later changes go to the log only', () => {
    const w = new StuckWarnings();
    assert.equal(w.notify('r'), true);
    assert.equal(w.notify('r'), false);
    assert.equal(w.notify('other'), true);
  });

  it('names sites as the views do, and leaves unknown module names as they are', () => {
    assert.equal(siteName('transformer.h.2.attn.resid_dropout'), 'layer 2 attention output');
    assert.equal(siteName('something.else'), 'something.else');
  });
});
