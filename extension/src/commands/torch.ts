// Train on a Cluster… (a run folder with torchrun and Slurm scripts, for the torch backend) and
// Follow Run Folder… (a run written by another machine, followed live like a local training).
import * as path from 'node:path';
import * as vscode from 'vscode';
import * as P from '@common/protocol';
import type { Services } from '../services';
import { readSettings, runsDirPath } from '../settings';
import { pickConfig, pickCorpus } from './train';

const positive = (v: string) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 ? undefined : 'A whole number, at least 1');

export async function clusterScriptCommand(s: Services): Promise<boolean> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Writing a run folder needs a trusted workspace.');
    return false;
  }
  const starting = s.engine.supervisor.start().catch(() => {});
  const corpus = await pickCorpus(s);
  if (!corpus) return false;
  await Promise.race([starting, new Promise((r) => setTimeout(r, 1500))]);
  const config = await pickConfig(s);
  if (!config) return false;
  const ask = (title: string, prompt: string, value: string, validate?: (v: string) => string | undefined) =>
    vscode.window.showInputBox({ title: `Train on a Cluster: ${title}`, prompt, value, ignoreFocusOut: true, validateInput: validate });
  const nodes = await ask('nodes', 'Machines (Slurm nodes); the torchrun script uses one', '1', positive);
  if (!nodes) return false;
  const gpus = await ask('GPUs per node', 'Processes per machine, one per GPU (train.batchSize must divide by nodes × GPUs)', '1', positive);
  if (!gpus) return false;
  const python = await ask('Python on the cluster', 'The Python with PyTorch on the cluster machines', readSettings().pythonPath || 'python3', (v) => (v.trim() ? undefined : 'A Python command or path'));
  if (!python) return false;
  const runsDir = runsDirPath(s.context);
  try {
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Preparing the run folder (tokens, initial weights, scripts)' }, () =>
      s.engine.request(P.ClusterScript, {
        data: corpus.data, runsDir, name: `${corpus.label}-${config.label}-cluster`, preset: config.preset, configFile: config.configFile,
        overrides: readSettings().overrides as P.TrainStartParams['overrides'], nodes: Number(nodes), gpusPerNode: Number(gpus), python: python.trim(),
      }),
    );
    s.log.info(`cluster run ${r.runId} in ${r.runDir}: ${r.files.join(', ')}`);
    const a = await vscode.window.showInformationMessage(
      `Run folder ready: ${r.runDir}. Copy it to the cluster's shared filesystem (or create it there), then run torch/launch-torchrun.sh on one node or sbatch torch/launch-slurm.sbatch. Follow it here with "Follow Run Folder…".`,
      'Open Slurm Script', 'Open torchrun Script', 'Follow Run Folder',
    );
    if (a === 'Open Slurm Script') await vscode.window.showTextDocument(vscode.Uri.file(r.files[1]));
    else if (a === 'Open torchrun Script') await vscode.window.showTextDocument(vscode.Uri.file(r.files[0]));
    else if (a === 'Follow Run Folder') return s.training.follow(r.runDir, r.runId);
    return true;
  } catch (e) {
    void vscode.window.showErrorMessage(`The cluster run could not be prepared: ${e instanceof Error ? e.message : e}`);
    return false;
  }
}

export async function followRunCommand(s: Services, args?: { runDir?: string }): Promise<boolean> {
  if (s.training.training) {
    void vscode.window.showInformationMessage(`A run is already training or followed (${s.training.activeRun!.name}). Stop it first.`);
    return false;
  }
  let runDir = args?.runDir;
  if (!runDir) {
    const uris = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Follow this run', title: 'A run folder (it holds run.json), e.g. on a shared or remote filesystem' });
    if (!uris?.length) return false;
    runDir = uris[0].fsPath;
  }
  await s.engine.supervisor.start().catch(() => {});
  return s.training.follow(runDir, path.basename(runDir));
}
