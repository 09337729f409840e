// Analyze Document / Analyze Selection and auto re-analysis: takes the text, asks the engine,
// hands the result to the heatmap with the edits made meanwhile. Visible range first for long
// documents; one analysis in flight per document (a newer one cancels it).
import * as vscode from 'vscode';
import * as P from '@common/protocol';
import type { EngineService } from '../engine/engineService';
import { describeEngineError } from '../engine/errors';
import { readSettings } from '../settings';
import type { Checkpoints } from '../training/checkpoints';
import type { DocHeat, HeatmapController } from './heatmapController';

/** Lines above and below the visible ones analyzed in the first pass. */
const VISIBLE_MARGIN_LINES = 30;
/** Texts longer than this get a cancellable notification instead of the status-bar spinner. */
const NOTIFY_CHARS = 8000;

export class Analyzer implements vscode.Disposable {
  private readonly inflight = new Map<string, vscode.CancellationTokenSource>();
  heatmap!: HeatmapController;

  constructor(
    private readonly engine: EngineService,
    private readonly checkpoints: Checkpoints,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The engine's Analyze with the window/stride settings. */
  analyzeText(checkpoint: string, text: string, token?: vscode.CancellationToken): Promise<P.AnalysisResult> {
    const s = readSettings();
    return this.engine.request(
      P.Analyze,
      { checkpoint, text, ...(s.window > 0 ? { window: s.window } : {}), ...(s.stride > 0 ? { stride: s.stride } : {}) },
      token,
    );
  }

  /** Auto re-analysis after edits or a save (no prompts; errors go to the log). */
  reanalyze(document: vscode.TextDocument, heat: DocHeat): void {
    if (heat.kind !== 'document' && heat.kind !== 'visible') return;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
    void this.analyze(document, editor, { selection: undefined, interactive: false });
  }

  async analyze(
    document: vscode.TextDocument,
    editor: vscode.TextEditor | undefined,
    opts: { selection: vscode.Selection | undefined; interactive: boolean },
  ): Promise<DocHeat | undefined> {
    const key = document.uri.toString();
    this.inflight.get(key)?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.inflight.set(key, cts);
    const docText = document.getText();
    const sel = opts.selection && !opts.selection.isEmpty ? opts.selection : undefined;
    const base = sel ? document.offsetAt(sel.start) : 0;
    const text = sel ? docText.slice(base, document.offsetAt(sel.end)) : docText;
    const kind = sel ? 'selection' : 'document';
    const edits = this.heatmap.trackEdits(document.uri);
    const name = document.uri.path.split('/').pop();
    const run = async (progress: vscode.Progress<{ message?: string; increment?: number }>, token: vscode.CancellationToken): Promise<DocHeat | undefined> => {
      token.onCancellationRequested(() => cts.cancel());
      const again = { label: 'Analyze', run: () => this.analyze(document, vscode.window.visibleTextEditors.find((e) => e.document === document), opts) };
      const ck = await this.checkpoints.resolve(cts.token, opts.interactive ? again : undefined);
      if (!ck) return undefined;
      const threshold = readSettings().visibleRangeFirst;
      if (!sel && editor && threshold > 0 && text.length > threshold && editor.visibleRanges.length) {
        const first = Math.max(0, editor.visibleRanges[0].start.line - VISIBLE_MARGIN_LINES);
        const last = Math.min(document.lineCount - 1, editor.visibleRanges[editor.visibleRanges.length - 1].end.line + VISIBLE_MARGIN_LINES);
        const vs = document.offsetAt(new vscode.Position(first, 0));
        const ve = document.offsetAt(document.lineAt(last).rangeIncludingLineBreak.end);
        if (ve - vs < text.length) {
          progress.report({ message: 'visible lines first' });
          const tv = Date.now();
          const a = await this.analyzeText(ck.checkpoint, docText.slice(vs, ve), cts.token);
          this.heatmap.setAnalysis(document, a, { docText, base: vs, kind: 'visible', edits: edits.edits, runDir: ck.runDir });
          this.log.info(`analyzed ${name} lines ${first + 1}–${last + 1} first (the visible range): ${a.tokens.length} tokens in ${Date.now() - tv} ms`);
          progress.report({ message: `the whole document (${text.length.toLocaleString()} characters)` });
        }
      }
      const t0 = Date.now();
      const a = await this.analyzeText(ck.checkpoint, text, cts.token);
      const heat = this.heatmap.setAnalysis(document, a, { docText, base, kind, edits: edits.edits, runDir: ck.runDir });
      this.log.info(
        `analyzed ${name}${sel ? ' (selection)' : ''}: ${a.tokens.length} tokens at step ${a.checkpoint.step} in ${Date.now() - t0} ms; painted in ${this.heatmap.lastPaint?.ms.toFixed(1) ?? '?'} ms`,
      );
      return heat;
    };
    try {
      const long = text.length > NOTIFY_CHARS;
      return await vscode.window.withProgress(
        {
          location: opts.interactive && long ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window,
          title: `Analyzing ${name}`,
          cancellable: opts.interactive && long,
        },
        run,
      );
    } catch (e) {
      const d = describeEngineError(e, `Analyzing ${name} failed`);
      if (d.cancelled) return undefined;
      if (opts.interactive) {
        void vscode.window.showErrorMessage(d.message, 'Show Engine Log').then((a) => a && this.log.show(true));
      } else this.log.warn(d.message);
      return undefined;
    } finally {
      this.heatmap.untrack(edits);
      if (this.inflight.get(key) === cts) this.inflight.delete(key);
      cts.dispose();
    }
  }

  dispose(): void {
    for (const c of this.inflight.values()) c.cancel();
  }
}
