// Paints analyses over editors: one decoration type per colour level, the painted analysis of
// each document with its token spans kept in step with edits (stale results never paint wrong
// offsets), and the paint choice they are painted by. Who analyzes is analyzer.ts (and training's
// watched text, and samples); the status-bar legend is legendItem.ts.
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { AnalysisResult } from '@common/protocol';
import { readSettings } from '../settings';
import { LEVELS, scaleColor, themeColorId } from './colors';
import { blankTokens } from './blankTokens';
import type { DocumentEdit, EditTracker } from './editTracker';
import type { IncrementalSpans } from './incrementalSpans';
import type { MaskRows } from './lazyAnalysis';
import { AnalysisView, type PaintChoice } from './metrics';
import { LineIndex, type TextEdit, paintSpans, shiftSpans, tokenAt } from './offsets';
import type { SavedPaintChoice } from './savedPaintChoice';

export type HeatKind = 'document' | 'selection' | 'visible' | 'watch' | 'sample';

export interface DocHeat {
  uri: string;
  view: AnalysisView;
  /** Document offsets of each token's painted span (empty: not painted). Valid for `version`. */
  starts: Int32Array;
  ends: Int32Array;
  version: number;
  kind: HeatKind;
  /** Offset of the analyzed text in the document when it was analyzed. */
  base: number;
  /** The analyzed text itself (the Mask Explorer re-analyzes exactly this at other checkpoints). */
  text?: string;
  runDir: string;
  /** Line starts of the document at `version`, built on first paint. */
  lines?: LineIndex;
  /** Tokens painted in the last paint. */
  painted: number;
  /** Tokens left unpainted and out of the colour scale (a sample's whitespace: blankTokens.ts). */
  skip?: Uint8Array;
}

export interface PaintStats {
  tokens: number;
  ms: number;
}

export class HeatmapPainter implements vscode.Disposable {
  private readonly heats = new Map<string, DocHeat>();
  private types: vscode.TextEditorDecorationType[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when what is painted changes (analysis, choice, clear). */
  readonly onDidChange = this.changed.event;
  lastPaint: PaintStats | undefined;

  constructor(
    private readonly savedChoice: SavedPaintChoice,
    edits: EditTracker,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.createTypes();
    this.disposables.push(
      this.changed,
      edits.onDidEdit((e) => this.onEdit(e)),
      vscode.workspace.onDidCloseTextDocument((d) => this.clear(d.uri)),
      vscode.window.onDidChangeVisibleTextEditors((eds) => {
        for (const ed of eds) if (this.heats.has(ed.document.uri.toString())) this.paintEditor(ed);
        this.updateContext();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('ldlens.heatmap')) {
          this.createTypes();
          this.repaintAll();
        }
      }),
    );
    this.updateContext();
  }

  get choice(): PaintChoice {
    return this.savedChoice.choice;
  }

  async setChoice(choice: PaintChoice): Promise<void> {
    const saved = this.savedChoice.set(choice);
    // Views whose masks are in the engine fetch what the choice paints first (one unit: one site's masks).
    for (const heat of this.heats.values()) {
      try {
        await heat.view.prepare(choice);
      } catch (e) {
        void vscode.window.showWarningMessage(e instanceof Error ? e.message : String(e));
      }
    }
    await saved;
    this.repaintAll();
  }

  get(uri: vscode.Uri | string): DocHeat | undefined {
    return this.heats.get(uri.toString());
  }

  /** The heat of the active editor, else of any painted document. */
  current(): DocHeat | undefined {
    const ed = vscode.window.activeTextEditor;
    return (ed && this.heats.get(ed.document.uri.toString())) ?? [...this.heats.values()].pop();
  }

  /**
   * Paints an analysis of the slice at `base` of `docText` (the document's text when the slice
   * was taken); `edits` are the changes made to the document since, so the spans land on the
   * current text. The analyzed text is `docText` from `base`, `analysis.textLength` long, unless
   * `text` says otherwise. `spans`: the painted spans already computed as the analysis arrived.
   */
  setAnalysis(
    document: vscode.TextDocument,
    analysis: AnalysisResult,
    opts: { docText: string; base: number; kind: HeatKind; edits?: readonly TextEdit[]; runDir: string; text?: string; lazy?: { rows: MaskRows; release: () => void }; spans?: IncrementalSpans },
  ): DocHeat {
    const t0 = performance.now();
    const uri = document.uri.toString();
    const view = new AnalysisView(analysis, opts.lazy?.rows, opts.lazy?.release);
    const old = this.heats.get(uri);
    if (old && old.view.rows !== view.rows) old.view.dispose(); // a repaint of the same kept analysis keeps it
    const spans = opts.spans?.snapshot() ?? paintSpans(opts.docText, analysis.tokens, opts.base);
    if (opts.edits?.length) shiftSpans(spans.starts, spans.ends, opts.edits);
    const text = opts.text ?? (opts.base >= 0 && opts.base + analysis.textLength <= opts.docText.length ? opts.docText.slice(opts.base, opts.base + analysis.textLength) : undefined);
    const heat: DocHeat = { uri, view, starts: spans.starts, ends: spans.ends, version: document.version, kind: opts.kind, base: opts.base, text, runDir: opts.runDir, painted: 0 };
    if (opts.kind === 'sample') heat.skip = blankTokens(analysis.tokens);
    this.heats.set(uri, heat);
    for (const ed of vscode.window.visibleTextEditors) if (ed.document.uri.toString() === uri) this.paintEditor(ed, t0);
    this.updateContext();
    this.changed.fire();
    return heat;
  }

  clear(uri?: vscode.Uri): void {
    const keys = uri ? [uri.toString()] : [...this.heats.keys()];
    for (const k of keys) {
      const heat = this.heats.get(k);
      if (!heat) continue;
      this.heats.delete(k);
      heat.view.dispose();
      for (const ed of vscode.window.visibleTextEditors) {
        if (ed.document.uri.toString() === k) for (const t of this.types) ed.setDecorations(t, []);
      }
    }
    this.updateContext();
    this.changed.fire();
  }

  /** The token under a position, from the cached analysis. */
  tokenAtPosition(document: vscode.TextDocument, position: vscode.Position): { heat: DocHeat; index: number; range: vscode.Range } | undefined {
    const heat = this.heats.get(document.uri.toString());
    if (!heat || heat.version !== document.version) return undefined;
    const index = tokenAt(heat.starts, heat.ends, document.offsetAt(position));
    if (index < 0) return undefined;
    const range = new vscode.Range(document.positionAt(heat.starts[index]), document.positionAt(heat.ends[index]));
    return { heat, index, range };
  }

  /** The painted spans follow the edit (until a re-analysis replaces them). */
  private onEdit({ document, edits }: DocumentEdit): void {
    const heat = this.heats.get(document.uri.toString());
    if (!heat) return;
    shiftSpans(heat.starts, heat.ends, edits);
    heat.version = document.version;
    heat.lines = undefined;
    for (const ed of vscode.window.visibleTextEditors) if (ed.document === document) this.paintEditor(ed);
  }

  private createTypes(): void {
    for (const t of this.types) t.dispose();
    const s = readSettings();
    this.types = Array.from({ length: LEVELS }, (_, l) =>
      vscode.window.createTextEditorDecorationType({
        backgroundColor: s.colorScale === 'theme' ? new vscode.ThemeColor(themeColorId(l)) : scaleColor(s.colorScale, l, s.opacity),
        rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      }),
    );
  }

  private repaintAll(): void {
    for (const ed of vscode.window.visibleTextEditors) if (this.heats.has(ed.document.uri.toString())) this.paintEditor(ed);
    this.changed.fire();
  }

  /** Groups the tokens by colour level and sets one decoration list per level. */
  private paintEditor(editor: vscode.TextEditor, t0 = performance.now()): void {
    const heat = this.heats.get(editor.document.uri.toString());
    if (!heat) return;
    const doc = editor.document;
    if (heat.version !== doc.version) return; // an edit not seen yet: its change event repaints
    const idx = (heat.lines ??= new LineIndex(doc.getText()));
    const { level } = heat.view.levels(this.choice, readSettings().levels, heat.skip);
    const buckets: vscode.Range[][] = Array.from({ length: LEVELS }, () => []);
    // Neighbouring tokens of one level make one range: the same cells painted with a fraction of
    // the ranges (a 2 MB document has ~2 million tokens).
    let painted = 0;
    let runLevel = -1;
    let runStart = 0;
    let runEnd = -1;
    const flush = () => {
      if (runLevel < 0) return;
      const a = idx.positionAt(runStart);
      const b = idx.positionAt(runEnd);
      buckets[runLevel].push(new vscode.Range(a.line, a.character, b.line, b.character));
    };
    for (let i = 0; i < heat.starts.length; i++) {
      const s = heat.starts[i];
      const e = heat.ends[i];
      // Level −1: no value for this token (e.g. no chance baseline in this analysis), and blank
      // tokens of a sample (heat.skip): unpainted, and they end a run.
      if (e <= s || heat.skip?.[i] || level[i] < 0) continue;
      painted++;
      if (level[i] === runLevel && s === runEnd) {
        runEnd = e;
        continue;
      }
      flush();
      runLevel = level[i];
      runStart = s;
      runEnd = e;
    }
    flush();
    for (let l = 0; l < LEVELS; l++) editor.setDecorations(this.types[l], buckets[l]);
    heat.painted = painted;
    const ms = performance.now() - t0;
    this.lastPaint = { tokens: painted, ms };
    this.log.debug(`heatmap: painted ${painted} tokens of ${doc.uri.path.split('/').pop()} in ${ms.toFixed(1)} ms`);
  }

  private updateContext(): void {
    const visible = vscode.window.visibleTextEditors.some((e) => this.heats.has(e.document.uri.toString()));
    void vscode.commands.executeCommand('setContext', 'ldlens.heatmapVisible', visible || this.heats.size > 0);
  }

  dispose(): void {
    for (const t of this.types) t.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
