// Runs inside VS Code's extension host (loaded by @vscode/test-electron as extensionTestsPath):
// train a tiny model, analyze a document, check decorations state and hovers through the API,
// kill the engine mid-run and resume.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LdlensApi } from '../../src/extension';

const EXT_ID = 'ldlens.learneddropout-lens';

async function waitFor<T>(what: string, f: () => T | undefined | false, ms = 120_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function scenarios(): Promise<void> {
  const ext = vscode.extensions.getExtension<LdlensApi>(EXT_ID)!;
  const api = await ext.activate();
  const s = api.services;
  const ws = vscode.workspace.workspaceFolders![0].uri.fsPath;
  const corpus = path.join(ws, 'corpus.txt');

  // Train (the pickers are skipped with arguments; the code-server suite drives them).
  await vscode.window.showTextDocument(vscode.Uri.file(corpus));
  assert.equal(await vscode.commands.executeCommand('ldlens.train', { data: [corpus], preset: 'tiny', name: 'electron-run' }), true);
  assert.ok(s.training.training);
  await waitFor('run end', () => !s.training.training);

  // Analyze a document: every token gets a span, the hover has the token and the links.
  const doc = await vscode.workspace.openTextDocument(path.join(ws, 'sample.txt'));
  await vscode.window.showTextDocument(doc);
  assert.equal(await vscode.commands.executeCommand('ldlens.analyzeDocument'), true);
  const heat = s.heatmap.get(doc.uri)!;
  assert.ok(heat.painted > 40, `painted ${heat.painted}`);
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(1, 5));
  const md = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n');
  assert.match(md, /token \d+ of \d+ · id \d+/);
  assert.match(md, /Open in Mask Explorer/);

  // Kill the engine mid-run, resume, complete.
  await vscode.window.showTextDocument(vscode.Uri.file(corpus));
  await vscode.commands.executeCommand('ldlens.train', { data: [corpus], preset: 'tiny', name: 'electron-kill' });
  const runDir = s.training.activeRun!.runDir;
  await waitFor('a checkpoint', () => existsSync(path.join(runDir, 'checkpoints/step-000020')));
  process.kill(s.engine.supervisor.pid!, 'SIGKILL');
  await waitFor('interrupted', () => !s.training.training);
  await waitFor('engine back', () => s.engine.state === 'running');
  assert.equal(await vscode.commands.executeCommand('ldlens.resumeTraining', { runDir }), true);
  await waitFor('resumed run end', () => !s.training.training);
}

export function run(): Promise<void> {
  return scenarios();
}
