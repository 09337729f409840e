// Which tokens are selected, hovered and pinned, and who hears of a change: the strip's marks, the
// heatmap's overlay, the details panel, and the host (a reveal in the editor, the pins it keeps).
// The selection and pins are kept in the view state; the hover is not.
import type { ExplorerViewMessage } from '@common/webviewProtocol';
import type { AnalysisModel } from '../common/masks';
import type { TokenDetails } from './details';
import type { Heatmap } from './heatmap';
import type { KeyTarget } from './keyboard';
import type { Palette } from './palette';
import type { TokenStrip } from './tokenStrip';
import { pinnedWith, tokenMarks, type ViewState } from './viewState';

export interface MarkedParts {
  strip: TokenStrip;
  heatmap: Heatmap;
  details: TokenDetails;
}

/** What the app shows now (the details panel draws the token from it). */
export interface Shown {
  model(): AnalysisModel | null;
  palette(): Palette;
}

export class TokenSelection implements KeyTarget {
  private hover: number | null = null;

  constructor(
    private readonly view: ViewState,
    private readonly parts: MarkedParts,
    private readonly shown: Shown,
    private readonly post: (message: ExplorerViewMessage) => void,
  ) {}

  get selected(): number | null {
    return this.view.current.selected;
  }

  /** Tokens of the shown text (0 when none is shown). */
  get tokenCount(): number {
    return this.shown.model()?.tokenCount ?? 0;
  }

  setHover(token: number | null): void {
    if (token === this.hover) return;
    this.hover = token;
    this.render();
  }

  /** A click selects and reveals; with Alt or Shift it pins or unpins. */
  click(token: number, event: MouseEvent): void {
    if (event.altKey || event.shiftKey) {
      if (this.view.current.pinned.includes(token)) this.unpin(token);
      else this.pin(token);
      return;
    }
    this.select(token, true);
  }

  /** `reveal`: also show the token in the editor. */
  select(token: number, reveal: boolean): void {
    const model = this.shown.model();
    if (!model || token < 0 || token >= model.tokenCount) return;
    this.view.save({ selected: token });
    this.parts.heatmap.reveal(token);
    this.render();
    if (reveal) this.reveal(token);
  }

  /** Selects without revealing in the editor, and scrolls the strip to it. */
  selectAndScroll(token: number): void {
    this.select(token, false);
    this.parts.strip.scrollTo(token);
  }

  reveal(token: number): void {
    const tok = this.shown.model()?.tokens[token];
    if (tok) this.post({ type: 'revealToken', index: token, start: tok.start, end: tok.end });
  }

  pin(token: number): void {
    this.setPinned(pinnedWith(this.view.current.pinned, token));
  }

  unpin(token: number): void {
    this.setPinned(this.view.current.pinned.filter((t) => t !== token));
  }

  /** Selection, hover and pins: strip classes, heatmap overlay, details panel. */
  render(): void {
    const { pinned, selected, site } = this.view.current;
    this.parts.strip.setMarks(tokenMarks(pinned, selected, this.hover));
    this.renderHeatmapMarks();
    this.parts.details.show(this.shown.model(), this.hover ?? selected, site, pinned, this.shown.palette());
  }

  /** The heatmap's overlay alone (it also marks the unit the filter looks for). */
  renderHeatmapMarks(): void {
    const { pinned, selected, filters } = this.view.current;
    this.parts.heatmap.setMarks({ hover: this.hover, selected, pinned, unit: filters.unit });
  }

  private setPinned(pinned: number[]): void {
    this.view.save({ pinned });
    this.post({ type: 'pinToken', pinned });
    this.render();
  }
}
