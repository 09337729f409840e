// Token hovers over painted documents, served from the cached analysis; for an analysis the
// engine keeps, the hovered token's masks are fetched first (one token: a small reply).
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { describeEngineError } from '../engine/errors';
import type { HeatmapPainter } from '../heatmap/painter';
import { buildHoverMarkdown, HOVER_COMMANDS, type PinnedToken } from './hoverContent';

export class TokenHoverProvider implements vscode.HoverProvider {
  pinned: PinnedToken | undefined;
  /** Time to build the last hover (ms). */
  lastMs = 0;

  constructor(
    private readonly heatmap: HeatmapPainter,
    private readonly log: vscode.LogOutputChannel,
    /** The engine no longer holds the document's analysis (a restart, an eviction): analyze again. */
    private readonly onAnalysisGone: (document: vscode.TextDocument) => void = () => {},
  ) {}

  async provideHover(document: vscode.TextDocument, position: vscode.Position, token?: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const t0 = performance.now();
    const hit = this.heatmap.tokenAtPosition(document, position);
    if (!hit) return undefined;
    // An analysis the engine keeps sends no masks: this token's are fetched (one small reply).
    let note = '';
    try {
      await hit.heat.view.fetchRows(hit.index, hit.index + 1);
    } catch (e) {
      this.log.warn(`hover: the masks of token ${hit.index} could not be fetched: ${e instanceof Error ? e.message : String(e)}`);
      if (describeEngineError(e, 'Fetching masks').kind === 'notFound') {
        note = '\n\n---\n\n*The engine no longer holds this analysis (it restarted, or freed it to stay within its memory): analyzing the document again.*';
        this.onAnalysisGone(document);
      }
    }
    if (token?.isCancellationRequested) return undefined;
    const md = new vscode.MarkdownString(
      buildHoverMarkdown({ view: hit.heat.view, index: hit.index, choice: this.heatmap.choice, pinned: this.pinned, uri: document.uri.toString() }) + note,
      true,
    );
    md.isTrusted = { enabledCommands: [...HOVER_COMMANDS] };
    this.lastMs = performance.now() - t0;
    this.log.trace(`hover: token ${hit.index} in ${this.lastMs.toFixed(2)} ms`);
    return new vscode.Hover(md, hit.range);
  }

  pin(uri: string, index: number): PinnedToken | undefined {
    const heat = this.heatmap.get(uri);
    if (!heat || index < 0 || index >= heat.view.tokenCount) return undefined;
    this.pinned = { view: heat.view, index, label: heat.view.analysis.tokens[index].text };
    void vscode.commands.executeCommand('setContext', 'ldlens.hasPinnedToken', true);
    return this.pinned;
  }

  unpin(): void {
    this.pinned = undefined;
    void vscode.commands.executeCommand('setContext', 'ldlens.hasPinnedToken', false);
  }
}
