// Errors shown with their real cause: only a genuine protocol disagreement is called one; a failure
// inside the engine, a value out of range and a string too long to serialize say what they are.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes, ResponseError } from 'vscode-jsonrpc';
import { EngineErrorCode } from '@common/protocol';
import { describeEngineError } from '../../src/engine/errors';

const PROTOCOL = /disagree about the protocol/;

describe('describeEngineError', () => {
  it('a string too long to serialize (engine side or here) is "too large", not a protocol disagreement', () => {
    // As the engine replies when building an analysis reply fails (toResponseError → InternalError).
    const engine = describeEngineError(new ResponseError(ErrorCodes.InternalError, 'Cannot create a string longer than 0x1fffffe8 characters'), 'Analyzing big.txt failed');
    assert.equal(engine.kind, 'tooLarge');
    assert.doesNotMatch(engine.message, PROTOCOL);
    assert.match(engine.message, /^Analyzing big\.txt failed: the text or its result is too large to pass between the extension and the engine \(Cannot create a string longer than 0x1fffffe8 characters\)\. Analyze a selection/);
    // A real V8 failure on this side (JSON.stringify of a request, a string built too long).
    let local: unknown;
    try {
      'x'.repeat(2 ** 30);
    } catch (e) {
      local = e;
    }
    assert.ok(local instanceof RangeError);
    const d = describeEngineError(local, 'Analyzing big.txt failed');
    assert.equal(d.kind, 'tooLarge');
    assert.match(d.message, /Invalid string length/);
    // The engine's BadInput for the same cause.
    assert.equal(describeEngineError(new ResponseError(EngineErrorCode.BadInput, 'Invalid string length'), 'x').kind, 'tooLarge');
  });

  it('an internal engine error keeps its message and points at the log', () => {
    const d = describeEngineError(new ResponseError(ErrorCodes.InternalError, 'Tensor is disposed.'), 'Analyzing a.txt failed');
    assert.equal(d.kind, 'internal');
    assert.equal(d.message, 'Analyzing a.txt failed: Tensor is disposed. See "LearnedDropout: Show Engine Log".');
  });

  it('InvalidParams names the bad values without blaming the protocol', () => {
    const d = describeEngineError(
      new ResponseError(ErrorCodes.InvalidParams, 'invalid params: maxTokens must be an integer between 1 and 10000, got 20000', { problems: ['maxTokens must be an integer between 1 and 10000, got 20000'] }),
      'Sampling failed',
    );
    assert.equal(d.kind, 'invalidParams');
    assert.doesNotMatch(d.message, PROTOCOL);
    assert.deepEqual(d.problems, ['maxTokens must be an integer between 1 and 10000, got 20000']);
  });

  it('a method the engine does not know, or a malformed request, is a protocol disagreement', () => {
    for (const code of [ErrorCodes.MethodNotFound, ErrorCodes.InvalidRequest, ErrorCodes.ParseError]) {
      const d = describeEngineError(new ResponseError(code, 'Unhandled method mask/report'), 'Reporting failed');
      assert.equal(d.kind, 'protocol');
      assert.match(d.message, PROTOCOL);
    }
  });
});
