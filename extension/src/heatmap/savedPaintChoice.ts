// The paint choice (metric, sites, unit, soft/rounded), kept per workspace, and the `ldlens.rounded`
// context key that the Toggle Soft/Rounded menu entries read.
import * as vscode from 'vscode';
import { DEFAULT_CHOICE, type PaintChoice } from './metrics';

// v2: choices saved before the default became the engine's painted value are not restored (the old
// default, active units over every site, painted window position).
const CHOICE_KEY = 'ldlens.paintChoice.v2';

export class SavedPaintChoice {
  private current: PaintChoice;

  constructor(private readonly workspaceState: vscode.Memento) {
    this.current = { ...DEFAULT_CHOICE, ...workspaceState.get<PaintChoice>(CHOICE_KEY) };
    this.setContext();
  }

  get choice(): PaintChoice {
    return this.current;
  }

  /** The new choice holds at once; the promise settles once it is saved. */
  async set(choice: PaintChoice): Promise<void> {
    this.current = choice;
    await this.workspaceState.update(CHOICE_KEY, choice);
    this.setContext();
  }

  private setContext(): void {
    void vscode.commands.executeCommand('setContext', 'ldlens.rounded', this.current.rounded);
  }
}
