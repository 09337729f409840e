// The heatmap's status-bar legend (text built by legend.ts): the active editor's painted analysis,
// else any painted one; hidden when nothing is painted. Follows the painter, the active editor and
// the colour theme.
import * as vscode from 'vscode';
import { readSettings } from '../settings';
import { runLabel } from '../checkpoints/checkpointChoice';
import { LEVELS, scaleColor, themeDefault, type ThemeKind } from './colors';
import { buildLegend } from './legend';
import { describeChoice } from './metrics';
import type { HeatmapPainter } from './painter';

export class HeatmapLegendItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly heatmap: HeatmapPainter) {
    this.item = vscode.window.createStatusBarItem('ldlens.legend', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'LearnedDropout Heatmap Legend';
    this.item.command = 'ldlens.chooseSite';
    this.disposables.push(
      this.item,
      heatmap.onDidChange(() => this.update()),
      vscode.window.onDidChangeActiveTextEditor(() => this.update()),
      vscode.window.onDidChangeActiveColorTheme(() => this.update()),
    );
    this.update();
  }

  /** Which metric over which sites, the levelling, the ramp and its range. */
  private update(): void {
    const heat = this.heatmap.current();
    if (!heat) {
      this.item.hide();
      return;
    }
    const s = readSettings();
    const choice = this.heatmap.choice;
    const what = describeChoice(choice, heat.view.sites);
    const lv = heat.view.levels(choice, s.levels, heat.skip);
    const kind = themeKind();
    const colors = Array.from({ length: LEVELS }, (_, l) => (s.colorScale === 'theme' ? themeDefault(kind, l) : scaleColor(s.colorScale, l, s.opacity)));
    const legend = buildLegend({ what, explanation: heat.view.explain(choice), levels: lv, colors, step: heat.view.analysis.checkpoint.step, run: runLabel(heat.view.analysis.checkpoint.runDir), painted: heat.painted, tokens: heat.view.tokenCount });
    this.item.text = legend.text;
    const md = new vscode.MarkdownString(
      `${legend.tooltip}\n\n` +
        `[Choose site](command:ldlens.chooseSite) · [Choose metric](command:ldlens.chooseMetric) · [Toggle soft/rounded](command:ldlens.toggleRounded) · ` +
        `[Colour levels](command:workbench.action.openSettings?${encodeURIComponent(JSON.stringify(['ldlens.heatmap.levels']))}) · [Clear](command:ldlens.clearHeatmap)`,
    );
    md.supportHtml = true;
    md.isTrusted = { enabledCommands: ['ldlens.chooseSite', 'ldlens.chooseMetric', 'ldlens.toggleRounded', 'ldlens.clearHeatmap', 'workbench.action.openSettings'] };
    this.item.tooltip = md;
    this.item.show();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function themeKind(): ThemeKind {
  switch (vscode.window.activeColorTheme.kind) {
    case vscode.ColorThemeKind.Light:
      return 'light';
    case vscode.ColorThemeKind.HighContrast:
      return 'highContrast';
    case vscode.ColorThemeKind.HighContrastLight:
      return 'highContrastLight';
    default:
      return 'dark';
  }
}
