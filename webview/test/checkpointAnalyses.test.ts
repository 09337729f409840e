// The explorer's analyses of one text at several checkpoints: which are kept when the host's
// analysis changes, and what a fetch asks the host, keeps and says.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExplorerViewMessage } from '@common/webviewProtocol';
import { AnalysisModel } from '../src/common/masks';
import { CheckpointAnalyses } from '../src/explorer/checkpointAnalyses';
import { HostRequests } from '../src/explorer/hostRequests';
import { makeAnalysis, sampleText, SMALL_SHAPE } from './fixtures';

const RUN = '/runs/r';
/** The same text at `step` (masks of their own), or a shorter one. */
const at = (step: number, tokens = SMALL_SHAPE.tokens) => new AnalysisModel(makeAnalysis({ ...SMALL_SHAPE, tokens, step, runDir: RUN, seed: step }, sampleText(tokens)));

function setup() {
  const posted: ExplorerViewMessage[] = [];
  const statuses: string[] = [];
  const requests = new HostRequests((m) => posted.push(m));
  return { posted, statuses, requests, analyses: new CheckpointAnalyses(requests, (s) => statuses.push(s)) };
}

describe('CheckpointAnalyses', () => {
  it('keeps the analyses of one text; another document or other tokens start over', () => {
    const { analyses } = setup();
    const a = at(500);
    const b = at(400);
    assert.equal(analyses.setBase(a, false), true, 'the first text is new');
    assert.equal(analyses.setBase(b, true), false, 'same document, same tokens');
    assert.equal(analyses.get(a.analysis.checkpoint.dir), a);
    assert.equal(analyses.get(b.analysis.checkpoint.dir), b);
    assert.equal(analyses.setBase(at(400, SMALL_SHAPE.tokens - 1), true), true, 'other tokens');
    assert.equal(analyses.get(a.analysis.checkpoint.dir), undefined);
    assert.equal(analyses.setBase(at(300, SMALL_SHAPE.tokens - 1), false), true, 'another document');
    assert.equal(analyses.get(b.analysis.checkpoint.dir), undefined);
  });

  it('fetches through the host, keeps the reply and says what it is doing', async () => {
    const { analyses, posted, requests, statuses } = setup();
    const older = makeAnalysis({ ...SMALL_SHAPE, step: 400, runDir: RUN });
    const dir = older.checkpoint.dir;
    const fetched = analyses.fetch(dir);
    const request = posted[0] as Extract<ExplorerViewMessage, { type: 'requestAnalysis' }>;
    assert.equal(request.checkpointDir, dir);
    assert.deepEqual(statuses, ['analyzing step-000400…']);
    requests.resolve({ type: 'scrubAnalysis', requestId: request.requestId, checkpointDir: dir, analysis: older });
    const model = await fetched;
    assert.equal(model?.analysis, older);
    assert.equal(analyses.get(dir), model);
    assert.equal(statuses.at(-1), '');
  });

  it('a failed fetch keeps nothing and says why', async () => {
    const { analyses, posted, requests, statuses } = setup();
    const fetched = analyses.fetch('/runs/r/checkpoints/step-000100');
    const { requestId } = posted[0] as Extract<ExplorerViewMessage, { type: 'requestAnalysis' }>;
    requests.resolve({ type: 'scrubAnalysis', requestId, checkpointDir: '/runs/r/checkpoints/step-000100', error: 'gone' });
    assert.equal(await fetched, null);
    assert.equal(analyses.get('/runs/r/checkpoints/step-000100'), undefined);
    assert.equal(statuses.at(-1), 'Could not analyze /runs/r/checkpoints/step-000100: gone');
  });

  it('a reply for a text no longer shown is not kept (nor shown over the new text); one request per checkpoint at a time', async () => {
    const { analyses, posted, requests } = setup();
    analyses.setBase(at(500), false);
    const older = makeAnalysis({ ...SMALL_SHAPE, step: 400, runDir: RUN, seed: 400 }, sampleText(SMALL_SHAPE.tokens));
    const dir = older.checkpoint.dir;
    const fetched = analyses.fetch(dir);
    assert.equal(analyses.fetch(dir), fetched, 'the same request');
    assert.equal(posted.length, 1);
    // the document changed (fewer tokens) before the host answered for the old text
    analyses.setBase(at(500, SMALL_SHAPE.tokens - 1), true);
    const { requestId } = posted[0] as Extract<ExplorerViewMessage, { type: 'requestAnalysis' }>;
    requests.resolve({ type: 'scrubAnalysis', requestId, checkpointDir: dir, analysis: older });
    assert.equal(await fetched, null);
    assert.equal(analyses.get(dir), undefined);
    // a later request is a new one
    analyses.fetch(dir);
    assert.equal(posted.length, 2);
  });
});
