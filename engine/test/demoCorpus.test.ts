import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { demoCorpus } from '@common/demoCorpus';

// The corpus is generated, not shipped: the same text on every install and version keeps demo
// runs comparable. A deliberate change of the generator updates this digest.
test('the default demo corpus is the same text as ever', () => {
  const text = demoCorpus();
  assert.equal(text.length, 120_047);
  assert.equal(createHash('sha256').update(text).digest('hex'), '110cfe7885176e49a57f5968ede5713601ff3c4ea0a82302720ec9e10a2d7ea5');
});

test('the demo corpus: about the size asked for, a seed of its own, arithmetic and log lines', () => {
  const text = demoCorpus(5000, 3);
  assert.ok(text.length >= 5000 && text.length < 6000, `${text.length} characters`);
  assert.equal(demoCorpus(5000, 3), text);
  assert.notEqual(demoCorpus(5000, 4), text);
  assert.ok(text.startsWith('# LearnedDropout Lens demo corpus\n'));
  assert.match(text, /\d+ [+*-] \d+ = \d+/);
  assert.match(text, /^step \d{4} \| loss \d\.\d{3} \| active \d+\/64$/m);
});
