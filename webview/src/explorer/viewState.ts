// What the explorer remembers (site, selection, pins, tab, filters, sort, diff, colour, what to
// re-analyze after a reload) and VS Code keeps for it while the panel is hidden (getState/setState).
import { textOf } from '@common/analysisText';
import type { AnalysisResult, ExplorerRestore, ExplorerSource } from '@common/webviewProtocol';
import type { AnalysisModel } from '../common/masks';
import type { Filters } from './filterView';
import type { TokenTypeSort } from './tokenTypesView';

/** What the heatmap cells colour: the mask m, or how decided it is, |2m − 1|. */
export type CellColour = 'mask' | 'decided';

export interface ExplorerViewState {
  site: number;
  selected: number | null;
  pinned: number[];
  tab: number;
  live: boolean;
  filters: Filters;
  sort: TokenTypeSort;
  diffWith: string | null;
  colour?: CellColour;
  /** What to re-analyze when VS Code restores the panel after a reload. */
  restore?: ExplorerRestore;
}

/** Texts up to this many characters are kept in the view state for a restore after reload. */
const RESTORE_TEXT_LIMIT = 200_000;

const DEFAULT_STATE: ExplorerViewState = {
  site: 0,
  selected: null,
  pinned: [],
  tab: 0,
  live: true,
  filters: { unit: null, range: null },
  sort: { key: 'count', site: 0, desc: true },
  diffWith: null,
};

/** Where the state is kept: the webview's channel (getState/setState). */
export interface StateStore {
  getState(): Partial<ExplorerViewState>;
  setState(state: ExplorerViewState): void;
}

export class ViewState {
  private state: ExplorerViewState;

  constructor(private readonly store: StateStore) {
    this.state = { ...DEFAULT_STATE, ...store.getState() };
  }

  get current(): ExplorerViewState {
    return this.state;
  }

  /** Changes part of the state and keeps it. */
  save(part: Partial<ExplorerViewState>): void {
    this.state = { ...this.state, ...part };
    this.store.setState(this.state);
  }

  /** Keeps the state as it is (after changes made without saving, e.g. fitTo). */
  persist(): void {
    this.store.setState(this.state);
  }

  /** A newly shown analysis: a site, a selection or pins it does not have are dropped (not kept yet). */
  fitTo(model: AnalysisModel): void {
    if (this.state.site >= model.sites.length) this.state.site = 0;
    if (this.state.selected !== null && this.state.selected >= model.tokenCount) this.state.selected = null;
    this.state.pinned = this.state.pinned.filter((t) => t < model.tokenCount);
  }

  /** What a reload re-analyzes: the source with its text (unless too long to keep), at this checkpoint (not kept yet). */
  setRestore(source: ExplorerSource, analysis: AnalysisResult): void {
    const text = source.text ?? (analysis.textLength <= RESTORE_TEXT_LIMIT ? textOf(analysis) : undefined);
    this.state.restore = text === undefined ? undefined : { source: { ...source, text }, checkpointDir: analysis.checkpoint.dir };
  }
}

/** The pins with `token` added: two pins at most, a third replaces the older one. */
export function pinnedWith(pinned: readonly number[], token: number): number[] {
  return [...pinned.filter((t) => t !== token), token].slice(-2);
}

/** Each marked token's classes in the strip: pins (A, B), the selection, the hovered token. */
export function tokenMarks(pinned: readonly number[], selected: number | null, hover: number | null): Map<number, string> {
  const marks = new Map<number, string>();
  const add = (t: number | null | undefined, cls: string): void => {
    if (t === null || t === undefined) return;
    marks.set(t, marks.has(t) ? `${marks.get(t)} ${cls}` : cls);
  };
  add(pinned[0], 'pin-a');
  add(pinned[1], 'pin-b');
  add(selected, 'sel');
  add(hover, 'hov');
  return marks;
}
