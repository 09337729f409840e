// Everything the commands work with, created once in activate().
import type * as vscode from 'vscode';
import type { EngineService } from './engine/engineService';
import type { Analyzer } from './heatmap/analyzer';
import type { HeatmapPainter } from './heatmap/painter';
import type { TokenHoverProvider } from './hover/hoverProvider';
import type { Checkpoints } from './checkpoints/checkpoints';
import type { TrainingController } from './training/trainingController';
import type { Views } from './views';

export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  engine: EngineService;
  heatmap: HeatmapPainter;
  analyzer: Analyzer;
  hover: TokenHoverProvider;
  checkpoints: Checkpoints;
  training: TrainingController;
  views: Views;
}
