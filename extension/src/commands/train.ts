// Train Model (corpus → preset or config file → run name), Resume Training, Stop Training.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { PRESETS } from '@common/config';
import type * as P from '@common/protocol';
import type { Services } from '../services';
import { readSettings, resolveWorkspacePath, runsDirPath, workspaceRoot } from '../settings';

/** Arguments that skip the pickers (automation, other extensions). */
export interface TrainArgs {
  data?: string[];
  preset?: string;
  configFile?: string;
  name?: string;
}

type CorpusPick = vscode.QuickPickItem & { pick: 'active' | 'browse' | 'glob' };

export async function pickCorpus(s: Services): Promise<{ data: string[]; label: string } | undefined> {
  const ed = vscode.window.activeTextEditor;
  const active = ed && ed.document.uri.scheme === 'file' ? ed.document.uri.fsPath : undefined;
  const globs = readSettings().dataGlobs;
  const items: CorpusPick[] = [];
  if (active) items.push({ pick: 'active', label: `$(file) Active file: ${path.basename(active)}`, description: vscode.workspace.asRelativePath(active), detail: 'Train on the text of the file in the active editor (as saved on disk).' });
  items.push({ pick: 'browse', label: '$(folder-opened) A file or folder…', detail: 'Every UTF-8 text file in the chosen files and folders.' });
  if (workspaceRoot()) items.push({ pick: 'glob', label: '$(search) Workspace files matching a glob…', description: globs.join(', '), detail: 'Files of the workspace matching glob patterns (setting ldlens.data.globs).' });
  const choice = await vscode.window.showQuickPick(items, { title: 'Train Model (1/3): training text', placeHolder: 'What should the model learn from?', ignoreFocusOut: true });
  if (!choice) return undefined;
  if (choice.pick === 'active') {
    if (ed?.document.isDirty) await ed.document.save();
    return { data: [active!], label: path.parse(active!).name };
  }
  if (choice.pick === 'browse') {
    const uris = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, canSelectMany: true, openLabel: 'Train on these', title: 'Training text: files or folders' });
    if (!uris?.length) return undefined;
    return { data: uris.map((u) => u.fsPath), label: path.parse(uris[0].fsPath).name };
  }
  const pattern = await vscode.window.showInputBox({
    title: 'Train Model (1/3): workspace glob',
    prompt: 'Glob patterns relative to the workspace folder, separated by commas',
    value: globs.join(', '),
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : 'Enter at least one pattern'),
  });
  if (!pattern) return undefined;
  const root = workspaceRoot()!;
  const runs = path.relative(root, runsDirPath(s.context));
  const files = new Set<string>();
  for (const g of pattern.split(',').map((p) => p.trim()).filter(Boolean)) {
    for (const u of await vscode.workspace.findFiles(new vscode.RelativePattern(root, g), `{**/node_modules/**,${runs}/**}`)) files.add(u.fsPath);
  }
  if (!files.size) {
    void vscode.window.showWarningMessage(`No workspace file matches ${pattern}.`);
    return undefined;
  }
  s.log.info(`corpus: ${files.size} files match ${pattern}`);
  return { data: [...files].sort(), label: path.basename(root) };
}

type ConfigPick = vscode.QuickPickItem & { preset?: string; configFile?: string; browse?: boolean };

export async function pickConfig(s: Services): Promise<{ preset?: string; configFile?: string; label: string } | undefined> {
  const settings = readSettings();
  const presets = s.engine.initializeResult?.presets ?? Object.entries(PRESETS).map(([name, v]) => ({ name, description: v.description }));
  const items: ConfigPick[] = [];
  if (settings.configFile) items.push({ label: `$(json) ${path.basename(settings.configFile)}`, description: 'config file (ldlens.training.configFile)', configFile: resolveWorkspacePath(settings.configFile) });
  const ordered = [...presets].sort((a, b) => (a.name === settings.preset ? -1 : b.name === settings.preset ? 1 : 0));
  for (const p of ordered) items.push({ label: p.name, description: p.name === settings.preset ? 'default' : undefined, detail: p.description, preset: p.name });
  items.push({ label: '$(json) A config file…', detail: 'A JSON config merged over the defaults (keys: model, dropout, train, tokenizer).', browse: true });
  const overrides = Object.keys(settings.overrides).length ? ` · overrides from settings: ${JSON.stringify(settings.overrides)}` : '';
  const choice = await vscode.window.showQuickPick(items, { title: `Train Model (2/3): preset or config${overrides}`, placeHolder: 'Model size and training schedule', matchOnDetail: true, ignoreFocusOut: true });
  if (!choice) return undefined;
  if (choice.browse) {
    const uris = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'JSON config': ['json'] }, openLabel: 'Use this config', title: 'Training config file' });
    if (!uris?.length) return undefined;
    return { configFile: uris[0].fsPath, label: path.parse(uris[0].fsPath).name };
  }
  if (choice.configFile) return { configFile: choice.configFile, label: path.parse(choice.configFile).name };
  return { preset: choice.preset, label: choice.preset! };
}

function defaultRunName(corpus: string, config: string): string {
  const d = new Date();
  const stamp = `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}-${String(d.getHours()).padStart(2, '0')}${String(d.getMinutes()).padStart(2, '0')}`;
  return `${corpus}-${config}-${stamp}`.replace(/[^\w.-]+/g, '-');
}

export async function trainCommand(s: Services, args?: TrainArgs): Promise<boolean> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Training writes runs into the workspace, so it needs a trusted workspace. Analyzing with existing checkpoints works without trust.', 'Manage Workspace Trust').then((a) => a && vscode.commands.executeCommand('workbench.trust.manage'));
    return false;
  }
  if (s.training.training) {
    void vscode.window.showInformationMessage(`A run is already training (${s.training.activeRun!.name}). Stop it first.`, 'Stop Training').then((a) => a && vscode.commands.executeCommand('ldlens.stopTraining'));
    return false;
  }
  // Start the engine while the user picks (its presets fill the second picker).
  const starting = s.engine.supervisor.start().catch(() => {});
  const corpus = args?.data ? { data: args.data, label: path.parse(args.data[0]).name } : await pickCorpus(s);
  if (!corpus) return false;
  await Promise.race([starting, new Promise((r) => setTimeout(r, 1500))]);
  const config = args?.preset || args?.configFile ? { preset: args.preset, configFile: args.configFile, label: args.preset ?? path.parse(args.configFile!).name } : await pickConfig(s);
  if (!config) return false;
  const name =
    args?.name ??
    (await vscode.window.showInputBox({
      title: 'Train Model (3/3): run name',
      prompt: `The run is stored in ${vscode.workspace.asRelativePath(runsDirPath(s.context))}`,
      value: defaultRunName(corpus.label, config.label),
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : 'The run needs a name'),
    }));
  if (!name) return false;
  const overrides = readSettings().overrides as P.TrainStartParams['overrides'];
  return s.training.start({ data: corpus.data, name: name.trim(), preset: config.preset, configFile: config.configFile, overrides }, true);
}

type RunPick = vscode.QuickPickItem & { run: P.RunInfo };

export async function resumeCommand(s: Services, args?: { runDir?: string; steps?: number }): Promise<boolean> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Resuming a run writes into the workspace, so it needs a trusted workspace.');
    return false;
  }
  if (s.training.training) {
    void vscode.window.showInformationMessage(`A run is already training (${s.training.activeRun!.name}).`);
    return false;
  }
  let runs: P.RunInfo[];
  try {
    runs = await s.checkpoints.listRuns();
  } catch (e) {
    void vscode.window.showErrorMessage(`Listing runs failed: ${e instanceof Error ? e.message : e}`);
    return false;
  }
  let run = args?.runDir ? runs.find((r) => path.resolve(r.dir) === path.resolve(args.runDir!)) : undefined;
  if (!run) {
    const candidates = runs.filter((r) => r.checkpoints.length > 0);
    if (!candidates.length) {
      void vscode.window.showInformationMessage('No run has a checkpoint to resume from yet.', 'Train Model').then((a) => a && vscode.commands.executeCommand('ldlens.train'));
      return false;
    }
    const last = s.training.lastRunDir;
    candidates.sort((a, b) => Number(b.dir === last) - Number(a.dir === last) || Number(a.status === 'completed') - Number(b.status === 'completed'));
    const pick = await vscode.window.showQuickPick<RunPick>(
      candidates.map((r) => ({
        run: r,
        label: r.name,
        description: `${r.status} · step ${r.step}/${r.totalSteps}`,
        detail: `last checkpoint: step ${Math.max(...r.checkpoints.map((c) => c.step))}${r.bestValLoss !== null ? ` · best val loss ${r.bestValLoss.toFixed(3)}` : ''}${r.error ? ` · ${r.error}` : ''}`,
      })),
      { title: 'Resume Training', placeHolder: 'Run to continue from its last checkpoint', ignoreFocusOut: true },
    );
    if (!pick) return false;
    run = pick.run;
  }
  let steps = args?.steps;
  if (!steps && run.status === 'completed') {
    const v = await vscode.window.showInputBox({
      title: `Resume ${run.name}`,
      prompt: `The run completed its ${run.totalSteps} steps. New total number of steps:`,
      value: String(run.totalSteps * 2),
      validateInput: (x) => (/^\d+$/.test(x) && Number(x) > run!.step ? undefined : `A whole number above ${run!.step}`),
    });
    if (!v) return false;
    steps = Number(v);
  }
  if (!fs.existsSync(run.dir)) return false;
  return s.training.resume(run.dir, steps, run.name, true);
}
