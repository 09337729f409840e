// Writes a file a webview built (export message): asks where with a save dialog, or, when the
// LDLENS_EXPORT_DIR environment variable is set (tests), writes there without asking.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExportKind, ExportRequest, ExportResult } from '@common/webviewProtocol';

const FILTERS: Record<ExportKind, Record<string, string[]>> = {
  svg: { 'SVG image': ['svg'] },
  png: { 'PNG image': ['png'] },
  csv: { 'CSV table': ['csv'] },
  json: { JSON: ['json'] },
};

export const EXPORT_DIR_ENV = 'LDLENS_EXPORT_DIR';

export async function saveExport(req: ExportRequest, log: vscode.LogOutputChannel): Promise<ExportResult> {
  // The name comes from the webview: keep only a plain file name, with the kind's extension.
  let name = path.basename(req.filename.replace(/\\/g, '/')).replace(/[\u0000-\u001f<>:"|?*]/g, '_') || `export.${req.kind}`;
  if (!name.toLowerCase().endsWith(`.${req.kind}`)) name += `.${req.kind}`;
  try {
    let target: vscode.Uri | undefined;
    const fixed = process.env[EXPORT_DIR_ENV];
    if (fixed) target = vscode.Uri.file(path.join(fixed, name));
    else {
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
      target = await vscode.window.showSaveDialog({
        defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
        filters: FILTERS[req.kind],
        saveLabel: 'Export',
        title: `Export ${req.kind.toUpperCase()}`,
      });
    }
    if (!target) return { type: 'exportResult', requestId: req.requestId, cancelled: true };
    const bytes = req.encoding === 'base64' ? Buffer.from(req.data, 'base64') : Buffer.from(req.data, 'utf8');
    await vscode.workspace.fs.writeFile(target, bytes);
    log.info(`exported ${req.kind} (${bytes.length} bytes) to ${target.fsPath}`);
    return { type: 'exportResult', requestId: req.requestId, path: target.fsPath };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log.error(`export of ${name} failed: ${message}`);
    return { type: 'exportResult', requestId: req.requestId, error: message };
  }
}
