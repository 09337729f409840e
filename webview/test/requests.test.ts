// The request/reply helper of the webview protocol (common/requests.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingRequests } from '@common/requests';

type Reply = { requestId: number; value: string };

test('PendingRequests: each reply resolves the request with its id, in any order; strays are refused', async () => {
  const requests = new PendingRequests<Reply>();
  const sent: number[] = [];
  const a = requests.request((id) => sent.push(id));
  const b = requests.request((id) => sent.push(id));
  assert.equal(sent.length, 2);
  assert.notEqual(sent[0], sent[1], 'fresh ids');
  assert.equal(requests.size, 2);
  assert.equal(requests.resolve({ requestId: sent[1]!, value: 'second' }), true);
  assert.equal(requests.resolve({ requestId: sent[0]!, value: 'first' }), true);
  assert.deepEqual([(await a).value, (await b).value], ['first', 'second']);
  assert.equal(requests.resolve({ requestId: sent[0]!, value: 'again' }), false, 'a request is answered once');
  assert.equal(requests.resolve({ requestId: 999, value: 'stray' }), false);
  assert.equal(requests.size, 0);
});
