// Which checkpoint analyses use: the one picked with "Select Checkpoint" (kept per workspace),
// else the latest checkpoint of the most recent run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import * as P from '@common/protocol';
import type { EngineService } from '../engine/engineService';
import { runsDirPath } from '../settings';

const KEY = 'ldlens.checkpoint';

export class Checkpoints {
  private readonly changed = new vscode.EventEmitter<string | undefined>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly engine: EngineService,
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
   * The checkpoint (or run folder) to analyze with: the selection, else the newest run that has a
   * checkpoint. Undefined (after telling the user) when there is none.
   */
  async resolve(token?: vscode.CancellationToken): Promise<{ checkpoint: string; runDir: string } | undefined> {
    const sel = this.selected;
    if (sel) return { checkpoint: sel.dir, runDir: sel.runDir };
    const runs = await this.listRuns(token);
    const run = runs.find((r) => r.checkpoints.length > 0);
    if (run) {
      const latest = [...run.checkpoints].sort((a, b) => b.step - a.step)[0];
      return { checkpoint: latest.dir, runDir: run.dir };
    }
    const a = await vscode.window.showInformationMessage(
      'There is no checkpoint to analyze with yet: train a model first (or pick a checkpoint from another runs folder).',
      'Train Model',
      'Select Checkpoint',
    );
    if (a === 'Train Model') void vscode.commands.executeCommand('ldlens.train');
    if (a === 'Select Checkpoint') void vscode.commands.executeCommand('ldlens.selectCheckpoint');
    return undefined;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

