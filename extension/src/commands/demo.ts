// Try It on a Demo Corpus: the engine's built-in demo corpus (common/demoCorpus.ts) written
// into the workspace, a short probe text opened beside it, and the tiny preset trained on the
// corpus, so that someone who installed the VSIX has a model to look at without finding text.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DEMO_PROBE, demoCorpus } from '@common/demoCorpus';
import type { Services } from '../services';
import { workspaceRoot } from '../settings';
import { trainCommand } from './train';

/** Workspace-relative folder of the demo files. */
export const DEMO_DIR = 'ldlens-demo';

/** Writes a temp file beside `file`, then renames it over: a reader (the user's editor, a file
 *  watcher) sees the old file or the whole new one, never a truncated corpus. */
function writeWhole(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export async function tryDemoCommand(s: Services): Promise<boolean> {
  // Untrusted, or a run already training: Train Model says so (before anything is written).
  if (!vscode.workspace.isTrusted || s.training.training) return trainCommand(s);
  const root = workspaceRoot();
  if (!root) {
    void vscode.window.showInformationMessage('The demo writes its corpus into the workspace: open a folder first.', 'Open Folder').then((a) => a && vscode.commands.executeCommand('workbench.action.files.openFolder'));
    return false;
  }
  const dir = path.join(root, DEMO_DIR);
  const corpus = path.join(dir, 'corpus.txt');
  const probe = path.join(dir, 'probe.txt');
  const text = demoCorpus();
  let write = true;
  if (fs.existsSync(corpus) && fs.readFileSync(corpus, 'utf8') !== text) {
    // A file the user may have edited: never replaced without asking.
    const a = await vscode.window.showWarningMessage(
      `${DEMO_DIR}/corpus.txt exists and differs from the demo corpus. Overwrite it?`,
      { modal: true },
      'Overwrite',
      'Train on It As It Is',
    );
    if (!a) return false;
    write = a === 'Overwrite';
  }
  try {
    fs.mkdirSync(dir, { recursive: true });
    if (write) writeWhole(corpus, text);
    if (!fs.existsSync(probe)) writeWhole(probe, DEMO_PROBE);
  } catch (e) {
    void vscode.window.showErrorMessage(`The demo corpus could not be written to ${DEMO_DIR}/: ${e instanceof Error ? e.message : e}`);
    return false;
  }
  s.log.info(`demo corpus in ${corpus}${write ? '' : ' (kept as it was)'}`);
  // The probe in the editor: training paints it at every checkpoint (ldlens.training.watchEditor),
  // and it is what "Analyze Document" paints afterwards.
  await vscode.window.showTextDocument(vscode.Uri.file(probe), { preview: false });
  const d = new Date();
  const stamp = `${String(d.getHours()).padStart(2, '0')}${String(d.getMinutes()).padStart(2, '0')}${String(d.getSeconds()).padStart(2, '0')}`;
  return trainCommand(s, { data: [corpus], preset: 'tiny', name: `demo-tiny-${stamp}` });
}
