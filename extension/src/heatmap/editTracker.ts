// The edits made to documents, seen once: logs of the edits since a request (or a watched text)
// was taken from a document, so that its results land on the current text, and an event for what
// follows edits (the painter shifts its spans, the analyzer debounces re-analysis).
import * as vscode from 'vscode';
import { type TextEdit, sequentialEdits } from './offsets';

/** Edits seen since a request (or a watched text) was taken from a document. */
export class EditLog {
  readonly edits: TextEdit[] = [];
  constructor(readonly uri: string) {}
}

export interface DocumentEdit {
  document: vscode.TextDocument;
  /** The change event's edits in the order they apply (offsets.ts sequentialEdits). */
  edits: TextEdit[];
}

export class EditTracker implements vscode.Disposable {
  private readonly logs = new Set<EditLog>();
  private readonly edited = new vscode.EventEmitter<DocumentEdit>();
  /** Fires after each non-empty change of a document, once the edit logs have it. */
  readonly onDidEdit = this.edited.event;
  private readonly subscription: vscode.Disposable;

  constructor() {
    this.subscription = vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e));
  }

  /** Starts collecting the edits of a document (for a request in flight or a watched text). */
  track(uri: vscode.Uri): EditLog {
    const l = new EditLog(uri.toString());
    this.logs.add(l);
    return l;
  }

  untrack(l: EditLog): void {
    this.logs.delete(l);
  }

  private onChange(e: vscode.TextDocumentChangeEvent): void {
    if (!e.contentChanges.length) return;
    const uri = e.document.uri.toString();
    const edits = sequentialEdits(e.contentChanges);
    for (const l of this.logs) if (l.uri === uri) l.edits.push(...edits);
    this.edited.fire({ document: e.document, edits });
  }

  dispose(): void {
    this.subscription.dispose();
    this.edited.dispose();
  }
}
