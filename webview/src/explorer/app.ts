// The Mask Explorer: owns the analysis (and the scrubber's other checkpoints), the view state,
// and wires the parts together. Parts only draw; every state change goes through here.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { afterPaint, byId, el, frameThrottle, whenIdle } from '../common/dom';
import { canvasToPngBase64, safeFileStem, svgToPngBase64 } from '../common/export';
import { describeExport, ExportClient } from '../common/exportClient';
import { formatInt, formatValue } from '../common/format';
import { ACTIVE_Q } from '@common/maskBytes';
import { shortSiteLabel } from '@common/sites';
import { displayToken } from '@common/tokens';
import { AnalysisModel, flips } from '../common/masks';
import { onThemeChange } from '../common/theme';
import type { TokenTypeStats } from '../common/tokenTypes';
import type { Channel } from '../common/vscodeApi';
import { attentionHeads, textOf } from '@common/analysisText';
import { PendingRequests } from '@common/requests';
import type { AnalysisResult, CheckpointInfo, ExplorerHostMessage, ExplorerRestore, ExplorerSource, ExplorerViewMessage, ExportKind, MaskReport } from '@common/webviewProtocol';
import { TokenDetails } from './details';
import { analysisJson, masksCsv, viewSvg } from './exporter';
import { FilterView, type Filters } from './filterView';
import { Heatmap, type HeatmapData } from './heatmap';
import { SmallMultiples } from './multiples';
import { readPalette, type Palette } from './palette';
import { ReportView } from './reportView';
import { Scrubber, type FlipSummary } from './scrubber';
import { decidedBytes, keptFraction, siteSummaryText } from './siteFigures';
import { activeLevels, LEVELS, TokenStrip } from './tokenStrip';
import { TokenTypesView, type TokenTypeSort } from './tokenTypesView';

/** What VS Code keeps for us while the panel is hidden (getState/setState). */
export interface ExplorerViewState {
  site: number;
  selected: number | null;
  pinned: number[];
  tab: number;
  live: boolean;
  filters: Filters;
  sort: TokenTypeSort;
  diffWith: string | null;
  /** What the heatmap cells colour: the mask m, or how decided it is, |2m − 1|. */
  colour?: 'mask' | 'decided';
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

export class ExplorerApp {
  private state: ExplorerViewState;
  private base: AnalysisModel | null = null;
  private source: ExplorerSource | null = null;
  /** Analyses of the same text at other checkpoints (scrubber), by checkpoint dir. */
  private readonly byCheckpoint = new Map<string, AnalysisModel>();
  private shown: AnalysisModel | null = null;
  private checkpoints: CheckpointInfo[] = [];
  private hover: number | null = null;
  private palette: Palette;
  private levels: Uint8Array = new Uint8Array(0);
  private liveBacklog: AnalysisResult | null = null;
  private readonly scrubRequests = new PendingRequests<Extract<ExplorerHostMessage, { type: 'scrubAnalysis' }>>();
  private readonly reportRequests = new PendingRequests<Extract<ExplorerHostMessage, { type: 'report' }>>();
  private readonly exports: ExportClient;

  private readonly strip: TokenStrip;
  private readonly heatmap: Heatmap;
  private readonly multiples: SmallMultiples;
  private readonly details: TokenDetails;
  private readonly types: TokenTypesView;
  private readonly filters: FilterView;
  private readonly scrubber: Scrubber;
  private readonly report: ReportView;
  private readonly colourSelect: HTMLSelectElement;
  private readonly heatLegend: HTMLElement;
  private readonly siteChance: HTMLElement;
  private readonly siteSelect: HTMLSelectElement;
  private readonly sourceLabel: HTMLElement;
  private readonly readout: HTMLElement;
  private readonly statusLine: HTMLElement;
  private readonly liveBadge: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly scheduleMultiples = frameThrottle(() => this.renderMultiples());
  /**
   * The tab panels (token types chart and table, unit filter histogram) follow a layer switch one
   * frame later: the heatmap and strip answer the click first, in a frame of their own.
   */
  private readonly schedulePanels = afterPaint(() => {
    const model = this.shown;
    if (!model) return;
    this.types.setSite(this.state.site);
    this.filters.render();
    window.dispatchEvent(new CustomEvent('ldlens:panels'));
  });

  constructor(private readonly channel: Channel<ExplorerViewMessage, ExplorerViewState>) {
    this.state = { ...DEFAULT_STATE, ...channel.getState() };
    this.exports = new ExportClient((m) => channel.post(m));
    this.palette = readPalette();

    const root = byId('app');
    root.classList.add('explorer');

    // ---- toolbar
    const toolbar = el('header', 'toolbar');
    this.sourceLabel = el('span', 'source-label', 'No analysis yet: run "LearnedDropout: Analyze" on some text.');
    // A native select: vscode-single-select measures itself (forced layout) on every update,
    // which costs more than the whole layer switch it is there for.
    this.siteSelect = el('select', 'ld-select site-select', undefined, { 'aria-label': 'layer and site' });
    this.siteSelect.addEventListener('change', () => this.setSite(Number(this.siteSelect.value)));
    const live = el('vscode-checkbox', 'live-toggle', undefined, { label: 'Live' }) as HTMLElement & { checked: boolean };
    live.checked = this.state.live;
    live.addEventListener('change', () => this.setLive(live.checked));
    this.liveBadge = el('button', 'live-badge hidden', '', { title: 'Show the latest checkpoint' });
    this.liveBadge.addEventListener('click', () => this.applyLiveBacklog());
    const exportGroup = el('span', 'export-group');
    for (const kind of ['svg', 'png', 'csv', 'json'] as const) {
      const b = el('vscode-button', `export-${kind}`, kind.toUpperCase(), { secondary: '', title: exportTitle(kind) });
      b.addEventListener('click', () => void this.export(kind));
      exportGroup.append(b);
    }
    this.colourSelect = el('select', 'ld-select colour-select', undefined, { 'aria-label': 'what the heatmap cells colour' });
    this.colourSelect.append(el('option', undefined, 'mask m', { value: 'mask' }), el('option', undefined, 'decidedness |2m − 1|', { value: 'decided' }));
    this.colourSelect.value = this.state.colour ?? 'mask';
    this.colourSelect.addEventListener('change', () => this.setColour(this.colourSelect.value === 'decided' ? 'decided' : 'mask'));
    toolbar.append(
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

    // ---- token strip
    this.strip = new TokenStrip({
      hover: (t) => this.setHover(t),
      click: (t, e) => this.clickToken(t, e),
      key: (e) => this.onKey(e),
    });
    const stripSection = el('section', 'strip-section');
    this.legend = el('div', 'legend strip-legend');
    this.siteChance = el('div', 'site-chance muted');
    stripSection.append(this.strip.element, this.legend, this.siteChance);

    // ---- heatmap + multiples + details
    this.readout = el('div', 'readout', '\u00a0');
    this.heatmap = new Heatmap({
      hover: (t, u) => {
        this.setHover(t);
        this.updateReadout(t, u);
      },
      click: (t, e) => this.clickToken(t, e),
      window: () => this.scheduleMultiples(),
      key: (e) => this.onKey(e),
    });
    this.multiples = new SmallMultiples((s) => this.setSite(s));
    this.details = new TokenDetails({
      pin: (t) => this.pin(t),
      unpin: (t) => this.unpin(t),
      reveal: (t) => this.reveal(t),
      selectSite: (s) => this.setSite(s),
    });
    const heatPane = el('div', 'heat-pane');
    const heatHead = el('div', 'heat-head');
    this.heatLegend = el('span', 'heat-legend');
    heatHead.append(el('span', 'heat-title', 'Units × tokens (wheel: zoom, drag: pan, double-click: reset)'), this.heatLegend, this.readout);
    heatPane.append(heatHead, this.heatmap.element, this.multiples.element);
    const main = el('section', 'main-section');
    main.append(heatPane, this.details.element);

    // ---- tabs
    this.types = new TokenTypesView(this.state.sort, {
      select: (s) => this.highlightType(s),
      sortChanged: (sort) => this.save({ sort }),
    });
    this.filters = new FilterView(this.state.filters, {
      change: (f) => {
        this.save({ filters: f });
        this.applyFilters();
      },
      select: (t) => this.select(t, true),
    });
    this.scrubber = new Scrubber({
      show: (dir) => void this.showCheckpoint(dir),
      diffWith: (dir) => {
        this.save({ diffWith: dir });
        void this.applyDiff();
      },
    });
    const tabs = el('vscode-tabs', 'tabs', undefined, { 'selected-index': String(this.state.tab) });
    tabs.addEventListener('vsc-tabs-select', (e) => {
      this.save({ tab: (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex });
      this.syncTabs();
    });
    const tab = (title: string, body: HTMLElement): void => {
      tabs.append(el('vscode-tab-header', undefined, title, { slot: 'header' }));
      const panel = el('vscode-tab-panel');
      panel.append(body);
      tabs.append(panel);
    };
    tab('Token types', this.types.element);
    tab('Unit search & filter', this.filters.element);
    tab('Checkpoints', this.scrubber.element);
    this.report = new ReportView({ request: () => this.requestReport() });
    tab('Mask report', this.report.element);

    this.statusLine = el('footer', 'status-line', '\u00a0', { role: 'status' });
    root.replaceChildren(toolbar, stripSection, main, tabs, this.statusLine);

    this.syncTabs();
    onThemeChange(() => {
      this.palette = readPalette();
      this.heatmap.readColours();
      this.strip.readColours();
      this.renderSite();
    });
    this.renderAll();
  }

  /** Only the open tab draws; the others catch up when opened. */
  private syncTabs(): void {
    this.types.setVisible(this.state.tab === 0);
    this.filters.setVisible(this.state.tab === 1);
  }

  // ------------------------------------------------------------------ messages from the host

  setAnalysis(analysis: AnalysisResult, source: ExplorerSource | null): void {
    const model = new AnalysisModel(analysis);
    const sameText = this.base !== null && source !== null && this.source !== null && this.source.uri === source.uri && sameTokens(this.base, model);
    if (!sameText) this.byCheckpoint.clear();
    this.base = model;
    if (source) this.source = source;
    this.byCheckpoint.set(analysis.checkpoint.dir, model);
    if (this.source) {
      const text = this.source.text ?? (analysis.textLength <= RESTORE_TEXT_LIMIT ? textOf(analysis) : undefined);
      this.state.restore = text === undefined ? undefined : { source: { ...this.source, text }, checkpointDir: analysis.checkpoint.dir };
    }
    this.show(model, !sameText);
  }

  liveAnalysis(analysis: AnalysisResult): void {
    if (!this.state.live) {
      this.liveBacklog = analysis;
      this.liveBadge.textContent = `step ${formatInt(analysis.checkpoint.step)} available`;
      this.liveBadge.classList.remove('hidden');
      return;
    }
    this.liveBadge.textContent = `live · step ${formatInt(analysis.checkpoint.step)}`;
    this.liveBadge.classList.remove('hidden');
    this.setAnalysis(analysis, this.source);
  }

  setCheckpoints(list: CheckpointInfo[]): void {
    this.checkpoints = list;
    this.scrubber.setCheckpoints(list, this.shown?.analysis.checkpoint.dir ?? null, this.state.diffWith);
  }

  setLiveRunning(live: boolean): void {
    this.root.classList.toggle('live-run', live);
  }

  scrubAnalysis(requestId: number, checkpointDir: string, analysis?: AnalysisResult, error?: string): void {
    this.scrubRequests.resolve({ type: 'scrubAnalysis', requestId, checkpointDir, analysis, error });
  }

  private onCheckpointAnalysis(purpose: 'show' | 'diff', { checkpointDir, analysis, error }: { checkpointDir: string; analysis?: AnalysisResult; error?: string }): void {
    if (error || !analysis) {
      this.scrubber.setStatus(`Could not analyze ${checkpointDir}: ${error ?? 'no result'}`);
      return;
    }
    this.byCheckpoint.set(checkpointDir, new AnalysisModel(analysis));
    this.scrubber.setStatus('');
    if (purpose === 'show') this.show(this.byCheckpoint.get(checkpointDir)!, false);
    else void this.applyDiff();
  }

  /** The host's answer to a report request. */
  reportResult(requestId: number, report?: MaskReport, error?: string): void {
    this.reportRequests.resolve({ type: 'report', requestId, checkpointDir: '', report, error });
  }

  exportResult = (r: Parameters<ExportClient['resolve']>[0]): void => {
    this.exports.resolve(r);
    this.status(describeExport(r));
  };

  /** Selects a token without revealing it in the editor (the host asked for it). */
  selectFromHost(index: number): void {
    this.select(index, false);
    this.strip.scrollTo(index);
  }

  // ------------------------------------------------------------------ state changes

  private get root(): HTMLElement {
    return byId('app');
  }

  private save(part: Partial<ExplorerViewState>): void {
    this.state = { ...this.state, ...part };
    this.channel.setState(this.state);
  }

  private show(model: AnalysisModel, newText: boolean): void {
    const started = performance.now();
    const previous = this.shown;
    this.shown = model;
    if (this.state.site >= model.sites.length) this.state.site = 0;
    for (const key of ['selected'] as const) {
      const v = this.state[key];
      if (v !== null && v >= model.tokenCount) this.state[key] = null;
    }
    this.state.pinned = this.state.pinned.filter((t) => t < model.tokenCount);
    this.fillSiteSelect(model);
    const a = model.analysis;
    const run = a.checkpoint.runDir.split(/[\\/]/).filter(Boolean).pop() ?? a.checkpoint.runDir;
    this.sourceLabel.textContent = `${run} · step ${formatInt(a.checkpoint.step)} · ${formatInt(model.tokenCount)} tokens${a.crossEntropy === null ? '' : ` · CE ${formatValue(a.crossEntropy)}`}`;
    this.sourceLabel.title = `${a.checkpoint.dir}\nwindow ${a.window}, stride ${a.stride}`;
    const rebuildStrip = newText || !previous || !sameTokens(previous, model);
    this.levels = siteLevels(model, this.state.site);
    if (rebuildStrip) this.strip.setTokens(model.tokens, this.levels);
    this.multiples.setModel(model);
    this.renderSite(!rebuildStrip);
    this.types.setModel(model);
    this.filters.setModel(model, this.state.site);
    this.applyFilters();
    this.scrubber.setCheckpoints(this.checkpoints, a.checkpoint.dir, this.state.diffWith);
    this.scrubber.setCurrent(a.checkpoint.dir);
    this.report.setShownStep(a.checkpoint.step);
    this.renderMarks();
    if (this.state.diffWith) void this.applyDiff();
    else this.scrubber.setFlips(null, null);
    this.channel.setState(this.state);
    // Every other site is decoded and painted while idle, one per slot, so that hovering a token
    // or switching layers later never waits for it.
    const pending = model.sites.map((_, i) => i);
    const next = (): void => {
      const i = pending.shift();
      if (i === undefined || this.shown !== model) return;
      this.heatmap.prepare(this.heatmapData(model, i));
      whenIdle(next);
    };
    whenIdle(next);
    const ms = performance.now() - started;
    this.root.dataset['renders'] = String(Number(this.root.dataset['renders'] ?? 0) + 1);
    window.dispatchEvent(new CustomEvent('ldlens:rendered', { detail: { ms, tokens: model.tokenCount } }));
  }

  private fillSiteSelect(model: AnalysisModel): void {
    const groups = model.groups.map((g) => {
      const group = el('optgroup', undefined, undefined, { label: g.layer < 0 ? 'embedding' : `layer ${g.layer}` });
      for (const i of g.sites) {
        const s = model.sites[i]!;
        group.append(el('option', undefined, `${shortSiteLabel(s)} · ${s.units} units`, { value: String(i), title: s.name }));
      }
      return group;
    });
    this.siteSelect.replaceChildren(...groups);
    this.siteSelect.value = String(this.state.site);
  }

  setSite(site: number): void {
    const model = this.shown;
    if (!model || site < 0 || site >= model.sites.length) return;
    this.save({ site });
    if (this.siteSelect.value !== String(site)) this.siteSelect.value = String(site);
    this.levels = siteLevels(model, site);
    // The small multiples show every site already; only their highlight moves.
    this.renderSite(true, false);
    this.filters.setModel(model, site, false);
    this.schedulePanels();
    this.applyFilters();
    if (this.state.diffWith) void this.applyDiff();
    this.renderMarks();
  }

  private setColour(colour: 'mask' | 'decided'): void {
    this.save({ colour });
    if (this.colourSelect.value !== colour) this.colourSelect.value = colour;
    // Only the cells change (the strip stays on kept fractions); cached site images are stale.
    const model = this.shown;
    if (!model) return;
    if (this.state.diffWith) void this.applyDiff();
    else this.renderSite(false);
  }

  private requestReport(): void {
    const a = this.shown?.analysis;
    if (!a) {
      this.report.setError('no analysis yet');
      return;
    }
    this.report.setPending(a.checkpoint.step);
    void this.reportRequests
      .request((requestId) => this.channel.post({ type: 'requestReport', requestId, checkpointDir: a.checkpoint.dir }))
      .then(({ report, error }) => {
        if (error || !report) this.report.setError(error ?? 'no result');
        else this.report.setReport(report, this.shown?.analysis.checkpoint.step ?? report.checkpoint.step);
      });
  }

  /** Re-draws what depends on the site: heatmap cells, strip colours, legend (and multiples). */
  private renderSite(updateStrip = true, multiples = true): void {
    const model = this.shown;
    if (!model) return;
    const site = this.state.site;
    this.heatmap.setData(this.heatmapData(model, site));
    if (updateStrip) this.strip.setLevels(this.levels);
    this.multiples.setCurrent(site);
    if (multiples) this.renderMultiples();
    this.renderLegend(model, site);
  }

  private heatmapData(model: AnalysisModel, site: number): HeatmapData {
    const s = model.sites[site]!;
    const q = model.matrix(site).data;
    return {
      data: this.state.colour === 'decided' ? decidedBytes(q) : q,
      tokens: model.tokenCount,
      units: s.units,
      lut: this.palette.heat,
      aggregate: 'mean',
      groupSize: s.kind === 'attention' ? s.units / attentionHeads(s, model.analysis.layers[site]) : undefined,
    };
  }

  private renderMultiples(): void {
    const [t0, t1] = this.heatmap.window();
    this.multiples.render(this.shown, t0, t1, this.palette.heat);
  }

  /** Legend parts, built once and updated in place (a layer switch changes only their text). */
  private legendParts: { title: HTMLElement; cells: HTMLElement[] } | null = null;

  private renderLegend(model: AnalysisModel, site: number, diffMax?: number): void {
    const [min, max] = diffMax === undefined ? keptRange(model, site) : [0, diffMax];
    const attention = model.sites[site]!.kind === 'attention';
    const what = diffMax === undefined ? `fraction of ${attention ? 'causal keys' : 'units'} kept per token (m ≥ 0.5)` : 'flipped units per token (diff)';
    if (!this.legendParts) {
      const title = el('span', 'muted');
      const cells: HTMLElement[] = [];
      for (let l = 0; l < LEVELS; l += 3) cells.push(el('span', `tok lv${l} legend-cell`));
      cells.push(el('span', `tok lv${LEVELS - 1} legend-cell`));
      this.legend.replaceChildren(title, ...cells, el('span', 'muted', '· click: select & reveal · Alt+click: pin to compare'));
      this.legendParts = { title, cells };
    }
    const { title, cells } = this.legendParts;
    setText(title, `${shortSiteLabel(model.sites[site]!)}: ${what}`);
    const label = (v: number): string => (diffMax === undefined ? v.toFixed(2) : String(Math.round(v)));
    cells.forEach((c, k) => setText(c, label(k === cells.length - 1 ? max : min + ((k * 3) / (LEVELS - 1)) * (max - min))));
    setText(this.siteChance, diffMax === undefined ? `${shortSiteLabel(model.sites[site]!)} over this text: ${siteSummaryText(model, site)}` : '');
    setText(
      this.heatLegend,
      diffMax !== undefined ? '' : this.state.colour === 'decided' ? 'colour: decidedness |2m − 1|, dark 0 (m = 0.5) … bright 1 (m at 0 or 1)' : 'colour: mask m, dark 0 … bright 1',
    );
  }

  private setHover(token: number | null): void {
    if (token === this.hover) return;
    this.hover = token;
    this.renderMarks();
  }

  private clickToken(token: number, event: MouseEvent): void {
    if (event.altKey || event.shiftKey) {
      if (this.state.pinned.includes(token)) this.unpin(token);
      else this.pin(token);
      return;
    }
    this.select(token, true);
  }

  select(token: number, reveal: boolean): void {
    const model = this.shown;
    if (!model || token < 0 || token >= model.tokenCount) return;
    this.save({ selected: token });
    this.heatmap.reveal(token);
    this.renderMarks();
    if (reveal) this.reveal(token);
  }

  /** ←/→ previous/next token, Home/End, Enter reveals in the editor, P pins. */
  private onKey(e: KeyboardEvent): void {
    const model = this.shown;
    if (!model || !model.tokenCount) return;
    const current = this.state.selected ?? -1;
    const go = (t: number): void => {
      e.preventDefault();
      this.select(Math.max(0, Math.min(model.tokenCount - 1, t)), false);
      this.strip.scrollTo(this.state.selected!);
    };
    if (e.key === 'ArrowRight') go(current + 1);
    else if (e.key === 'ArrowLeft') go(current - 1);
    else if (e.key === 'Home') go(0);
    else if (e.key === 'End') go(model.tokenCount - 1);
    else if (e.key === 'Enter' && current >= 0) this.reveal(current);
    else if ((e.key === 'p' || e.key === 'P') && current >= 0) this.pin(current);
  }

  private reveal(token: number): void {
    const tok = this.shown?.tokens[token];
    if (tok) this.channel.post({ type: 'revealToken', index: token, start: tok.start, end: tok.end });
  }

  private pin(token: number): void {
    // Two pins at most: a third replaces the older one.
    const pinned = [...this.state.pinned.filter((t) => t !== token), token].slice(-2);
    this.save({ pinned });
    this.channel.post({ type: 'pinToken', pinned });
    this.renderMarks();
  }

  private unpin(token: number): void {
    const pinned = this.state.pinned.filter((t) => t !== token);
    this.save({ pinned });
    this.channel.post({ type: 'pinToken', pinned });
    this.renderMarks();
  }

  /** Selection, hover and pins: strip classes, heatmap overlay, details panel. */
  private renderMarks(): void {
    const marks = new Map<number, string>();
    const add = (t: number | null | undefined, cls: string): void => {
      if (t === null || t === undefined) return;
      marks.set(t, marks.has(t) ? `${marks.get(t)} ${cls}` : cls);
    };
    add(this.state.pinned[0], 'pin-a');
    add(this.state.pinned[1], 'pin-b');
    add(this.state.selected, 'sel');
    add(this.hover, 'hov');
    this.strip.setMarks(marks);
    this.heatmap.setMarks({ hover: this.hover, selected: this.state.selected, pinned: this.state.pinned, unit: this.state.filters.unit });
    this.details.show(this.shown, this.hover ?? this.state.selected, this.state.site, this.state.pinned, this.palette);
  }

  private updateReadout(token: number | null, unit: number | null): void {
    const model = this.shown;
    if (!model || token === null || unit === null) {
      this.readout.textContent = '\u00a0';
      return;
    }
    const m = model.matrix(this.state.site);
    const q = m.q(token, unit);
    this.readout.textContent = `token #${token} ${displayToken(model.tokens[token]!.text)} · unit ${unit} · m = ${(q / 255).toFixed(4)} (q ${q})${q >= ACTIVE_Q ? ' · active' : ''}`;
  }

  private applyFilters(): void {
    this.strip.setDimmed(this.filters.dimmed());
    this.heatmap.setMarks({ hover: this.hover, selected: this.state.selected, pinned: this.state.pinned, unit: this.state.filters.unit });
  }

  private highlightType(stats: TokenTypeStats | null): void {
    if (!stats || !this.shown) {
      this.strip.setDimmed(this.filters.dimmed());
      return;
    }
    const dim = new Uint8Array(this.shown.tokenCount).fill(1);
    for (const t of stats.occurrences) dim[t] = 0;
    this.strip.setDimmed(dim);
    this.select(stats.occurrences[0]!, false);
    this.strip.scrollTo(stats.occurrences[0]!);
    this.status(`${displayToken(stats.text)}: ${stats.count} occurrences highlighted`);
  }

  private setLive(live: boolean): void {
    this.save({ live });
    if (live) this.applyLiveBacklog();
  }

  private applyLiveBacklog(): void {
    const a = this.liveBacklog;
    this.liveBacklog = null;
    if (a) {
      this.liveBadge.textContent = `live · step ${formatInt(a.checkpoint.step)}`;
      this.setAnalysis(a, this.source);
    }
  }

  // ------------------------------------------------------------------ scrubber and diff

  private requestCheckpoint(dir: string, purpose: 'show' | 'diff'): void {
    this.scrubber.setStatus(`analyzing ${dir.split(/[\\/]/).pop()}…`);
    void this.scrubRequests.request((requestId) => this.channel.post({ type: 'requestAnalysis', requestId, checkpointDir: dir })).then((reply) => this.onCheckpointAnalysis(purpose, reply));
  }

  private async showCheckpoint(dir: string): Promise<void> {
    const cached = this.byCheckpoint.get(dir);
    if (cached) this.show(cached, false);
    else this.requestCheckpoint(dir, 'show');
  }

  private async applyDiff(): Promise<void> {
    const model = this.shown;
    const dir = this.state.diffWith;
    if (!model) return;
    if (!dir) {
      this.scrubber.setFlips(null, null);
      this.renderSite(true);
      this.root.classList.remove('diff-mode');
      return;
    }
    const other = this.byCheckpoint.get(dir);
    if (!other) return this.requestCheckpoint(dir, 'diff');
    if (!sameTokens(other, model)) {
      this.scrubber.setStatus('The two checkpoints tokenized the text differently; no diff.');
      return;
    }
    const site = this.state.site;
    const a = other.matrix(site);
    const b = model.matrix(site);
    // Diff cells (see palette.diff): 0 off in both, 85 on in both, 170 switched on, 255 switched off.
    const codes = new Uint8Array(a.data.length);
    for (let i = 0; i < codes.length; i++) {
      const x = a.data[i]! >= ACTIVE_Q;
      const y = b.data[i]! >= ACTIVE_Q;
      codes[i] = x === y ? (x ? 85 : 0) : y ? 170 : 255;
    }
    const s = model.sites[site]!;
    this.heatmap.setData({ data: codes, tokens: model.tokenCount, units: s.units, lut: this.palette.diff, aggregate: 'max', groupSize: s.kind === 'attention' ? s.units / attentionHeads(s, model.analysis.layers[site]) : undefined });
    const f = flips(a, b);
    let maxFlips = 0;
    for (const v of f.perToken) maxFlips = Math.max(maxFlips, v);
    this.strip.setLevels(activeLevels(Array.from(f.perToken), maxFlips), '--ld-diff-off');
    this.root.classList.add('diff-mode');
    this.renderLegend(model, site, maxFlips);
    const rows: FlipSummary[] = model.sites.map((st, i) => {
      const fi = i === site ? f : flips(other.matrix(i), model.matrix(i));
      return { label: shortSiteLabel(st), on: fi.on, off: fi.off, cells: model.tokenCount * st.units };
    });
    this.scrubber.setFlips(rows, `step ${formatInt(other.analysis.checkpoint.step)}`);
  }

  // ------------------------------------------------------------------ export

  private async export(kind: ExportKind): Promise<void> {
    const model = this.shown;
    if (!model) return this.status('Nothing to export yet.');
    const stem = safeFileStem(`masks-step${model.analysis.checkpoint.step}-${shortSiteLabel(model.sites[this.state.site]!)}`);
    try {
      let result;
      if (kind === 'csv') result = await this.exports.send('csv', `${stem}.csv`, masksCsv(model, this.state.site), 'text');
      else if (kind === 'json') result = await this.exports.send('json', `${safeFileStem(`analysis-step${model.analysis.checkpoint.step}`)}.json`, analysisJson(model), 'text');
      else {
        const snapshot = viewSvg({
          model,
          site: this.state.site,
          window: this.heatmap.window(),
          heatmap: this.heatmap.canvas,
          axes: this.heatmap.axes,
          levels: this.levels,
          levelColors: levelColors(),
          title: this.sourceLabel.textContent ?? '',
          colours: `strip: ${this.legendParts?.title.textContent ?? ''} · cells: ${(this.heatLegend.textContent ?? '').replace(/^colour: /, '')}`,
        });
        if (kind === 'svg') result = await this.exports.send('svg', `${stem}.svg`, snapshot.svg, 'text');
        else {
          let png: string;
          try {
            png = await svgToPngBase64(snapshot.svg, snapshot.width, snapshot.height);
          } catch {
            png = canvasToPngBase64(this.heatmap.canvas); // an SVG that fails to rasterize: the cells alone
          }
          result = await this.exports.send('png', `${stem}.png`, png, 'base64');
        }
      }
      this.status(describeExport(result));
    } catch (e) {
      this.status(`Export failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private status(text: string): void {
    this.statusLine.textContent = text;
  }

  private renderAll(): void {
    this.details.show(null, null, 0, [], this.palette);
    this.scrubber.setCheckpoints([], null, null);
    this.scrubber.setFlips(null, null);
  }

  /** For tests and the benchmark: the parts, read-only. */
  get debug(): { heatmap: Heatmap; strip: TokenStrip; model: AnalysisModel | null; state: ExplorerViewState; palette: Palette } {
    return { heatmap: this.heatmap, strip: this.strip, model: this.shown, state: this.state, palette: this.palette };
  }
}

/**
 * The strip's colour levels at a site: its range of kept fractions spread over the levels
 * (fractions, not counts: attention counts grow with the token's position in its window).
 */
function siteLevels(model: AnalysisModel, site: number): Uint8Array {
  const [min, max] = keptRange(model, site);
  return activeLevels(keptFraction(model, site), max, min);
}

function keptRange(model: AnalysisModel, site: number): [number, number] {
  const kept = keptFraction(model, site);
  let min = Infinity;
  let max = -Infinity;
  for (const v of kept) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? [min, max] : [0, 0];
}

function setText(e: HTMLElement, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

function sameTokens(a: AnalysisModel, b: AnalysisModel): boolean {
  if (a.tokenCount !== b.tokenCount) return false;
  const ta = a.tokens;
  const tb = b.tokens;
  for (let i = 0; i < ta.length; i++) if (ta[i]!.id !== tb[i]!.id || ta[i]!.start !== tb[i]!.start) return false;
  return true;
}

/** Resolved background colours of the strip's levels (for SVG export). */
function levelColors(): string[] {
  const out: string[] = [];
  const probe = el('span', 'tok');
  byId('app').append(probe); // inside the view: diff mode changes the level colour
  for (let l = 0; l < LEVELS; l++) {
    probe.className = `tok lv${l}`;
    out.push(getComputedStyle(probe).backgroundColor);
  }
  probe.remove();
  return out;
}

function exportTitle(kind: ExportKind): string {
  return {
    svg: 'Export the current view as SVG',
    png: 'Export the current view as PNG',
    csv: "Export the chosen site's masks as CSV (one row per token, m per unit)",
    json: 'Export the whole analysis as JSON (lossless)',
  }[kind];
}
