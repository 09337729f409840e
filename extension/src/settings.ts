// Typed access to the `ldlens.*` settings (declared in extension/scripts/manifest.ts).
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BackendChoice } from '@common/protocol';
import type { ScaleName } from './heatmap/colors';
import type { Levelling } from './heatmap/levels';

export type AutoReanalyze = 'onEdit' | 'onSave' | 'off';

export interface Settings {
  runtimePath: string;
  backend: BackendChoice | 'torch';
  pythonPath: string;
  preset: string;
  configFile: string;
  overrides: Record<string, unknown>;
  watchEditor: boolean;
  dataGlobs: string[];
  runsDir: string;
  colorScale: ScaleName;
  opacity: number;
  levels: Levelling;
  autoReanalyze: AutoReanalyze;
  debounceMs: number;
  window: number;
  stride: number;
  visibleRangeFirst: number;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('ldlens');
  return {
    runtimePath: c.get<string>('engine.runtimePath', ''),
    backend: c.get<BackendChoice | 'torch'>('engine.backend', 'auto'),
    pythonPath: c.get<string>('engine.pythonPath', ''),
    preset: c.get<string>('training.preset', 'tiny'),
    configFile: c.get<string>('training.configFile', ''),
    overrides: c.get<Record<string, unknown>>('training.overrides', {}) ?? {},
    watchEditor: c.get<boolean>('training.watchEditor', true),
    dataGlobs: c.get<string[]>('data.globs', ['**/*.txt', '**/*.md']),
    runsDir: c.get<string>('runsDir', '.ldlens/runs'),
    colorScale: c.get<ScaleName>('heatmap.colorScale', 'theme'),
    opacity: c.get<number>('heatmap.opacity', 0.45),
    levels: c.get<Levelling>('heatmap.levels', 'quantile'),
    autoReanalyze: c.get<AutoReanalyze>('analysis.autoReanalyze', 'onEdit'),
    debounceMs: c.get<number>('analysis.debounceMs', 800),
    window: c.get<number>('analysis.window', 0),
    stride: c.get<number>('analysis.stride', 0),
    visibleRangeFirst: c.get<number>('analysis.visibleRangeFirst', 2000),
  };
}

/** The workspace folder runs and relative paths are resolved against (the first one). */
export function workspaceRoot(): string | undefined {
  const f = vscode.workspace.workspaceFolders?.[0];
  return f?.uri.scheme === 'file' ? f.uri.fsPath : undefined;
}

/** Absolute runs folder: the setting resolved against the workspace, else the extension's storage. */
export function runsDirPath(context: vscode.ExtensionContext, s: Settings = readSettings()): string {
  if (path.isAbsolute(s.runsDir)) return s.runsDir;
  const root = workspaceRoot();
  if (root) return path.join(root, s.runsDir);
  return path.join(context.globalStorageUri.fsPath, 'runs');
}

export function resolveWorkspacePath(p: string): string {
  if (path.isAbsolute(p)) return p;
  const root = workspaceRoot();
  return root ? path.join(root, p) : p;
}
