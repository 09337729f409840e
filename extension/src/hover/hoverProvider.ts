// Token hovers over painted documents, served from the cached analysis (no engine round trip).
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { HeatmapController } from '../heatmap/heatmapController';
import { buildHoverMarkdown, HOVER_COMMANDS, type PinnedToken } from './hoverContent';

export class TokenHoverProvider implements vscode.HoverProvider {
  pinned: PinnedToken | undefined;
  /** Time to build the last hover (ms). */
  lastMs = 0;

  constructor(
    private readonly heatmap: HeatmapController,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const t0 = performance.now();
    const hit = this.heatmap.tokenAtPosition(document, position);
    if (!hit) return undefined;
    const md = new vscode.MarkdownString(
      buildHoverMarkdown({ view: hit.heat.view, index: hit.index, choice: this.heatmap.choice, pinned: this.pinned, uri: document.uri.toString() }),
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
