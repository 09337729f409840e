// The Run charts view: runs list, toolbar (smoothing, zoom reset, exports) and the charts, each
// with its own log-scale toggle. Owns the metrics store and the view state; charts only draw.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import { byId, el } from '../common/dom';
import { safeFileStem, svgToPngBase64 } from '../common/export';
import { describeExport, ExportClient } from '../common/exportClient';
import { formatInt } from '../common/format';
import type { Channel } from '../common/vscodeApi';
import type { ChartsViewMessage, ExportKind, ExportResult, MetricColumns, MetricRecord, RunInfo } from '@common/webviewProtocol';
import { CHARTS, type SeriesData } from './definitions';
import { chartsSvg, metricsCsv } from './exporter';
import { LineChart } from './lineChart';
import { RunsList } from './runsList';
import { MetricsStore } from './store';

export interface ChartsViewState {
  selected: string[];
  smoothing: number;
  /** Chart ids drawn with a log y scale. */
  logScale: string[];
  xDomain: [number, number] | null;
  closed: string[];
}

const DEFAULT_STATE: ChartsViewState = { selected: [], smoothing: 0.6, logScale: [], xDomain: null, closed: ['lambda', 'lr', 'a', 'b'] };

/** A saved state from before per-chart log scales (`log: true` applied to every chart). */
function migrate(saved: Partial<ChartsViewState> & { log?: unknown }): Partial<ChartsViewState> {
  const { log, ...rest } = saved;
  if (rest.logScale === undefined && log === true) rest.logScale = CHARTS.map((c) => c.id);
  return rest;
}
/** Live records arrive up to hundreds per second; the charts redraw at most this often. */
const LIVE_REDRAW_MS = 250;

export class ChartsApp {
  private state: ChartsViewState;
  private runs: RunInfo[] = [];
  private readonly store = new MetricsStore();
  private readonly exports: ExportClient;
  private readonly runsList: RunsList;
  private readonly charts: LineChart[];
  private readonly statusLine: HTMLElement;
  private readonly smoothingLabel: HTMLElement;
  private readonly zoomLabel: HTMLElement;
  private redrawTimer = 0;
  private frameRequested = false;
  private lastRedraw = 0;
  private hoverStep: number | null = null;
  private hoverSource: LineChart | null = null;
  private hoverFrame = 0;

  constructor(private readonly channel: Channel<ChartsViewMessage, ChartsViewState>) {
    this.state = { ...DEFAULT_STATE, ...migrate(channel.getState()) };
    this.exports = new ExportClient((m) => channel.post(m));
    const root = byId('app');
    root.classList.add('charts-view');

    this.runsList = new RunsList((id, on) => this.toggleRun(id, on));

    const toolbar = el('div', 'charts-toolbar');
    const smoothing = el('input', 'smoothing', undefined, { type: 'range', min: '0', max: '0.99', step: '0.01', 'aria-label': 'smoothing' });
    smoothing.value = String(this.state.smoothing);
    this.smoothingLabel = el('span', 'smoothing-value', this.state.smoothing.toFixed(2));
    smoothing.addEventListener('input', () => {
      this.save({ smoothing: Number(smoothing.value) });
      this.smoothingLabel.textContent = this.state.smoothing.toFixed(2);
      this.redraw();
    });
    const reset = el('vscode-button', 'reset-zoom', 'Reset zoom', { secondary: '', title: 'Show every step (or double-click a chart)' });
    reset.addEventListener('click', () => this.setDomain(null));
    this.zoomLabel = el('span', 'zoom-label muted');
    const smoothingGroup = el('label', 'smoothing-group');
    smoothingGroup.append(el('span', 'muted', 'Smoothing'), smoothing, this.smoothingLabel);
    const exportGroup = el('span', 'export-group');
    for (const kind of ['svg', 'png', 'csv'] as const) {
      const b = el('vscode-button', `export-${kind}`, kind.toUpperCase(), { secondary: '', title: kind === 'csv' ? 'Export the shown runs’ metrics as CSV' : `Export the open charts as ${kind.toUpperCase()}` });
      b.addEventListener('click', () => void this.export(kind));
      exportGroup.append(b);
    }
    toolbar.append(smoothingGroup, reset, this.zoomLabel, exportGroup);

    const chartsEl = el('div', 'charts');
    this.charts = CHARTS.map(
      (def) =>
        new LineChart(
          def,
          {
            brush: (domain) => this.setDomain(domain),
            hover: (step, source) => this.hover(step, source),
            log: (on) => this.setLogScale(def.id, on),
          },
          !this.state.closed.includes(def.id),
          (open) => this.save({ closed: open ? this.state.closed.filter((c) => c !== def.id) : [...new Set([...this.state.closed, def.id])] }),
        ),
    );
    chartsEl.append(...this.charts.map((c) => c.element));
    this.statusLine = el('footer', 'status-line', '\u00a0', { role: 'status' });
    root.replaceChildren(this.runsList.element, toolbar, chartsEl, this.statusLine);
    new ResizeObserver(() => this.redraw(true)).observe(chartsEl);
    this.runsList.render(this.runs, this.state.selected);
  }

  // ------------------------------------------------------------------ messages from the host

  setRuns(runs: RunInfo[]): void {
    this.runs = runs;
    this.runsList.render(runs, this.state.selected);
    this.redraw();
  }

  setSelection(selected: string[]): void {
    this.save({ selected });
    for (const id of [...this.knownRuns()]) if (!selected.includes(id)) this.store.drop(id);
    this.runsList.render(this.runs, selected);
    this.redraw(true);
  }

  /** A run's metrics as columns (the `metrics` message). */
  setMetrics(runId: string, columns: MetricColumns, replace: boolean): void {
    this.store.setColumns(runId, columns, replace);
    this.redraw(true);
  }

  /** The host's copy of the log-scale choice (replayed after `ready`); absent: keep the view's. */
  setLogScales(charts: string[] | undefined): void {
    if (!charts || sameSet(charts, this.state.logScale)) return;
    this.save({ logScale: [...charts] });
    this.redraw(true);
  }

  appendMetrics(runId: string, records: MetricRecord[]): void {
    if (!this.state.selected.includes(runId)) return;
    for (const r of records) this.store.append(runId, r);
    this.redraw();
  }

  exportResult(r: ExportResult): void {
    this.exports.resolve(r);
    this.status(describeExport(r));
  }

  // ------------------------------------------------------------------ state

  private save(part: Partial<ChartsViewState>): void {
    this.state = { ...this.state, ...part };
    this.channel.setState(this.state);
  }

  private *knownRuns(): Iterable<string> {
    for (const r of this.runs) if (this.store.get(r.id)) yield r.id;
  }

  private toggleRun(runId: string, on: boolean): void {
    const selected = on ? [...new Set([...this.state.selected, runId])] : this.state.selected.filter((id) => id !== runId);
    this.setSelection(selected);
    this.channel.post({ type: 'selectRuns', runIds: selected });
  }

  private setLogScale(chartId: string, on: boolean): void {
    const logScale = on ? [...new Set([...this.state.logScale, chartId])] : this.state.logScale.filter((id) => id !== chartId);
    this.save({ logScale });
    this.channel.post({ type: 'logScale', charts: logScale });
    // Only that chart's y scale changed: redraw it alone (in the next frame).
    const chart = this.charts.find((c) => c.def.id === chartId);
    requestAnimationFrame(() => this.render(chart ? [chart] : this.charts));
  }

  private setDomain(domain: [number, number] | null): void {
    this.save({ xDomain: domain });
    this.redraw(true);
  }

  /** Redraws in the next frame (user actions) or at most every LIVE_REDRAW_MS (streaming). */
  private redraw(now = false): void {
    const due = this.lastRedraw + LIVE_REDRAW_MS - performance.now();
    if (now || due <= 0) {
      clearTimeout(this.redrawTimer);
      this.redrawTimer = 0;
      this.requestFrame();
    } else if (!this.redrawTimer) {
      this.redrawTimer = window.setTimeout(() => {
        this.redrawTimer = 0;
        this.requestFrame();
      }, due);
    }
  }

  /** One render per frame however many changes arrived in it. */
  private requestFrame(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.lastRedraw = performance.now();
      this.render();
    });
  }

  private render(charts: LineChart[] = this.charts): void {
    const started = performance.now();
    const runNames = new Map(this.runs.map((r) => [r.id, r.name]));
    const selectedRuns = this.state.selected.map((id) => this.store.get(id)).filter((r) => r !== undefined);
    for (const chart of charts) {
      const series: SeriesData[] = [];
      const multiRun = selectedRuns.length > 1;
      for (const run of selectedRuns) {
        const style = { index: this.state.selected.indexOf(run.runId), name: runNames.get(run.runId) ?? run.runId, multiRun };
        series.push(...chart.def.series(run, style));
      }
      chart.update({ series, xDomain: this.state.xDomain, log: this.state.logScale.includes(chart.def.id), smoothing: this.state.smoothing, runNames });
    }
    if (this.hoverStep !== null) for (const c of charts) c.showHover(this.hoverStep, c === this.hoverSource);
    const d = this.state.xDomain;
    this.zoomLabel.textContent = d ? `steps ${formatInt(d[0])}–${formatInt(d[1])}` : '';
    const points = selectedRuns.reduce((n, r) => n + r.steps.length, 0);
    if (!this.statusLine.dataset['sticky']) this.status(selectedRuns.length ? `${selectedRuns.length} run(s) · ${formatInt(points)} steps` : 'Check a run to chart it.');
    const root = byId('app');
    root.dataset['renders'] = String(Number(root.dataset['renders'] ?? 0) + 1);
    window.dispatchEvent(new CustomEvent('ldlens:rendered', { detail: { ms: performance.now() - started } }));
  }

  private hover(step: number | null, source: LineChart): void {
    this.hoverStep = step;
    this.hoverSource = source;
    cancelAnimationFrame(this.hoverFrame);
    // One frame of work per mouse frame, however many mousemove events arrive.
    this.hoverFrame = requestAnimationFrame(() => {
      for (const c of this.charts) c.showHover(step, c === source);
    });
  }

  // ------------------------------------------------------------------ export

  private async export(kind: ExportKind): Promise<void> {
    const shown = this.state.selected.filter((id) => this.store.get(id));
    if (!shown.length) return this.status('Check a run first.');
    const names = new Map(this.runs.map((r) => [r.id, r.name]));
    const stem = safeFileStem(`metrics-${shown.map((id) => names.get(id) ?? id).join('-vs-')}`);
    try {
      let result: ExportResult;
      if (kind === 'csv') {
        const csv = metricsCsv(shown.map((id) => ({ name: names.get(id) ?? id, records: this.store.get(id)!.all() })));
        result = await this.exports.send('csv', `${stem}.csv`, csv, 'text');
      } else {
        const open = this.charts.filter((c) => c.isOpen);
        const doc = chartsSvg(
          open.map((c) => ({ title: c.def.title, legend: legendText(c), svg: c.svgElement })),
          shown.map((id) => names.get(id) ?? id).join(' vs '),
        );
        result =
          kind === 'svg'
            ? await this.exports.send('svg', `${stem}.svg`, doc.svg, 'text')
            : await this.exports.send('png', `${stem}.png`, await svgToPngBase64(doc.svg, doc.width, doc.height), 'base64');
      }
      this.status(describeExport(result));
    } catch (e) {
      this.status(`Export failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private status(text: string): void {
    this.statusLine.textContent = text;
  }

  /** For tests and the benchmark. */
  get debug(): { charts: LineChart[]; store: MetricsStore; state: ChartsViewState } {
    return { charts: this.charts, store: this.store, state: this.state };
  }
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function legendText(c: LineChart): string {
  return [...c.element.querySelectorAll('.legend-item')].map((e) => e.textContent).join(' · ');
}
