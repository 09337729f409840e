// The explorer's toolbar: what is shown (run, step, tokens, cross-entropy), the site and colour
// choices, the Live toggle with its badge, and the export buttons. It keeps no state: the app says
// what to show and hears every choice through the callbacks.
import { select } from 'd3';
import { shortSiteLabel } from '@common/sites';
import type { ExportKind } from '@common/webviewProtocol';
import { el } from '../common/dom';
import { formatInt, formatValue } from '../common/format';
import type { AnalysisModel } from '../common/masks';
import type { CellColour } from './viewState';

export interface ToolbarCallbacks {
  site(site: number): void;
  colour(colour: CellColour): void;
  live(live: boolean): void;
  /** The badge was clicked: show the latest checkpoint that arrived while Live was off. */
  showLatest(): void;
  export(kind: ExportKind): void;
}

const EXPORT_TITLES: Record<ExportKind, string> = {
  svg: 'Export the current view as SVG',
  png: 'Export the current view as PNG',
  csv: "Export the chosen site's masks as CSV (one row per token, m per unit)",
  json: 'Export the whole analysis as JSON (lossless)',
};

export class Toolbar {
  readonly element: HTMLElement;
  private readonly sourceLabel: HTMLElement;
  private readonly siteSelect: HTMLSelectElement;
  private readonly colourSelect: HTMLSelectElement;
  private readonly liveBadge: HTMLElement;

  constructor(initial: { live: boolean; colour: CellColour }, callbacks: ToolbarCallbacks) {
    this.element = el('header', 'toolbar');
    this.sourceLabel = el('span', 'source-label', 'No analysis yet: run "LearnedDropout: Analyze" on some text.');
    // A native select: vscode-single-select measures itself (forced layout) on every update,
    // which costs more than the whole layer switch it is there for.
    this.siteSelect = el('select', 'ld-select site-select', undefined, { 'aria-label': 'layer and site' });
    this.siteSelect.addEventListener('change', () => callbacks.site(Number(this.siteSelect.value)));
    const live = el('vscode-checkbox', 'live-toggle', undefined, { label: 'Live' }) as HTMLElement & { checked: boolean };
    live.checked = initial.live;
    live.addEventListener('change', () => callbacks.live(live.checked));
    this.liveBadge = el('button', 'live-badge hidden', '', { title: 'Show the latest checkpoint' });
    this.liveBadge.addEventListener('click', () => callbacks.showLatest());
    const exportGroup = el('span', 'export-group');
    select(exportGroup)
      .selectAll('vscode-button')
      .data(['svg', 'png', 'csv', 'json'] as const)
      .join('vscode-button')
      .attr('class', (kind) => `export-${kind}`)
      .text((kind) => kind.toUpperCase())
      .attr('secondary', '')
      .attr('title', (kind) => EXPORT_TITLES[kind])
      .on('click', (_event, kind) => callbacks.export(kind));
    this.colourSelect = el('select', 'ld-select colour-select', undefined, { 'aria-label': 'what the heatmap cells colour' });
    this.colourSelect.append(el('option', undefined, 'mask m', { value: 'mask' }), el('option', undefined, 'decidedness |2m − 1|', { value: 'decided' }));
    this.colourSelect.value = initial.colour;
    this.colourSelect.addEventListener('change', () => callbacks.colour(this.colourSelect.value === 'decided' ? 'decided' : 'mask'));
    this.element.append(
      this.sourceLabel,
      el('label', 'toolbar-label', 'Site'),
      this.siteSelect,
      el('label', 'toolbar-label', 'Colour'),
      this.colourSelect,
      live,
      this.liveBadge,
      el('span', 'spacer'),
      exportGroup,
    );
  }

  /** The shown analysis: its run, step, token count and cross-entropy; the sites to choose from. */
  showModel(model: AnalysisModel, site: number): void {
    const a = model.analysis;
    const run = a.checkpoint.runDir.split(/[\\/]/).filter(Boolean).pop() ?? a.checkpoint.runDir;
    this.sourceLabel.textContent = `${run} · step ${formatInt(a.checkpoint.step)} · ${formatInt(model.tokenCount)} tokens${a.crossEntropy === null ? '' : ` · CE ${formatValue(a.crossEntropy)}`}`;
    this.sourceLabel.title = `${a.checkpoint.dir}\nwindow ${a.window}, stride ${a.stride}`;
    // One group per layer (the embedding first), one option per site.
    select(this.siteSelect)
      .selectAll('optgroup')
      .data(model.groups)
      .join('optgroup')
      .attr('label', (g) => (g.layer < 0 ? 'embedding' : `layer ${g.layer}`))
      .selectAll('option')
      .data((g) => g.sites)
      .join('option')
      .text((i) => `${shortSiteLabel(model.sites[i]!)} · ${model.sites[i]!.units} units`)
      .attr('value', (i) => String(i))
      .attr('title', (i) => model.sites[i]!.name);
    this.siteSelect.value = String(site);
  }

  showSite(site: number): void {
    if (this.siteSelect.value !== String(site)) this.siteSelect.value = String(site);
  }

  /** The badge's text ("live · step 400", "step 500 available"); shown from the first one on. */
  showLiveBadge(text: string): void {
    this.liveBadge.textContent = text;
    this.liveBadge.classList.remove('hidden');
  }

  /** What the view shows, in words (the title of an exported view). */
  get title(): string {
    return this.sourceLabel.textContent ?? '';
  }
}
