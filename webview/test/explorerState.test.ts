// The Mask Explorer's view state and diff cells, without a browser: what is kept, what a newly
// shown analysis drops, how pins and marks combine, how flipped bits are coded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MaskSite } from '@common/webviewProtocol';
import { AnalysisModel, SiteMatrix } from '../src/common/masks';
import { diffCells, sameTokens } from '../src/explorer/diff';
import { pinnedWith, tokenMarks, ViewState, type ExplorerViewState } from '../src/explorer/viewState';
import { makeAnalysis, SMALL_SHAPE } from './fixtures';

/** What VS Code's getState/setState keep: the last state set. */
function memoryStore(initial: Partial<ExplorerViewState> = {}) {
  const saved: ExplorerViewState[] = [];
  return { saved, getState: () => initial, setState: (s: ExplorerViewState) => void saved.push(structuredClone(s)) };
}

describe('ViewState', () => {
  it('starts from the kept state over the defaults, and keeps every saved change', () => {
    const store = memoryStore({ site: 2, tab: 3 });
    const view = new ViewState(store);
    assert.equal(view.current.site, 2);
    assert.equal(view.current.tab, 3);
    assert.equal(view.current.live, true, 'a default');
    view.save({ selected: 5 });
    assert.equal(store.saved.at(-1)!.selected, 5);
    assert.equal(store.saved.at(-1)!.site, 2);
  });

  it('drops the site, selection and pins a newly shown analysis does not have', () => {
    const model = new AnalysisModel(makeAnalysis(SMALL_SHAPE));
    const store = memoryStore({ site: model.sites.length, selected: model.tokenCount, pinned: [1, model.tokenCount + 3] });
    const view = new ViewState(store);
    view.fitTo(model);
    assert.equal(store.saved.length, 0, 'not kept until the view persists it');
    view.persist();
    assert.deepEqual({ site: store.saved[0]!.site, selected: store.saved[0]!.selected, pinned: store.saved[0]!.pinned }, { site: 0, selected: null, pinned: [1] });
  });

  it('keeps the text to re-analyze after a reload, unless the source has none and it is too long', () => {
    const analysis = makeAnalysis(SMALL_SHAPE);
    const view = new ViewState(memoryStore());
    view.setRestore({ uri: 'file:///a.txt', runDir: '/runs/r' }, analysis);
    assert.equal(view.current.restore?.checkpointDir, analysis.checkpoint.dir);
    assert.equal(view.current.restore?.source.text?.length, analysis.textLength);
    view.setRestore({ uri: 'file:///a.txt', runDir: '/runs/r' }, { ...analysis, textLength: 200_001 });
    assert.equal(view.current.restore, undefined);
  });
});

describe('pins and marks', () => {
  it('two pins at most: a third replaces the older one; pinning again moves it last', () => {
    assert.deepEqual(pinnedWith([], 4), [4]);
    assert.deepEqual(pinnedWith([4, 7], 9), [7, 9]);
    assert.deepEqual(pinnedWith([4, 7], 4), [7, 4]);
  });

  it('a token pinned, selected and hovered carries every class', () => {
    const marks = tokenMarks([3, 8], 3, 3);
    assert.equal(marks.get(3), 'pin-a sel hov');
    assert.equal(marks.get(8), 'pin-b');
    assert.equal(tokenMarks([], null, null).size, 0);
  });
});

describe('diff cells', () => {
  it('codes off in both 0, on in both 85, switched on 170, switched off 255', () => {
    const site: MaskSite = { name: 'transformer.h.0.mlp.dropout', layer: 0, kind: 'mlp', units: 2 };
    // Two tokens × two units: off→off, on→on, off→on, on→off (m crosses 0.5 at q 128).
    const before = new SiteMatrix(site, 2, Uint8Array.from([0, 200, 127, 128]));
    const after = new SiteMatrix(site, 2, Uint8Array.from([100, 255, 128, 127]));
    assert.deepEqual([...diffCells(before, after)], [0, 85, 170, 255]);
  });

  it('two analyses of one text have the same tokens; a shorter one has not', () => {
    const model = new AnalysisModel(makeAnalysis(SMALL_SHAPE));
    assert.ok(sameTokens(model, new AnalysisModel(makeAnalysis(SMALL_SHAPE))));
    assert.ok(!sameTokens(model, new AnalysisModel(makeAnalysis({ ...SMALL_SHAPE, tokens: SMALL_SHAPE.tokens - 1 }))));
  });
});
