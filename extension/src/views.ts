// The two webviews (written in extension/src/webviews) wired to the engine, the heatmap and the
// training stream: the Run Charts view in the LearnedDropout activity bar container, and the Mask
// Explorer panel.
import * as vscode from 'vscode';
import * as P from '@common/protocol';
import type { EngineService } from './engine/engineService';
import { describeEngineError } from './engine/errors';
import type { Analyzer } from './heatmap/analyzer';
import { materialize } from './heatmap/lazyAnalysis';
import type { HeatmapPainter } from './heatmap/painter';
import type { Checkpoints } from './checkpoints/checkpoints';
import type { TrainingController } from './training/trainingController';
import { RunChartsViewProvider } from './webviews/chartsView';
import { type ExplorerHost, MaskExplorerPanel } from './webviews/explorerPanel';

/** Most tokens the Mask Explorer gets from an analysis the engine keeps (its masks: ~1 KB a token for tiny). */
const EXPLORER_MAX_TOKENS = 50_000;

export class Views implements vscode.Disposable {
  readonly charts: RunChartsViewProvider;
  private readonly host: ExplorerHost;
  private readonly disposables: vscode.Disposable[] = [];
  /** The explorer shows a window of a long analysis, as a text of its own starting at `offset`. */
  private explorerWindow: { uri: string; offset: number } | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    engine: EngineService,
    analyzer: Analyzer,
    private readonly heatmap: HeatmapPainter,
    private readonly checkpoints: Checkpoints,
    training: TrainingController,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.charts = new RunChartsViewProvider(context.extensionUri, {
      listRuns: () => checkpoints.listRuns(),
      loadMetrics: (runDir) => engine.request(P.RunMetrics, { runDir }),
      log,
    });
    this.host = {
      analyze: (checkpointDir, text, token) => analyzer.analyzeText(checkpointDir, text, token),
      listCheckpoints: (runDir) => checkpoints.checkpointsOf(runDir),
      report: (checkpoint, text, token) => engine.request(P.Report, { checkpoint, text }, token),
      revealRange: (uri, start, end) => void this.reveal(uri, start, end),
      log,
    };
    this.disposables.push(
      this.charts,
      vscode.window.registerWebviewViewProvider(RunChartsViewProvider.viewType, this.charts, { webviewOptions: { retainContextWhenHidden: true } }),
      // A Mask Explorer left open comes back after a reload (its analysis is replayed from its state).
      vscode.window.registerWebviewPanelSerializer(MaskExplorerPanel.viewType, {
        deserializeWebviewPanel: async (panel, state) => void MaskExplorerPanel.revive(panel, context.extensionUri, this.host, state),
      }),
      training.onMetric((m) => this.charts.appendMetric(m.runId, m.runDir, m.record)),
      training.onRunsChanged(() => void this.refreshRuns()),
      training.onWatchAnalysis((a) => MaskExplorerPanel.current?.liveUpdate(a)),
      training.onCheckpoint((c) => {
        void this.refreshRuns(); // the run's step and best val loss in the runs table
        const panel = MaskExplorerPanel.current;
        if (panel) void checkpoints.checkpointsOf(c.runDir).then((l) => panel.setCheckpoints(l), () => {});
      }),
    );
  }

  async refreshRuns(): Promise<void> {
    try {
      this.charts.setRuns(await this.checkpoints.listRuns());
    } catch (e) {
      this.log.warn(`listing runs failed: ${e instanceof Error ? e.message : e}`);
    }
  }

  async openRunCharts(): Promise<void> {
    await vscode.commands.executeCommand(`${RunChartsViewProvider.viewType}.focus`);
    void this.refreshRuns();
  }

  /** Opens the Mask Explorer on a painted document's analysis (the active one by default), optionally selecting a token. */
  async openExplorer(uri?: string, tokenIndex?: number): Promise<boolean> {
    const heat = uri ? this.heatmap.get(uri) : this.heatmap.current();
    const panel = MaskExplorerPanel.show(this.context.extensionUri, this.host);
    if (!heat) return false;
    // The text itself, not one rebuilt from the tokens: characters the tokenizer skipped (CR, tabs,
    // emoji) would come back as spaces, and the scrubber's re-analysis would see other tokens.
    let analysis = heat.view.analysis;
    let text = heat.text;
    let select = tokenIndex;
    this.explorerWindow = undefined;
    if (heat.view.rows) {
      // Masks kept by the engine: the explorer gets the rows it draws, the whole text up to
      // EXPLORER_MAX_TOKENS, else that many tokens around the selected one.
      const n = heat.view.tokenCount;
      const from = n <= EXPLORER_MAX_TOKENS ? 0 : Math.max(0, Math.min(n - EXPLORER_MAX_TOKENS, (tokenIndex ?? 0) - EXPLORER_MAX_TOKENS / 2));
      const to = Math.min(n, from + EXPLORER_MAX_TOKENS);
      try {
        analysis = await materialize(analysis, heat.view.rows.source, from, to);
      } catch (e) {
        void vscode.window.showErrorMessage(describeEngineError(e, 'Opening the Mask Explorer failed').message);
        return false;
      }
      if (to - from < n) {
        // The window is shown as a text of its own (offsets from its first token), so that the
        // scrubber re-analyzes just that text; reveal adds the offset back.
        const s0 = analysis.tokens[0]?.start ?? 0;
        const e0 = analysis.tokens[analysis.tokens.length - 1]?.end ?? s0;
        text = heat.text?.slice(s0, e0);
        analysis = { ...analysis, textLength: e0 - s0, tokens: analysis.tokens.map((t) => ({ ...t, start: t.start - s0, end: t.end - s0 })) };
        this.explorerWindow = { uri: heat.uri, offset: s0 };
        if (select !== undefined) select -= from;
        this.log.info(`Mask Explorer: tokens ${from + 1}–${to} of ${n} (at most ${EXPLORER_MAX_TOKENS.toLocaleString('en-US')} are shown)`);
      }
    }
    panel.setAnalysis(analysis, { uri: heat.uri, runDir: heat.runDir, ...(text !== undefined ? { text } : {}) });
    try {
      panel.setCheckpoints(await this.checkpoints.checkpointsOf(heat.runDir));
    } catch (e) {
      this.log.warn(`listing checkpoints failed: ${e instanceof Error ? e.message : e}`);
    }
    if (select !== undefined) panel.selectToken(select);
    return true;
  }

  /** Reveals a token the explorer points at, where it is now (edits since the analysis included). */
  private async reveal(uri: string, start: number, end: number): Promise<void> {
    if (this.explorerWindow?.uri === uri) {
      start += this.explorerWindow.offset;
      end += this.explorerWindow.offset;
    }
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
    const heat = this.heatmap.get(uri);
    let s = start;
    let e = end;
    if (heat && heat.version === doc.version) {
      const i = heat.view.analysis.tokens.findIndex((t) => t.start === start && t.end === end);
      if (i >= 0 && heat.ends[i] > heat.starts[i]) {
        s = heat.starts[i];
        e = heat.ends[i];
      } else {
        s += heat.base;
        e += heat.base;
      }
    }
    const range = new vscode.Range(doc.positionAt(s), doc.positionAt(e));
    const editor = await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, preserveFocus: false, selection: range });
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
