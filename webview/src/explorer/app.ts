// The Mask Explorer: owns the shown analysis, composes the parts and routes the host's messages and
// the parts' callbacks. Parts only draw; what the view shows is kept in the view state.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { attentionHeads } from '@common/analysisText';
import { ACTIVE_Q } from '@common/maskBytes';
import { displayToken } from '@common/tokens';
import type { AnalysisResult, CheckpointInfo, ExplorerSource, ExplorerViewMessage, ExportKind, ExportResult } from '@common/webviewProtocol';
import { afterPaint, byId, el, frameThrottle, whenIdle } from '../common/dom';
import { formatInt } from '../common/format';
import { AnalysisModel, flips } from '../common/masks';
import { onThemeChange } from '../common/theme';
import type { TokenTypeStats } from '../common/tokenTypes';
import type { Channel } from '../common/vscodeApi';
import { CheckpointAnalyses } from './checkpointAnalyses';
import { TokenDetails } from './details';
import { diffCells, flipRows, sameTokens } from './diff';
import { FilterView } from './filterView';
import { Heatmap, type HeatmapData } from './heatmap';
import { HostRequests, type AnalysisReply, type ReportReply } from './hostRequests';
import { handleTokenKey } from './keyboard';
import { Legends } from './legends';
import { SmallMultiples } from './multiples';
import { readPalette, type Palette } from './palette';
import { ReportView } from './reportView';
import { Scrubber } from './scrubber';
import { TokenSelection } from './selection';
import { decidedBytes, siteLevels } from './siteFigures';
import { Toolbar } from './toolbar';
import { activeLevels, TokenStrip } from './tokenStrip';
import { TokenTypesView } from './tokenTypesView';
import { ViewExport } from './viewExport';
import { ViewState, type CellColour, type ExplorerViewState } from './viewState';

export class ExplorerApp {
  private readonly view: ViewState;
  private source: ExplorerSource | null = null;
  private shown: AnalysisModel | null = null;
  private checkpoints: CheckpointInfo[] = [];
  private palette: Palette;
  private levels: Uint8Array = new Uint8Array(0);
  private liveBacklog: AnalysisResult | null = null;
  private readonly requests: HostRequests;
  private readonly checkpointAnalyses: CheckpointAnalyses;
  private readonly exports: ViewExport;
  private readonly selection: TokenSelection;

  private readonly toolbar: Toolbar;
  private readonly legends = new Legends();
  private readonly strip: TokenStrip;
  private readonly heatmap: Heatmap;
  private readonly multiples: SmallMultiples;
  private readonly details: TokenDetails;
  private readonly types: TokenTypesView;
  private readonly filters: FilterView;
  private readonly scrubber: Scrubber;
  private readonly report: ReportView;
  private readonly readout: HTMLElement;
  private readonly statusLine: HTMLElement;
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

  constructor(channel: Channel<ExplorerViewMessage, ExplorerViewState>) {
    this.view = new ViewState(channel);
    this.requests = new HostRequests((m) => channel.post(m));
    this.exports = new ViewExport((m) => channel.post(m), (text) => this.status(text));
    this.palette = readPalette();

    const root = byId('app');
    root.classList.add('explorer');

    this.toolbar = new Toolbar(
      { live: this.state.live, colour: this.state.colour ?? 'mask' },
      {
        site: (s) => this.setSite(s),
        colour: (c) => this.setColour(c),
        live: (live) => this.setLive(live),
        showLatest: () => this.applyLiveBacklog(),
        export: (kind) => void this.export(kind),
      },
    );

    // ---- token strip
    this.strip = new TokenStrip({
      hover: (t) => this.selection.setHover(t),
      click: (t, e) => this.selection.click(t, e),
      key: (e) => handleTokenKey(e, this.selection),
    });
    const stripSection = el('section', 'strip-section');
    stripSection.append(this.strip.element, this.legends.strip, this.legends.siteChance);

    // ---- heatmap + multiples + details
    this.readout = el('div', 'readout', '\u00a0');
    this.heatmap = new Heatmap({
      hover: (t, u) => {
        this.selection.setHover(t);
        this.updateReadout(t, u);
      },
      click: (t, e) => this.selection.click(t, e),
      window: () => this.scheduleMultiples(),
      key: (e) => handleTokenKey(e, this.selection),
    });
    this.multiples = new SmallMultiples((s) => this.setSite(s));
    this.details = new TokenDetails({
      pin: (t) => this.selection.pin(t),
      unpin: (t) => this.selection.unpin(t),
      reveal: (t) => this.selection.reveal(t),
      selectSite: (s) => this.setSite(s),
    });
    this.selection = new TokenSelection(
      this.view,
      { strip: this.strip, heatmap: this.heatmap, details: this.details },
      { model: () => this.shown, palette: () => this.palette },
      (m) => channel.post(m),
    );
    const heatPane = el('div', 'heat-pane');
    const heatHead = el('div', 'heat-head');
    heatHead.append(el('span', 'heat-title', 'Units × tokens (wheel: zoom, drag: pan, double-click: reset)'), this.legends.heat, this.readout);
    heatPane.append(heatHead, this.heatmap.element, this.multiples.element);
    const main = el('section', 'main-section');
    main.append(heatPane, this.details.element);

    // ---- tabs
    this.types = new TokenTypesView(this.state.sort, {
      select: (s) => this.highlightType(s),
      sortChanged: (sort) => this.view.save({ sort }),
    });
    this.filters = new FilterView(this.state.filters, {
      change: (f) => {
        this.view.save({ filters: f });
        this.applyFilters();
      },
      select: (t) => this.selection.select(t, true),
    });
    this.scrubber = new Scrubber({
      show: (dir) => void this.showCheckpoint(dir),
      diffWith: (dir) => {
        this.view.save({ diffWith: dir });
        void this.applyDiff();
      },
    });
    const tabs = el('vscode-tabs', 'tabs', undefined, { 'selected-index': String(this.state.tab) });
    tabs.addEventListener('vsc-tabs-select', (e) => {
      this.view.save({ tab: (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex });
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
    this.checkpointAnalyses = new CheckpointAnalyses(this.requests, (text) => this.scrubber.setStatus(text));
    this.report = new ReportView({ request: () => this.requestReport() });
    tab('Mask report', this.report.element);

    this.statusLine = el('footer', 'status-line', '\u00a0', { role: 'status' });
    root.replaceChildren(this.toolbar.element, stripSection, main, tabs, this.statusLine);

    this.syncTabs();
    onThemeChange(() => {
      this.palette = readPalette();
      this.heatmap.readColours();
      this.strip.readColours();
      this.renderSite();
    });
    this.renderAll();
  }

  private get state(): ExplorerViewState {
    return this.view.current;
  }

  /** Only the open tab draws; the others catch up when opened. */
  private syncTabs(): void {
    this.types.setVisible(this.state.tab === 0);
    this.filters.setVisible(this.state.tab === 1);
  }

  // ------------------------------------------------------------------ messages from the host

  setAnalysis(analysis: AnalysisResult, source: ExplorerSource | null): void {
    const model = new AnalysisModel(analysis);
    const sameDocument = source !== null && this.source !== null && this.source.uri === source.uri;
    const newText = this.checkpointAnalyses.setBase(model, sameDocument);
    if (source) this.source = source;
    if (this.source) this.view.setRestore(this.source, analysis);
    this.show(model, newText);
  }

  liveAnalysis(analysis: AnalysisResult): void {
    if (!this.state.live) {
      this.liveBacklog = analysis;
      this.toolbar.showLiveBadge(`step ${formatInt(analysis.checkpoint.step)} available`);
      return;
    }
    this.toolbar.showLiveBadge(`live · step ${formatInt(analysis.checkpoint.step)}`);
    this.setAnalysis(analysis, this.source);
  }

  setCheckpoints(list: CheckpointInfo[]): void {
    this.checkpoints = list;
    this.scrubber.setCheckpoints(list, this.shown?.analysis.checkpoint.dir ?? null, this.state.diffWith);
  }

  setLiveRunning(live: boolean): void {
    this.root.classList.toggle('live-run', live);
  }

  /** The host's reply to a checkpoint analysis or a report request. */
  hostReply(reply: AnalysisReply | ReportReply): void {
    this.requests.resolve(reply);
  }

  exportResult(result: ExportResult): void {
    this.exports.resolve(result);
  }

  /** Selects a token without revealing it in the editor (the host asked for it). */
  selectFromHost(index: number): void {
    this.selection.selectAndScroll(index);
  }

  // ------------------------------------------------------------------ state changes

  private get root(): HTMLElement {
    return byId('app');
  }

  private show(model: AnalysisModel, newText: boolean): void {
    const started = performance.now();
    const previous = this.shown;
    this.shown = model;
    this.view.fitTo(model);
    this.toolbar.showModel(model, this.state.site);
    const a = model.analysis;
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
    this.selection.render();
    if (this.state.diffWith) void this.applyDiff();
    else this.scrubber.setFlips(null, null);
    this.view.persist();
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

  setSite(site: number): void {
    const model = this.shown;
    if (!model || site < 0 || site >= model.sites.length) return;
    this.view.save({ site });
    this.toolbar.showSite(site);
    this.levels = siteLevels(model, site);
    // The small multiples show every site already; only their highlight moves.
    this.renderSite(true, false);
    this.filters.setModel(model, site, false);
    this.schedulePanels();
    this.applyFilters();
    if (this.state.diffWith) void this.applyDiff();
    this.selection.render();
  }

  private setColour(colour: CellColour): void {
    this.view.save({ colour });
    // Only the cells change (the strip stays on kept fractions); cached site images are stale.
    if (!this.shown) return;
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
    void this.requests.report(a.checkpoint.dir).then(({ report, error }) => {
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
    this.legends.render(model, site, this.state.colour);
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

  private updateReadout(token: number | null, unit: number | null): void {
    const model = this.shown;
    if (!model || token === null || unit === null) {
      this.readout.textContent = '\u00a0';
      return;
    }
    const q = model.matrix(this.state.site).q(token, unit);
    this.readout.textContent = `token #${token} ${displayToken(model.tokens[token]!.text)} · unit ${unit} · m = ${(q / 255).toFixed(4)} (q ${q})${q >= ACTIVE_Q ? ' · active' : ''}`;
  }

  private applyFilters(): void {
    this.strip.setDimmed(this.filters.dimmed());
    this.selection.renderHeatmapMarks();
  }

  private highlightType(stats: TokenTypeStats | null): void {
    if (!stats || !this.shown) {
      this.strip.setDimmed(this.filters.dimmed());
      return;
    }
    const dim = new Uint8Array(this.shown.tokenCount).fill(1);
    for (const t of stats.occurrences) dim[t] = 0;
    this.strip.setDimmed(dim);
    this.selection.selectAndScroll(stats.occurrences[0]!);
    this.status(`${displayToken(stats.text)}: ${stats.count} occurrences highlighted`);
  }

  private setLive(live: boolean): void {
    this.view.save({ live });
    if (live) this.applyLiveBacklog();
  }

  private applyLiveBacklog(): void {
    const a = this.liveBacklog;
    this.liveBacklog = null;
    if (a) {
      this.toolbar.showLiveBadge(`live · step ${formatInt(a.checkpoint.step)}`);
      this.setAnalysis(a, this.source);
    }
  }

  // ------------------------------------------------------------------ scrubber and diff

  /** Another checkpoint's analysis of this text, from the host; then shown, or diffed against. */
  private requestCheckpoint(dir: string, purpose: 'show' | 'diff'): void {
    void this.checkpointAnalyses.fetch(dir).then((model) => {
      if (!model) return;
      if (purpose === 'show') this.show(model, false);
      else void this.applyDiff();
    });
  }

  private async showCheckpoint(dir: string): Promise<void> {
    const cached = this.checkpointAnalyses.get(dir);
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
    const other = this.checkpointAnalyses.get(dir);
    if (!other) return this.requestCheckpoint(dir, 'diff');
    if (!sameTokens(other, model)) {
      this.scrubber.setStatus('The two checkpoints tokenized the text differently; no diff.');
      return;
    }
    const site = this.state.site;
    const before = other.matrix(site);
    const after = model.matrix(site);
    const s = model.sites[site]!;
    this.heatmap.setData({ data: diffCells(before, after), tokens: model.tokenCount, units: s.units, lut: this.palette.diff, aggregate: 'max', groupSize: s.kind === 'attention' ? s.units / attentionHeads(s, model.analysis.layers[site]) : undefined });
    const f = flips(before, after);
    let maxFlips = 0;
    for (const v of f.perToken) maxFlips = Math.max(maxFlips, v);
    this.strip.setLevels(activeLevels(Array.from(f.perToken), maxFlips), '--ld-diff-off');
    this.root.classList.add('diff-mode');
    this.legends.render(model, site, this.state.colour, maxFlips);
    this.scrubber.setFlips(flipRows(other, model, site, f), `step ${formatInt(other.analysis.checkpoint.step)}`);
  }

  // ------------------------------------------------------------------ export and status

  private export(kind: ExportKind): Promise<void> {
    const model = this.shown;
    const view = model && { model, site: this.state.site, heatmap: this.heatmap, levels: this.levels, title: this.toolbar.title, colours: this.legends.coloursText };
    return this.exports.export(kind, view);
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
