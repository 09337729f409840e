// Select Checkpoint: the checkpoint Analyze, Sample and the hovers use, and a repaint with it.
import * as vscode from 'vscode';
import type * as P from '@common/protocol';
import { describeEngineError } from '../engine/errors';
import type { Services } from '../services';

type CheckpointPick = vscode.QuickPickItem & { ref?: P.CheckpointRef };

export async function selectCheckpointCommand(s: Services): Promise<void> {
  let runs: P.RunInfo[];
  try {
    runs = await s.checkpoints.listRuns();
  } catch (e) {
    void vscode.window.showErrorMessage(describeEngineError(e, 'Listing runs failed').message);
    return;
  }
  const sel = s.checkpoints.selected;
  const items: CheckpointPick[] = [{ label: '$(history) Latest checkpoint of the run being trained, else of the newest run', description: sel ? undefined : 'current', ref: undefined }];
  for (const r of runs) {
    if (!r.checkpoints.length) continue;
    items.push({ label: r.name, kind: vscode.QuickPickItemKind.Separator });
    for (const c of [...r.checkpoints].sort((a, b) => b.step - a.step)) {
      items.push({
        label: `step ${c.step}`,
        description: `${r.name}${sel?.dir === c.dir ? ' · current' : ''}`,
        detail: `${c.valLoss !== null ? `val loss ${c.valLoss.toFixed(3)} · ` : ''}${new Date(c.time).toLocaleString()} · ${r.status}`,
        ref: c,
      });
    }
  }
  if (items.length === 1) {
    const pending = s.training.pendingCheckpoint;
    if (pending) void vscode.window.showInformationMessage(`No run has a checkpoint yet: ${pending.name} is training (step ${pending.step}) and writes its first at step ${pending.atStep}.`);
    else void vscode.window.showInformationMessage('No run has a checkpoint yet.', 'Train Model').then((a) => a && vscode.commands.executeCommand('ldlens.train'));
    return;
  }
  const pick = await vscode.window.showQuickPick(items, { title: 'Select Checkpoint', placeHolder: 'Checkpoint used by Analyze, Sample and the hovers', matchOnDescription: true });
  if (!pick) return;
  await s.checkpoints.select(pick.ref);
  // Repaint what is painted with the new checkpoint.
  for (const ed of vscode.window.visibleTextEditors) {
    const heat = s.heatmap.get(ed.document.uri);
    if (heat && (heat.kind === 'document' || heat.kind === 'visible')) void s.analyzer.analyze(ed.document, ed, { selection: undefined, interactive: true });
  }
}
