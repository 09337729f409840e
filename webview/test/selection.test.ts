// The explorer's token selection without a browser: what a click, a pin and a hover change, what
// the parts are told and what the host hears.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExplorerViewMessage } from '@common/webviewProtocol';
import { AnalysisModel } from '../src/common/masks';
import type { TokenDetails } from '../src/explorer/details';
import type { Heatmap, HeatmapMarks } from '../src/explorer/heatmap';
import type { Palette } from '../src/explorer/palette';
import { TokenSelection } from '../src/explorer/selection';
import type { TokenStrip } from '../src/explorer/tokenStrip';
import { ViewState, type ExplorerViewState } from '../src/explorer/viewState';
import { makeAnalysis, SMALL_SHAPE } from './fixtures';

function setup() {
  const model = new AnalysisModel(makeAnalysis(SMALL_SHAPE));
  const posted: ExplorerViewMessage[] = [];
  const told = { stripMarks: new Map<number, string>(), heatMarks: null as HeatmapMarks | null, details: null as number | null, revealed: [] as number[], scrolled: [] as number[] };
  const strip = { setMarks: (m: Map<number, string>) => void (told.stripMarks = m), scrollTo: (t: number) => void told.scrolled.push(t) };
  const heatmap = { setMarks: (m: HeatmapMarks) => void (told.heatMarks = m), reveal: (t: number) => void told.revealed.push(t) };
  const details = { show: (_m: unknown, token: number | null) => void (told.details = token) };
  let kept: ExplorerViewState | null = null;
  const view = new ViewState({ getState: () => ({}), setState: (s) => void (kept = s) });
  const selection = new TokenSelection(
    view,
    { strip: strip as unknown as TokenStrip, heatmap: heatmap as unknown as Heatmap, details: details as unknown as TokenDetails },
    { model: () => model, palette: () => ({}) as Palette },
    (m) => posted.push(m),
  );
  return { model, posted, told, selection, kept: () => kept };
}

const click = (mods: Partial<MouseEvent> = {}) => ({ altKey: false, shiftKey: false, ...mods }) as MouseEvent;

describe('TokenSelection', () => {
  it('a click selects, keeps it, marks it everywhere and reveals it in the editor', () => {
    const { model, posted, told, selection, kept } = setup();
    selection.click(12, click());
    assert.equal(kept()?.selected, 12);
    assert.equal(told.stripMarks.get(12), 'sel');
    assert.equal(told.heatMarks?.selected, 12);
    assert.equal(told.details, 12);
    assert.deepEqual(told.revealed, [12], 'the heatmap scrolls to it');
    const tok = model.tokens[12]!;
    assert.deepEqual(posted, [{ type: 'revealToken', index: 12, start: tok.start, end: tok.end }]);
  });

  it('Alt or Shift+click pins (two at most) and unpins; the host hears the pins', () => {
    const { posted, told, selection, kept } = setup();
    selection.click(3, click({ altKey: true }));
    selection.click(9, click({ shiftKey: true }));
    selection.click(20, click({ altKey: true }));
    assert.deepEqual(kept()?.pinned, [9, 20]);
    selection.click(9, click({ altKey: true }));
    assert.deepEqual(kept()?.pinned, [20]);
    assert.deepEqual(
      posted.map((m) => m.type === 'pinToken' && m.pinned),
      [[3], [3, 9], [9, 20], [20]],
    );
    assert.equal(told.stripMarks.get(20), 'pin-a');
    assert.equal(kept()?.selected, null, 'pinning does not select');
  });

  it('hover marks without keeping; the details show the hovered token over the selected one', () => {
    const { told, selection, kept } = setup();
    selection.select(5, false);
    selection.setHover(7);
    assert.equal(told.details, 7);
    assert.equal(told.heatMarks?.hover, 7);
    assert.equal(kept()?.selected, 5);
    selection.setHover(null);
    assert.equal(told.details, 5);
  });

  it('ignores tokens the text does not have', () => {
    const { model, posted, selection, kept } = setup();
    selection.select(model.tokenCount, true);
    selection.select(-1, true);
    assert.equal(kept(), null, 'nothing saved');
    assert.equal(posted.length, 0);
  });

  it('selects from elsewhere (the host, a token type) without revealing, and scrolls the strip to it', () => {
    const { posted, selection, told, kept } = setup();
    selection.selectAndScroll(40);
    assert.equal(kept()?.selected, 40);
    assert.deepEqual(told.scrolled, [40]);
    assert.equal(posted.length, 0);
  });
});
