// The HTML shell of both webviews: a strict CSP (scripts only from the shipped bundle with a
// nonce, styles only from the shipped stylesheet, no inline styles), resources through
// asWebviewUri, and localResourceRoots limited to what ships (dist/webview, media).
// Only type imports from vscode, so the real-browser test harness can build the same page.
import type * as vscode from 'vscode';

export type WebviewEntry = 'explorer' | 'charts';

export interface ShellParts {
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  title: string;
}

/** The page itself; pure so that tests can render it outside VS Code. */
export function webviewShell(p: ShellParts): string {
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${p.nonce}'`,
    `style-src ${p.cspSource}`,
    // PNG export rasterizes an SVG through a blob: URL; the heatmap export embeds a data: image.
    `img-src ${p.cspSource} data: blob:`,
    `font-src ${p.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(p.styleUri)}">
<title>${escapeHtml(p.title)}</title>
</head>
<body>
<div id="app"></div>
<script nonce="${p.nonce}" src="${escapeAttr(p.scriptUri)}"></script>
</body>
</html>`;
}

/** Webview options shared by both views: scripts on, resources only from what ships. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [joinUri(extensionUri, 'dist', 'webview'), joinUri(extensionUri, 'media')] };
}

/** Fills `webview.html` for an entry bundled by scripts/build.mjs into dist/webview/<entry>.{js,css}. */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, entry: WebviewEntry, title: string): string {
  return webviewShell({
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    scriptUri: webview.asWebviewUri(joinUri(extensionUri, 'dist', 'webview', `${entry}.js`)).toString(),
    styleUri: webview.asWebviewUri(joinUri(extensionUri, 'dist', 'webview', `${entry}.css`)).toString(),
    title,
  });
}

export function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => chars[b % chars.length]).join('');
}

/** vscode.Uri.joinPath without a runtime import of 'vscode'. */
function joinUri(base: vscode.Uri, ...parts: string[]): vscode.Uri {
  return base.with({ path: [base.path.replace(/\/+$/, ''), ...parts].join('/') });
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
