// The HTML shell of both webviews: a strict CSP (scripts only from the shipped bundle with a
// nonce, styles only from the shipped stylesheet, no inline styles), resources through
// asWebviewUri, and localResourceRoots limited to what ships (dist/webview, media).
// The page itself is common/webviewShell.ts (the real-browser test harness builds the same one).
import type * as vscode from 'vscode';
import { webviewShell, type WebviewEntry } from '@common/webviewShell';

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
