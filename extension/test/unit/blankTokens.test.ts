// A sample's whitespace tokens stay unpainted and out of its colour scale.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Token } from '@common/protocol';
import { blankTokens, domainWithout } from '../../src/heatmap/blankTokens';

const tok = (text: string): Token => ({ id: 0, text, start: 0, end: text.length });

describe('blank tokens of a sample', () => {
  it('marks tokens that are only spaces, tabs or line breaks', () => {
    assert.deepEqual([...blankTokens(['the', ' ', '\n\n', ' cat', '\t', '.', ' \r\n '].map(tok))], [0, 1, 1, 0, 1, 0, 1]);
  });

  it('scales the colours over the painted tokens only', () => {
    const values = new Float32Array([40, 2, 3, 35, 1]);
    const skip = new Uint8Array([0, 1, 1, 0, 1]);
    assert.deepEqual(domainWithout(values, skip, [1, 40]), [35, 40]);
    assert.deepEqual(domainWithout(values, new Uint8Array([1, 1, 1, 1, 1]), [1, 40]), [1, 40], 'all blank: the whole domain');
  });
});
