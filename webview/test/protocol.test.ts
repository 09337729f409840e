import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dispatch, isMessageOf, type ExplorerHostMessage, type Handlers } from '@common/webviewProtocol';
import { textOf } from '@common/analysisText';
import { makeAnalysis, SMALL_SHAPE } from './fixtures';

function recorder(): { calls: string[]; handlers: Handlers<ExplorerHostMessage> } {
  const calls: string[] = [];
  const handlers: Handlers<ExplorerHostMessage> = {
    state: () => void calls.push('state'),
    analysis: () => void calls.push('analysis'),
    liveAnalysis: () => void calls.push('liveAnalysis'),
    checkpoints: () => void calls.push('checkpoints'),
    selectToken: (m) => void calls.push(`selectToken:${m.index}`),
    scrubAnalysis: () => void calls.push('scrubAnalysis'),
    report: () => void calls.push('report'),
    exportResult: () => {
      throw new Error('boom');
    },
  };
  return { calls, handlers };
}

describe('dispatch', () => {
  it('routes a message to the handler of its type', () => {
    const { calls, handlers } = recorder();
    assert.equal(dispatch(handlers, { type: 'selectToken', index: 7 }), true);
    assert.deepEqual(calls, ['selectToken:7']);
  });

  it('rejects what is not a message of the union', () => {
    const { calls, handlers } = recorder();
    for (const bad of [null, undefined, 42, 'state', {}, { type: 3 }, { type: 'nope' }, { type: 'toString' }, { type: '__proto__' }]) {
      assert.equal(dispatch(handlers, bad), false, JSON.stringify(bad));
    }
    assert.deepEqual(calls, []);
    assert.equal(isMessageOf(handlers, { type: 'state' }), true);
  });

  it('reports handler errors, thrown or rejected, instead of throwing', async () => {
    const { handlers } = recorder();
    const errors: unknown[] = [];
    assert.equal(
      dispatch(handlers, { type: 'exportResult', requestId: 1 }, (e) => errors.push(e)),
      true,
    );
    assert.equal((errors[0] as Error).message, 'boom');
    const asyncHandlers: Handlers<ExplorerHostMessage> = { ...handlers, checkpoints: async () => Promise.reject(new Error('later')) };
    dispatch(asyncHandlers, { type: 'checkpoints', checkpoints: [] }, (e) => errors.push(e));
    await new Promise((r) => setImmediate(r));
    assert.equal((errors[1] as Error).message, 'later');
  });
});

describe('textOf', () => {
  it('rebuilds the analyzed text from its tokens', () => {
    const a = makeAnalysis(SMALL_SHAPE, 'Hello, world.\nSecond line.');
    assert.equal(textOf(a), 'Hello, world.\nSecond line.');
  });
  it('fills skipped characters with spaces so offsets stay put', () => {
    const a = makeAnalysis(SMALL_SHAPE, 'abc');
    a.tokens = [a.tokens[0]!, a.tokens[2]!];
    assert.equal(textOf(a), 'a c');
  });
});
