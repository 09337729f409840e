// The training status bar item: spinner, step/total, loss, tokens/s while a run trains; the
// outcome afterwards. Clicking it opens the run charts (or resumes an interrupted run).
import * as vscode from 'vscode';
import type { RunStatus } from '@common/protocol';
import { formatProgress, type ProgressSnapshot } from './format';

export class TrainingStatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem('ldlens.training', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'LearnedDropout Training';
  }

  running(p: ProgressSnapshot): void {
    const f = formatProgress(p);
    this.item.text = `$(sync~spin) LD ${f.short}`;
    const compute = p.compute ? `\n\nCompute: ${p.compute}` : '';
    this.item.tooltip = new vscode.MarkdownString(`**Training ${p.name}**\n\n${f.long}${compute}\n\nClick to open the run charts.`);
    this.item.command = 'ldlens.openRunCharts';
    this.item.backgroundColor = undefined;
    this.item.show();
  }

  ended(p: ProgressSnapshot, status: Exclude<RunStatus, 'running'>, error?: string): void {
    const f = formatProgress(p);
    const icon = status === 'completed' ? '$(check)' : status === 'stopped' ? '$(debug-stop)' : status === 'failed' ? '$(error)' : '$(warning)';
    this.item.text = `${icon} LD ${status} ${f.steps}`;
    const resume = status === 'interrupted' || status === 'stopped';
    this.item.tooltip = new vscode.MarkdownString(
      `**${p.name}: ${status}** at step ${p.step} of ${p.totalSteps}${error ? `\n\n${error}` : ''}\n\n` +
        (resume ? 'Click to resume from the last checkpoint.' : 'Click to open the run charts.'),
    );
    this.item.command = resume ? 'ldlens.resumeTraining' : 'ldlens.openRunCharts';
    this.item.backgroundColor =
      status === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : status === 'interrupted' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
