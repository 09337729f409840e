// LearnedDropout Lens: train a small LearnedDropout transformer and see its learned masks over
// the editor's text. activate() wires the engine (a supervised child process), the heatmap, the
// hovers, training progress, the webviews and the commands, each constructed once with what it
// uses (in dependency order: nothing is wired in afterwards).
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { EngineService } from './engine/engineService';
import { Analyzer } from './heatmap/analyzer';
import { EditTracker } from './heatmap/editTracker';
import { HeatmapLegendItem } from './heatmap/legendItem';
import { HeatmapPainter } from './heatmap/painter';
import { SavedPaintChoice } from './heatmap/savedPaintChoice';
import { TokenHoverProvider } from './hover/hoverProvider';
import type { Services } from './services';
import { Checkpoints } from './checkpoints/checkpoints';
import { TrainingController } from './training/trainingController';
import { Views } from './views';

let engine: EngineService | undefined;

export interface LdlensApi {
  /** For tests: what the extension holds. */
  readonly services: Services;
}

export function activate(context: vscode.ExtensionContext): LdlensApi {
  const log = vscode.window.createOutputChannel('LearnedDropout', { log: true });
  context.subscriptions.push(log);
  log.info(`LearnedDropout Lens ${context.extension.packageJSON.version} activating (${vscode.env.appName} ${vscode.version}, workspace ${vscode.workspace.isTrusted ? 'trusted' : 'untrusted'})`);

  engine = new EngineService(context, log);
  const edits = new EditTracker();
  const heatmap = new HeatmapPainter(new SavedPaintChoice(context.workspaceState), edits, log);
  const legend = new HeatmapLegendItem(heatmap);
  const training = new TrainingController(context, engine, heatmap, edits, log);
  const checkpoints = new Checkpoints(context, engine, training);
  const analyzer = new Analyzer(engine, checkpoints, heatmap, edits, log);
  const hover = new TokenHoverProvider(heatmap, log, (document) => analyzer.analysisGone(document));
  const views = new Views(context, engine, analyzer, heatmap, checkpoints, training, log);
  const services: Services = { context, log, engine, heatmap, analyzer, hover, checkpoints, training, views };

  context.subscriptions.push(
    engine,
    edits,
    heatmap,
    legend,
    training,
    checkpoints,
    analyzer,
    views,
    vscode.languages.registerHoverProvider([{ scheme: 'file' }, { scheme: 'untitled' }], hover),
    ...registerCommands(services),
    vscode.workspace.onDidGrantWorkspaceTrust(() => log.info('workspace trusted: training enabled')),
  );
  return { services };
}

/** Graceful engine shutdown (a running training writes its checkpoint), killed after a timeout. */
export async function deactivate(): Promise<void> {
  const e = engine;
  engine = undefined;
  await e?.shutdown();
}
