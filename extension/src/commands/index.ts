// Every command of the extension (declared in extension/scripts/manifest.ts), registered once.
import * as vscode from 'vscode';
import type { Services } from '../services';
import { installGpuBackendCommand } from './backend';
import { selectCheckpointCommand } from './checkpoints';
import { tryDemoCommand } from './demo';
import {
  analyzeDocumentCommand,
  analyzeSelectionCommand,
  chooseMetricCommand,
  chooseSiteCommand,
  clearHeatmapCommand,
  toggleRoundedCommand,
} from './heatmap';
import { sampleCommand } from './sample';
import { resumeCommand, trainCommand } from './train';
import { clusterScriptCommand, followRunCommand } from './torch';

/** Hover links pass `{uri, index}`. */
interface TokenArgs {
  uri: string;
  index: number;
}

export function registerCommands(s: Services): vscode.Disposable[] {
  const reg = (id: string, f: (...args: never[]) => unknown) => vscode.commands.registerCommand(id, f as (...args: unknown[]) => unknown);
  return [
    reg('ldlens.train', (args?: Parameters<typeof trainCommand>[1]) => trainCommand(s, args)),
    reg('ldlens.tryDemo', () => tryDemoCommand(s)),
    reg('ldlens.stopTraining', () => s.training.stop()),
    reg('ldlens.resumeTraining', (args?: Parameters<typeof resumeCommand>[1]) => resumeCommand(s, args)),
    reg('ldlens.trainOnCluster', () => clusterScriptCommand(s)),
    reg('ldlens.followRun', (args?: Parameters<typeof followRunCommand>[1]) => followRunCommand(s, args)),
    reg('ldlens.analyzeDocument', (uri?: vscode.Uri) => analyzeDocumentCommand(s, uri instanceof vscode.Uri ? uri : undefined)),
    reg('ldlens.analyzeSelection', () => analyzeSelectionCommand(s)),
    reg('ldlens.clearHeatmap', () => clearHeatmapCommand(s)),
    reg('ldlens.chooseSite', (arg?: Parameters<typeof chooseSiteCommand>[1]) => chooseSiteCommand(s, arg)),
    reg('ldlens.chooseMetric', (arg?: Parameters<typeof chooseMetricCommand>[1]) => chooseMetricCommand(s, arg)),
    reg('ldlens.toggleRounded', () => toggleRoundedCommand(s)),
    reg('ldlens.sample', (args?: Parameters<typeof sampleCommand>[1]) => sampleCommand(s, args)),
    reg('ldlens.selectCheckpoint', () => selectCheckpointCommand(s)),
    reg('ldlens.openMaskExplorer', async () => {
      if (!(await s.views.openExplorer()))
        void vscode.window.showInformationMessage('The Mask Explorer shows an analyzed text: run "LearnedDropout: Analyze Document" on a document.', 'Analyze Document').then((a) => a && vscode.commands.executeCommand('ldlens.analyzeDocument'));
    }),
    reg('ldlens.openInMaskExplorer', (a?: TokenArgs) => s.views.openExplorer(a?.uri, a?.index)),
    reg('ldlens.pinToken', (a?: TokenArgs) => {
      const p = a && s.hover.pin(a.uri, a.index);
      if (p) vscode.window.setStatusBarMessage(`LearnedDropout: pinned “${p.label}” for comparison in hovers`, 4000);
    }),
    reg('ldlens.unpinToken', () => s.hover.unpin()),
    reg('ldlens.openRunCharts', () => s.views.openRunCharts()),
    reg('ldlens.installGpuBackend', () => installGpuBackendCommand(s)),
    reg('ldlens.showEngineLog', () => s.log.show()),
    reg('ldlens.restartEngine', async () => {
      if (s.training.training) {
        const a = await vscode.window.showWarningMessage('A run is training. Restarting the engine stops it (after writing a checkpoint).', { modal: true }, 'Restart Engine');
        if (!a) return;
      }
      try {
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Restarting the LearnedDropout engine' }, () => s.engine.supervisor.restart());
        vscode.window.setStatusBarMessage(`LearnedDropout engine restarted (backend ${s.engine.initializeResult?.backend})`, 4000);
      } catch (e) {
        void vscode.window.showErrorMessage(`The engine did not restart: ${e instanceof Error ? e.message : e}`, 'Show Engine Log').then((x) => x && s.log.show());
      }
    }),
  ];
}
