// Which checkpoint analyses use: the one picked with "Select Checkpoint" (kept per workspace),
// else the latest checkpoint of the run being trained, else of the most recent run (said when a
// run is training without a checkpoint yet).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import * as P from '@common/protocol';
import type { EngineService } from '../engine/engineService';
import { runsDirPath } from '../settings';
import { chooseCheckpoint, runLabel } from './checkpointChoice';
import type { PendingCheckpoint } from '../training/trainingController';

/** What Checkpoints reads of the training in progress (TrainingController). */
export interface TrainingState {
  /** The training run whose first checkpoint is still to come. */
  readonly pendingCheckpoint: PendingCheckpoint | undefined;
  /** The run being trained, if any. */
  readonly activeRun: { runDir: string } | undefined;
}

const KEY = 'ldlens.checkpoint';

export class Checkpoints {
  private readonly changed = new vscode.EventEmitter<string | undefined>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly engine: EngineService,
    private readonly training: TrainingState,
  ) {}

  /** The selected checkpoint, if its folder still exists. */
  get selected(): P.CheckpointRef | undefined {
    const ref = this.context.workspaceState.get<P.CheckpointRef>(KEY);
    return ref && fs.existsSync(ref.dir) ? ref : undefined;
  }

  async select(ref: P.CheckpointRef | undefined): Promise<void> {
    await this.context.workspaceState.update(KEY, ref && { dir: ref.dir, runDir: ref.runDir, step: ref.step });
    this.changed.fire(ref?.dir);
  }

  async listRuns(token?: vscode.CancellationToken): Promise<P.RunInfo[]> {
    const runsDir = runsDirPath(this.context);
    if (!fs.existsSync(runsDir)) return [];
    const runs = await this.engine.request(P.ListRuns, { runsDir }, token);
    return runs.sort((a, b) => b.created.localeCompare(a.created));
  }

  async checkpointsOf(runDir: string): Promise<P.CheckpointInfo[]> {
    const runs = await this.engine.request(P.ListRuns, { runsDir: path.dirname(runDir) });
    const run = runs.find((r) => path.resolve(r.dir) === path.resolve(runDir));
    return run?.checkpoints ?? [];
  }

  /**
   * The checkpoint (or run folder) to analyze with: the selection, else the latest checkpoint of
   * the run being trained, else of the newest run that has one. While a run trains towards its
   * first checkpoint, an older run's is used and, for an interactive `again`, the user is told
   * which (and offered to redo it with the new run's when it lands). Undefined when there is
   * none; the user is told without waiting for an answer (so the caller's progress stops), and
   * `again` (e.g. "Analyze") is offered for when the first checkpoint of a training run lands.
   */
  async resolve(token?: vscode.CancellationToken, again?: { label: string; run: () => unknown }): Promise<{ checkpoint: string; runDir: string } | undefined> {
    const sel = this.selected;
    if (sel) return { checkpoint: sel.dir, runDir: sel.runDir };
    const runs = await this.listRuns(token);
    const pending = this.training.pendingCheckpoint;
    const choice = chooseCheckpoint(runs, this.training.activeRun?.runDir);
    if (choice) {
      const { run, checkpoint } = choice;
      if (choice.insteadOfTraining && pending && again) {
        void offerWhenItLands(pending, again, `Used ${runLabel(run.dir)}'s checkpoint at step ${checkpoint.step}: ${pending.name} is training (step ${pending.step}) and writes its first checkpoint at step ${pending.atStep}.`, `${again.label} Again When It Lands`);
      }
      return { checkpoint: checkpoint.dir, runDir: run.dir };
    }
    if (pending) void offerWhenItLands(pending, again);
    else {
      void vscode.window
        .showInformationMessage('There is no checkpoint to analyze with yet: train a model first (or pick a checkpoint from another runs folder).', 'Train Model', 'Select Checkpoint')
        .then((a) => {
          if (a === 'Train Model') void vscode.commands.executeCommand('ldlens.train');
          if (a === 'Select Checkpoint') void vscode.commands.executeCommand('ldlens.selectCheckpoint');
        });
    }
    return undefined;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** A run is training but has no checkpoint yet: say when it comes, and offer to go on then. */
async function offerWhenItLands(
  p: PendingCheckpoint,
  again: { label: string; run: () => unknown } | undefined,
  text = `${p.name} is training (step ${p.step}): its first checkpoint comes at step ${p.atStep}.`,
  button = `${again?.label} When It Lands`,
): Promise<void> {
  if (!again) {
    void vscode.window.showInformationMessage(`${text} Analyses can use it then.`);
    return;
  }
  const a = await vscode.window.showInformationMessage(text, button);
  if (a !== button) return;
  // Already there if it landed while the message was up.
  if (await p.landed) void again.run();
  else void vscode.window.showWarningMessage(`${p.name} ended without a checkpoint: there is nothing to ${again.label.toLowerCase()} with.`);
}
