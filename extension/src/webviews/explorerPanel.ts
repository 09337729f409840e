// The Mask Explorer panel (editor area). Keeps the latest state so a panel that was hidden (its
// webview is rebuilt) or restored gets it replayed after its `ready`; answers the scrubber's
// re-analysis requests, reveals tokens, and writes exports.
import * as vscode from 'vscode';
import { ErrorCodes, ResponseError } from 'vscode-jsonrpc';
import type { AnalysisResult, CheckpointInfo, MaskReport } from '@common/protocol';
import {
  dispatch,
  type ExplorerRestore,
  type ExplorerHostMessage,
  type ExplorerSnapshot,
  type ExplorerViewMessage,
  type Handlers,
} from '@common/webviewProtocol';
import { textOf } from '@common/analysisText';
import { saveExport } from './exportFiles';
import { webviewHtml, webviewOptions } from './html';

export interface ExplorerHost {
  analyze(checkpointDir: string, text: string, token: vscode.CancellationToken): Promise<AnalysisResult>;
  listCheckpoints(runDir: string): Promise<CheckpointInfo[]>;
  /** The engine's mask report of a text at a checkpoint (the `report` request). */
  report(checkpointDir: string, text: string, token: vscode.CancellationToken): Promise<MaskReport>;
  revealRange(uri: string, start: number, end: number): void;
  log: vscode.LogOutputChannel;
}

/** Longer analyzed texts are not posted to the view (nor kept in its restore state). */
const POST_TEXT_LIMIT = 200_000;

export class MaskExplorerPanel {
  static readonly viewType = 'ldlens.maskExplorer';
  static current: MaskExplorerPanel | undefined;

  private snapshot: ExplorerSnapshot = { analysis: null, source: null, checkpoints: [], selectedToken: null, live: false };
  /** The view posted `ready` and has not been torn down since: messages reach it. */
  private ready = false;
  private pinnedTokens: number[] = [];
  /** The analyzed text (the scrubber re-analyzes exactly this), kept here even when too long to post. */
  private sourceText: string | undefined;
  private readonly inflight = new Set<vscode.CancellationTokenSource>();
  private readonly disposables: vscode.Disposable[] = [];

  /** Creates the panel, or reveals the existing one. */
  static show(extensionUri: vscode.Uri, host: ExplorerHost): MaskExplorerPanel {
    if (MaskExplorerPanel.current) {
      MaskExplorerPanel.current.host = host;
      MaskExplorerPanel.current.panel.reveal(undefined, true);
      return MaskExplorerPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(
      MaskExplorerPanel.viewType,
      'Mask Explorer',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      // No retainContextWhenHidden: a hidden explorer frees its memory and is replayed on show.
      { ...webviewOptions(extensionUri), enableFindWidget: true },
    );
    MaskExplorerPanel.current = new MaskExplorerPanel(panel, extensionUri, host);
    return MaskExplorerPanel.current;
  }

  /**
   * Adopts a panel VS Code restored after a reload (WebviewPanelSerializer). Pass the `state`
   * deserializeWebviewPanel receives: the view keeps what it showed (checkpoint, document, text)
   * there, and the analysis is redone from it.
   */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, host: ExplorerHost, state?: unknown): MaskExplorerPanel {
    MaskExplorerPanel.current?.dispose();
    panel.webview.options = webviewOptions(extensionUri);
    const current = new MaskExplorerPanel(panel, extensionUri, host);
    MaskExplorerPanel.current = current;
    const restore = restoreInfo(state);
    if (restore) void current.restore(restore);
    return current;
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private host: ExplorerHost,
  ) {
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'ldlens.svg');
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'explorer', 'Mask Explorer');
    const handlers: Handlers<ExplorerViewMessage> = {
      ready: () => this.onReady(),
      revealToken: ({ start, end }) => {
        const uri = this.snapshot.source?.uri;
        if (uri) this.host.revealRange(uri, start, end);
      },
      requestAnalysis: (m) => this.onRequestAnalysis(m.requestId, m.checkpointDir),
      requestReport: (m) => this.onRequestReport(m.requestId, m.checkpointDir),
      pinToken: ({ pinned }) => {
        this.pinnedTokens = pinned.filter((t) => Number.isInteger(t));
      },
      export: async (req) => {
        this.post(await saveExport(req, this.host.log));
      },
      error: ({ message, stack }) => this.host.log.error(`Mask Explorer webview: ${message}${stack ? `\n${stack}` : ''}`),
    };
    this.disposables.push(
      panel.webview.onDidReceiveMessage((data: unknown) => {
        if (!dispatch(handlers, data, (e) => this.host.log.error(`Mask Explorer: ${String(e)}`))) this.host.log.warn(`Mask Explorer: ignored message ${JSON.stringify(data)?.slice(0, 200)}`);
      }),
      panel.onDidChangeViewState(() => {
        // A hidden webview is torn down; it posts `ready` again when shown.
        if (!panel.visible) this.ready = false;
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** Shows an analysis; kept and replayed whenever the view is (re)built. */
  setAnalysis(analysis: AnalysisResult, source: { uri: string; runDir: string; text?: string }): void {
    const sourceChanged = this.snapshot.source?.runDir !== source.runDir;
    this.sourceText = source.text;
    // A long text stays here (the view keeps its restore state small and leaves it out then).
    const { text, ...rest } = source;
    const posted = text !== undefined && text.length <= POST_TEXT_LIMIT ? { ...rest, text } : rest;
    this.snapshot.analysis = analysis;
    this.snapshot.source = posted;
    this.post({ type: 'analysis', analysis, source: { ...posted } });
    if (sourceChanged) void this.refreshCheckpoints(source.runDir);
  }

  setCheckpoints(list: CheckpointInfo[]): void {
    this.snapshot.checkpoints = [...list];
    this.post({ type: 'checkpoints', checkpoints: this.snapshot.checkpoints });
  }

  /** Selects a token ("Open in Mask Explorer" from a hover). */
  selectToken(index: number): void {
    this.snapshot.selectedToken = index;
    if (this.post({ type: 'selectToken', index })) this.snapshot.selectedToken = null;
    this.panel.reveal(undefined, true);
  }

  /** A fresh checkpoint's analysis of the watched text while training (train/watchAnalysis). */
  liveUpdate(analysis: AnalysisResult): void {
    this.snapshot.analysis = analysis;
    this.snapshot.live = true;
    // The watched text, not the one set before: the scrubber rebuilds it from the tokens.
    this.sourceText = undefined;
    if (this.snapshot.source?.text !== undefined) this.snapshot.source = { uri: this.snapshot.source.uri, runDir: this.snapshot.source.runDir };
    const ref = analysis.checkpoint;
    if (!this.snapshot.checkpoints.some((c) => c.dir === ref.dir)) {
      this.setCheckpoints([...this.snapshot.checkpoints, { ...ref, time: new Date().toISOString(), valLoss: null }]);
    }
    this.post({ type: 'liveAnalysis', analysis });
  }

  /** Tokens pinned in the view (for the extension's own use). */
  get pinned(): readonly number[] {
    return this.pinnedTokens;
  }

  dispose(): void {
    if (MaskExplorerPanel.current === this) MaskExplorerPanel.current = undefined;
    for (const cts of this.inflight) cts.cancel();
    this.inflight.clear();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }

  private async restore(r: ExplorerRestore): Promise<void> {
    const cts = new vscode.CancellationTokenSource();
    this.inflight.add(cts);
    try {
      const analysis = await this.host.analyze(r.checkpointDir, r.source.text!, cts.token);
      if (!this.snapshot.analysis) this.setAnalysis(analysis, r.source);
    } catch (e) {
      this.host.log.warn(`Mask Explorer: could not restore the analysis of ${r.source.uri}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.inflight.delete(cts);
      cts.dispose();
    }
  }

  private onReady(): void {
    this.ready = true;
    this.post({ type: 'state', state: this.snapshot });
    this.snapshot.selectedToken = null;
  }

  /** Posts when the view can receive; returns whether it did (else the replay carries it). */
  private post(message: ExplorerHostMessage): boolean {
    if (!this.ready) return false;
    void this.panel.webview.postMessage(message);
    return true;
  }

  private async refreshCheckpoints(runDir: string): Promise<void> {
    try {
      this.setCheckpoints(await this.host.listCheckpoints(runDir));
    } catch (e) {
      this.host.log.warn(`Mask Explorer: could not list checkpoints of ${runDir}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The mask report of the same text the view shows, at a checkpoint it was told of. */
  private async onRequestReport(requestId: number, checkpointDir: string): Promise<void> {
    const { analysis, source } = this.snapshot;
    const known = this.snapshot.checkpoints.some((c) => c.dir === checkpointDir) || analysis?.checkpoint.dir === checkpointDir;
    if (!analysis || !source || !known) {
      this.post({ type: 'report', requestId, checkpointDir, error: 'unknown checkpoint' });
      return;
    }
    const cts = new vscode.CancellationTokenSource();
    this.inflight.add(cts);
    try {
      const report = await this.host.report(checkpointDir, this.sourceText ?? source.text ?? textOf(analysis), cts.token);
      this.post({ type: 'report', requestId, checkpointDir, report });
    } catch (e) {
      const message =
        e instanceof ResponseError && e.code === ErrorCodes.MethodNotFound
          ? 'this engine has no mask report (it predates the `report` request); update the extension'
          : e instanceof Error
            ? e.message
            : String(e);
      this.host.log.warn(`Mask Explorer: mask report at ${checkpointDir} failed: ${message}`);
      this.post({ type: 'report', requestId, checkpointDir, error: message });
    } finally {
      this.inflight.delete(cts);
      cts.dispose();
    }
  }

  private async onRequestAnalysis(requestId: number, checkpointDir: string): Promise<void> {
    const { analysis, source } = this.snapshot;
    const known = this.snapshot.checkpoints.some((c) => c.dir === checkpointDir) || analysis?.checkpoint.dir === checkpointDir;
    // The webview may only ask for checkpoints the host told it about.
    if (!analysis || !source || !known) {
      this.post({ type: 'scrubAnalysis', requestId, checkpointDir, error: 'unknown checkpoint' });
      return;
    }
    const cts = new vscode.CancellationTokenSource();
    this.inflight.add(cts);
    try {
      const result = await this.host.analyze(checkpointDir, this.sourceText ?? source.text ?? textOf(analysis), cts.token);
      this.post({ type: 'scrubAnalysis', requestId, checkpointDir, analysis: result });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.host.log.warn(`Mask Explorer: analysis at ${checkpointDir} failed: ${message}`);
      this.post({ type: 'scrubAnalysis', requestId, checkpointDir, error: message });
    } finally {
      this.inflight.delete(cts);
      cts.dispose();
    }
  }
}

/** The restore part of the view's saved state, if it is usable. */
function restoreInfo(state: unknown): ExplorerRestore | undefined {
  const r = (state as { restore?: Partial<ExplorerRestore> } | undefined)?.restore;
  if (!r || typeof r.checkpointDir !== 'string' || !r.source || typeof r.source.uri !== 'string' || typeof r.source.runDir !== 'string') return undefined;
  if (typeof r.source.text !== 'string') return undefined;
  return { checkpointDir: r.checkpointDir, source: { uri: r.source.uri, runDir: r.source.runDir, text: r.source.text } };
}
