// Sample Text: generate from a prompt with the current checkpoint, then show the text with its
// masks painted (in a new editor, or inserted at the cursor).
import * as vscode from 'vscode';
import * as P from '@common/protocol';
import { describeEngineError } from '../engine/errors';
import type { Services } from '../services';

export interface SampleArgs {
  prompt?: string;
  maxTokens?: number;
  where?: 'new' | 'insert';
}

export async function sampleCommand(s: Services, args?: SampleArgs): Promise<boolean> {
  const ed = vscode.window.activeTextEditor;
  const selected = ed && !ed.selection.isEmpty ? ed.document.getText(ed.selection) : undefined;
  const prompt =
    args?.prompt ??
    (await vscode.window.showInputBox({ title: 'Sample Text (1/2): prompt', prompt: 'Text the model continues (may be empty)', value: selected ?? '', ignoreFocusOut: true }));
  if (prompt === undefined) return false;
  let where = args?.where;
  let maxTokens = args?.maxTokens;
  if (!where) {
    const canInsert = ed && ed.document.uri.scheme !== 'output' && !selected;
    const items: (vscode.QuickPickItem & { where: 'new' | 'insert'; tokens: number })[] = [
      { label: '$(new-file) 200 tokens in a new editor', where: 'new', tokens: 200, detail: 'The prompt and what follows, with its masks painted.' },
      { label: '$(new-file) 1,000 tokens in a new editor', where: 'new', tokens: 1000 },
    ];
    if (canInsert) items.push({ label: '$(insert) 200 tokens at the cursor', where: 'insert', tokens: 200, detail: 'Inserted into the active editor after the prompt, painted.' });
    const pick = await vscode.window.showQuickPick(items, { title: 'Sample Text (2/2)' });
    if (!pick) return false;
    where = pick.where;
    maxTokens ??= pick.tokens;
  }
  maxTokens ??= 200;
  try {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Sampling ${maxTokens} tokens`, cancellable: true },
      async (_p, token) => {
        const ck = await s.checkpoints.resolve(token, { label: 'Sample', run: () => sampleCommand(s, { prompt, maxTokens, where }) });
        if (!ck) return false;
        const r = await s.engine.request(P.Sample, { checkpoint: ck.checkpoint, prompt, maxTokens: maxTokens! }, token);
        if (where === 'insert' && ed) {
          const at = ed.document.offsetAt(ed.selection.active);
          const ok = await ed.edit((b) => b.insert(ed.selection.active, r.text));
          if (!ok) throw new Error('the editor refused the insertion');
          // Paint only the generated part: the analysis covers prompt + text, placed so that the
          // text lands at the insertion point (the prompt's tokens fall before it and are dropped).
          const docText = ed.document.getText();
          const analysis = { ...r.analysis, tokens: r.analysis.tokens.map((t) => (t.start >= prompt.length ? t : { ...t, start: 0, end: 0 })) };
          s.heatmap.setAnalysis(ed.document, analysis, { docText, base: at - prompt.length, kind: 'sample', runDir: ck.runDir, text: prompt + r.text });
        } else {
          const doc = await vscode.workspace.openTextDocument({ content: prompt + r.text, language: 'plaintext' });
          await vscode.window.showTextDocument(doc, { preview: false });
          s.heatmap.setAnalysis(doc, r.analysis, { docText: doc.getText(), base: 0, kind: 'sample', runDir: ck.runDir });
        }
        s.log.info(`sampled ${r.analysis.tokens.length} tokens at step ${r.analysis.checkpoint.step}`);
        return true;
      },
    );
  } catch (e) {
    const d = describeEngineError(e, 'Sampling failed');
    if (!d.cancelled) void vscode.window.showErrorMessage(d.message, 'Show Engine Log').then((a) => a && s.log.show(true));
    return false;
  }
}
