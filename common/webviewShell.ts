// The HTML shell of both webviews, pure so that the extension (extension/src/webviews/html.ts) and
// the real-browser test harness build the same page: a strict CSP (scripts only from the shipped
// bundle with a nonce, styles only from the shipped stylesheet, no inline styles).

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

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
