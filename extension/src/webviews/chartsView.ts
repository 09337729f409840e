// The Run charts view (activity bar container). Keeps the runs, the selection and the loaded
// metrics, so a view that was hidden (its webview is rebuilt) gets everything replayed after
// `ready`; streams live records to it while a run trains.
import * as vscode from 'vscode';
import type { MetricRecord, RunInfo } from '@common/protocol';
import { toColumns } from '@common/metricColumns';
import { dispatch, type ChartsHostMessage, type ChartsViewMessage, type Handlers } from '@common/webviewProtocol';
import { saveExport } from './exportFiles';
import { webviewHtml, webviewOptions } from './html';
import { LiveRunProgress } from './runProgress';

export interface ChartsHost {
  listRuns(): Promise<RunInfo[]>;
  loadMetrics(runDir: string): Promise<MetricRecord[]>;
  log: vscode.LogOutputChannel;
}

/** The runs table follows live steps at most this often (each update re-sends the runs list). */
const RUNS_UPDATE_MS = 500;
/**
 * Live records go to the view at most this often, together: one message per step (~50 a second on
 * `tiny`, each a postMessage to the webview) kept VS Code's window busy while a run trained.
 */
const LIVE_POST_MS = 100;

/** Records per `metrics` message (as columns: ~10 MB of Float64Arrays for 100,000 steps). */
const METRICS_SLICE = 100_000;

interface Loaded {
  records: MetricRecord[];
  /** Live records that arrived while the file was loading. */
  pending: MetricRecord[] | null;
}

export class RunChartsViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewType = 'ldlens.runCharts';

  private view: vscode.WebviewView | undefined;
  private ready = false;
  private runs: RunInfo[] = [];
  private selected: string[] = [];
  /** Charts the view draws with a log y scale (its choice, replayed to a rebuilt view). */
  private logScale: string[] | undefined;
  /** Runs the user unchecked: a live run does not re-select itself. */
  private readonly deselected = new Set<string>();
  private readonly loaded = new Map<string, Loaded>();
  private readonly progress = new LiveRunProgress();
  private runsTimer: NodeJS.Timeout | undefined;
  /** Live records not posted yet, per run (see LIVE_POST_MS). */
  private readonly live = new Map<string, MetricRecord[]>();
  private liveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly host: ChartsHost,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.html = webviewHtml(view.webview, this.extensionUri, 'charts', 'Run charts');
    const handlers: Handlers<ChartsViewMessage> = {
      ready: () => this.onReady(),
      selectRuns: ({ runIds }) => this.select(runIds.filter((id) => typeof id === 'string')),
      logScale: ({ charts }) => {
        this.logScale = Array.isArray(charts) ? charts.filter((id) => typeof id === 'string') : undefined;
      },
      export: async (req) => {
        this.post(await saveExport(req, this.host.log));
      },
      error: ({ message, stack }) => this.host.log.error(`Run charts webview: ${message}${stack ? `\n${stack}` : ''}`),
    };
    view.webview.onDidReceiveMessage((data: unknown) => {
      if (!dispatch(handlers, data, (e) => this.host.log.error(`Run charts: ${String(e)}`))) this.host.log.warn(`Run charts: ignored message ${JSON.stringify(data)?.slice(0, 200)}`);
    });
    view.onDidChangeVisibility(() => {
      if (!view.visible) this.ready = false;
    });
    view.onDidDispose(() => {
      if (this.view === view) {
        this.view = undefined;
        this.ready = false;
      }
    });
  }

  /** The extension deactivates: its pending posts go with it. */
  dispose(): void {
    clearTimeout(this.liveTimer);
    clearTimeout(this.runsTimer);
    this.liveTimer = this.runsTimer = undefined;
    this.live.clear();
    this.view = undefined;
  }

  setRuns(runs: RunInfo[]): void {
    this.runs = this.progress.merge(runs);
    const before = this.selected;
    const ids = new Set(runs.map((r) => r.id));
    const kept = this.selected.filter((id) => ids.has(id));
    if (kept.length !== this.selected.length) this.select(kept);
    // Nothing chosen yet: show the running runs, else the newest one.
    if (!this.selected.length && runs.length) {
      const running = runs.filter((r) => r.status === 'running' && !this.deselected.has(r.id)).map((r) => r.id);
      const newest = [...runs].sort((a, b) => b.created.localeCompare(a.created))[0]!;
      this.select(running.length ? running : this.deselected.has(newest.id) ? [] : [newest.id]);
    }
    this.post({ type: 'runs', runs: this.runs });
    // A view that is already up learns the new selection here (only a view that posts `ready`
    // later gets it in the state replay): without it, the run is listed unticked and not drawn.
    if (this.selected !== before) this.post({ type: 'selection', selected: this.selected });
  }

  appendMetric(runId: string, runDir: string, record: MetricRecord): void {
    if (this.progress.record(runId, record)) this.runsMoved();
    const entry = this.loaded.get(runId);
    if (entry) {
      if (entry.pending) entry.pending.push(record);
      else {
        entry.records.push(record);
        const queued = this.live.get(runId);
        if (queued) queued.push(record);
        else this.live.set(runId, [record]);
        this.liveTimer ??= setTimeout(() => this.postLive(), LIVE_POST_MS);
      }
      return;
    }
    // A run that starts streaming joins the charts unless the user took it out.
    if (!this.deselected.has(runId) && !this.selected.includes(runId)) {
      if (!this.runs.some((r) => r.id === runId)) this.runs.push(...this.progress.merge([placeholderRun(runId, runDir)]));
      this.select([...this.selected, runId]);
      this.post({ type: 'runs', runs: this.runs });
      this.post({ type: 'selection', selected: this.selected });
    }
  }

  private postLive(): void {
    this.liveTimer = undefined;
    for (const [runId, records] of this.live) this.post({ type: 'metric', runId, records });
    this.live.clear();
  }

  /** A live record moved a run's step or best loss: the table shows it (throttled). */
  private runsMoved(): void {
    this.runs = this.progress.merge(this.runs);
    this.runsTimer ??= setTimeout(() => {
      this.runsTimer = undefined;
      this.post({ type: 'runs', runs: this.runs });
    }, RUNS_UPDATE_MS);
  }

  /** Re-reads the runs list from the host. */
  async refresh(): Promise<void> {
    try {
      this.setRuns(await this.host.listRuns());
    } catch (e) {
      this.host.log.warn(`Run charts: could not list runs: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private onReady(): void {
    this.ready = true;
    this.post({ type: 'state', state: { runs: this.runs, selected: this.selected, logScale: this.logScale } });
    for (const id of this.selected) {
      const entry = this.loaded.get(id);
      if (entry && !entry.pending) this.postMetrics(id, entry.records);
    }
    if (!this.runs.length) void this.refresh();
  }

  private select(ids: string[]): void {
    const next = [...new Set(ids)];
    for (const id of this.selected) if (!next.includes(id)) this.deselected.add(id);
    for (const id of next) this.deselected.delete(id);
    for (const id of [...this.loaded.keys()]) if (!next.includes(id)) this.loaded.delete(id);
    this.selected = next;
    for (const id of next) if (!this.loaded.has(id)) void this.load(id);
  }

  private async load(runId: string): Promise<void> {
    const run = this.runs.find((r) => r.id === runId);
    if (!run) return;
    const entry: Loaded = { records: [], pending: [] };
    this.loaded.set(runId, entry);
    try {
      entry.records = await this.host.loadMetrics(run.dir);
    } catch (e) {
      this.host.log.warn(`Run charts: could not read the metrics of ${run.dir}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (this.loaded.get(runId) !== entry) return; // deselected meanwhile
    // Live records that arrived during the read: only those after what the file already had
    // (an earlier step would make the view cut its series back).
    const last = new Map<string, number>();
    for (const r of entry.records) last.set(r.type, Math.max(last.get(r.type) ?? -Infinity, r.step));
    for (const r of entry.pending ?? []) if (r.step > (last.get(r.type) ?? -Infinity)) entry.records.push(r);
    entry.pending = null;
    this.postMetrics(runId, entry.records);
  }

  /**
   * A run's records as columns (typed arrays: cloned as bytes, not as objects), in slices of
   * METRICS_SLICE records so that a very long run does not make one huge message.
   */
  private postMetrics(runId: string, records: MetricRecord[]): void {
    this.live.delete(runId); // in `records` already
    if (records.length === 0) this.post({ type: 'metrics', runId, columns: toColumns(records), replace: true });
    for (let i = 0; i < records.length; i += METRICS_SLICE) {
      this.post({ type: 'metrics', runId, columns: toColumns(records.slice(i, i + METRICS_SLICE)), replace: i === 0 });
    }
  }

  private post(message: ChartsHostMessage): boolean {
    if (!this.ready || !this.view) return false;
    void this.view.webview.postMessage(message);
    return true;
  }
}

function placeholderRun(id: string, dir: string): RunInfo {
  return {
    id,
    name: dir.split(/[\\/]/).filter(Boolean).pop() ?? id,
    dir,
    status: 'running',
    backend: null,
    step: 0,
    totalSteps: 0,
    bestValLoss: null,
    dropoutKind: 'learned',
    created: new Date().toISOString(),
    checkpoints: [],
  };
}
