// Analyze Document / Analyze Selection and auto re-analysis of painted documents (debounced after
// edits, or on save: setting ldlens.autoReanalyze): takes the text, asks the engine, hands the
// result to the heatmap with the edits made meanwhile. Visible range first for long
// documents; one analysis in flight per document (a newer one cancels it). Documents are analyzed
// as analyses the engine keeps: summaries in bounded chunks, masks fetched by token when needed.
import * as vscode from 'vscode';
import * as W from '@common/analysisWire';
import * as P from '@common/protocol';
import type { EngineService } from '../engine/engineService';
import { describeEngineError } from '../engine/errors';
import { readSettings } from '../settings';
import type { Checkpoints } from '../checkpoints/checkpoints';
import type { DocumentEdit, EditTracker } from './editTracker';
import { IncrementalSpans } from './incrementalSpans';
import type { DocHeat, HeatKind, HeatmapPainter } from './painter';
import { MaskRows, SummaryAssembler } from './lazyAnalysis';
import { AnalysisView } from './metrics';

/** Lines above and below the visible ones analyzed first (scrolling a little finds them painted; the rest follows). */
const VISIBLE_MARGIN_LINES = 10;
/** Texts longer than this get a cancellable notification instead of the status-bar spinner. */
const NOTIFY_CHARS = 8000;

export class Analyzer implements vscode.Disposable {
  private readonly inflight = new Map<string, vscode.CancellationTokenSource>();
  /** Pending re-analyses after edits, by document. */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly engine: EngineService,
    private readonly checkpoints: Checkpoints,
    private readonly heatmap: HeatmapPainter,
    private readonly edits: EditTracker,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      edits.onDidEdit((e) => this.onEdit(e)),
      vscode.workspace.onDidSaveTextDocument((d) => {
        const heat = this.heatmap.get(d.uri);
        if (heat && readSettings().autoReanalyze === 'onSave' && (heat.kind === 'document' || heat.kind === 'visible')) this.reanalyze(d, heat);
      }),
      // A cleared heatmap is not re-analyzed by an edit made before it was cleared.
      heatmap.onDidChange(() => {
        for (const [uri, t] of this.timers) {
          if (this.heatmap.get(uri)) continue;
          clearTimeout(t);
          this.timers.delete(uri);
        }
      }),
    );
  }

  private onEdit({ document }: DocumentEdit): void {
    const uri = document.uri.toString();
    const heat = this.heatmap.get(uri);
    if (!heat) return;
    const s = readSettings();
    if (s.autoReanalyze !== 'onEdit' || (heat.kind !== 'document' && heat.kind !== 'visible')) return;
    clearTimeout(this.timers.get(uri));
    const t = setTimeout(() => {
      this.timers.delete(uri);
      const h = this.heatmap.get(uri);
      if (h) this.reanalyze(document, h);
    }, s.debounceMs);
    this.timers.set(uri, t);
  }

  /** The engine's Analyze with the window/stride settings. */
  analyzeText(checkpoint: string, text: string, token?: vscode.CancellationToken): Promise<P.AnalysisResult> {
    const s = readSettings();
    return this.engine.request(
      P.Analyze,
      { checkpoint, text, ...(s.window > 0 ? { window: s.window } : {}), ...(s.stride > 0 ? { stride: s.stride } : {}) },
      token,
    );
  }

  /**
   * Opens an analysis the engine keeps (analysis/open): summaries arrive by chunks into the
   * assembler, masks are fetched by token (`rows`), `release` frees it in the engine (once).
   */
  async openAnalysis(
    checkpoint: string,
    text: string,
    first: { start: number; end: number } | undefined,
    token?: vscode.CancellationToken,
  ): Promise<{ handle: W.AnalysisHandle; assembler: SummaryAssembler; rows: MaskRows; release: () => void }> {
    const s = readSettings();
    const handle = await this.engine.request(
      W.AnalysisOpen,
      { checkpoint, text, ...(s.window > 0 ? { window: s.window } : {}), ...(s.stride > 0 ? { stride: s.stride } : {}), ...(first ? { first } : {}) },
      token,
    );
    const assembler = new SummaryAssembler(handle, text);
    const rows = new MaskRows(assembler.result, (from, to, sites) => this.engine.request(W.AnalysisSlice, { id: handle.id, from, to, ...(sites ? { sites } : {}) }), handle.sliceChunk);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.engine.request(W.AnalysisRelease, { id: handle.id }).catch(() => {}); // gone with a restarted engine: nothing to free
    };
    return { handle, assembler, rows, release };
  }

  /**
   * The engine no longer holds the analysis painted on `document` (it restarted, or evicted the
   * analysis to stay within its memory): the document is analyzed again, once per painted analysis,
   * so that hovers and the Mask Explorer get its masks back.
   */
  analysisGone(document: vscode.TextDocument): void {
    const heat = this.heatmap.get(document.uri);
    if (!heat || this.gone.has(heat)) return;
    this.gone.add(heat);
    this.log.info(`the engine no longer holds the analysis of ${document.uri.path.split('/').pop()}: analyzing it again`);
    this.reanalyze(document, heat);
  }
  private readonly gone = new WeakSet<DocHeat>();

  /** Auto re-analysis after edits or a save (no prompts; errors go to the log). */
  private reanalyze(document: vscode.TextDocument, heat: DocHeat): void {
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
    const edits = this.edits.track(document.uri);
    const name = document.uri.path.split('/').pop();
    const run = async (progress: vscode.Progress<{ message?: string; increment?: number }>, token: vscode.CancellationToken): Promise<DocHeat | undefined> => {
      token.onCancellationRequested(() => cts.cancel());
      const again = { label: 'Analyze', run: () => this.analyze(document, vscode.window.visibleTextEditors.find((e) => e.document === document), opts) };
      const ck = await this.checkpoints.resolve(cts.token, opts.interactive ? again : undefined);
      if (!ck) return undefined;
      const s = readSettings();
      // The visible lines (and a margin) are analyzed first and painted as soon as they are done.
      let first: { start: number; end: number } | undefined;
      let lines = '';
      if (!sel && editor && s.visibleRangeFirst > 0 && text.length > s.visibleRangeFirst && editor.visibleRanges.length) {
        const top = Math.max(0, editor.visibleRanges[0].start.line - VISIBLE_MARGIN_LINES);
        const bottom = Math.min(document.lineCount - 1, editor.visibleRanges[editor.visibleRanges.length - 1].end.line + VISIBLE_MARGIN_LINES);
        const vs = document.offsetAt(new vscode.Position(top, 0));
        const ve = document.offsetAt(document.lineAt(bottom).rangeIncludingLineBreak.end);
        if (ve - vs < text.length) first = { start: vs, end: ve };
        lines = `${top + 1}–${bottom + 1}`;
      }
      const t0 = Date.now();
      const kept = await this.openAnalysis(ck.checkpoint, text, first, cts.token);
      const { handle, assembler, rows, release } = kept;
      // Painted spans (grapheme clusters) computed per chunk as it arrives, in short slices.
      const spans = new IncrementalSpans(docText, base, handle.tokenCount);
      const paint = (k: HeatKind) =>
        this.heatmap.setAnalysis(document, assembler.result, { docText, base, kind: k, edits: edits.edits, runDir: ck.runDir, text, lazy: { rows, release }, spans });
      let heat: DocHeat | undefined;
      try {
        const fetch = async (from: number, to: number) => {
          for (let at = from; at < to; ) {
            const c = await this.engine.request(W.AnalysisSummaries, { id: handle.id, from: at, to }, cts.token);
            assembler.add(c);
            await spans.add(assembler.result.tokens, c.from, c.to, () => cts.token.isCancellationRequested);
            at = c.to;
          }
        };
        if (handle.first && handle.first.to > handle.first.from) {
          progress.report({ message: 'visible lines first' });
          await fetch(handle.first.from, handle.first.to);
          paint('visible');
          this.log.info(`analyzed ${name} lines ${lines} first (the visible range): ${handle.first.to - handle.first.from} tokens in ${Date.now() - t0} ms`);
          progress.report({ message: `the whole document (${text.length.toLocaleString()} characters)` });
        }
        // The rest in chunks (each reply bounded), painted once whole: a partial repaint would
        // cost a whole-document paint each time.
        for (const [from, to] of [[0, handle.first?.from ?? 0], [handle.first?.to ?? 0, handle.tokenCount]] as const) {
          for (let at = from; at < to; at = Math.min(to, at + handle.summaryChunk)) {
            await fetch(at, Math.min(to, at + handle.summaryChunk));
            progress.report({ message: `the whole document (${text.length.toLocaleString()} characters): ${Math.floor((100 * assembler.received) / Math.max(1, handle.tokenCount))}%` });
          }
        }
        // The single-unit metric paints from one site's masks: fetched before the full paint.
        await new AnalysisView(assembler.result, rows).prepare(this.heatmap.choice).catch((e) => this.log.warn(e instanceof Error ? e.message : String(e)));
        heat = paint(kind);
      } finally {
        // Cancelled or failed: freed in the engine unless a partial paint still shows it.
        if (!heat && this.heatmap.get(document.uri)?.view.rows !== rows) release();
      }
      this.log.info(
        `analyzed ${name}${sel ? ' (selection)' : ''}: ${handle.tokenCount} tokens at step ${handle.checkpoint.step} in ${Date.now() - t0} ms; painted in ${this.heatmap.lastPaint?.ms.toFixed(1) ?? '?'} ms`,
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
      this.edits.untrack(edits);
      if (this.inflight.get(key) === cts) this.inflight.delete(key);
      cts.dispose();
    }
  }

  dispose(): void {
    for (const c of this.inflight.values()) c.cancel();
    for (const t of this.timers.values()) clearTimeout(t);
    for (const d of this.disposables) d.dispose();
  }
}
