// Sends export files to the host and matches its `exportResult` answers to the requests.
import type { ExportKind, ExportRequest, ExportResult } from '@common/webviewProtocol';

export class ExportClient {
  private nextId = 1;
  private readonly pending = new Map<number, (r: ExportResult) => void>();

  constructor(private readonly post: (m: ExportRequest) => void) {}

  send(kind: ExportKind, filename: string, data: string, encoding: 'base64' | 'text'): Promise<ExportResult> {
    const requestId = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(requestId, resolve);
      this.post({ type: 'export', requestId, kind, filename, data, encoding });
    });
  }

  /** Handler for the host's `exportResult`. */
  resolve(result: ExportResult): void {
    this.pending.get(result.requestId)?.(result);
    this.pending.delete(result.requestId);
  }
}

/** One line for the status bar of a view. */
export function describeExport(r: ExportResult): string {
  if (r.path) return `Saved ${r.path}`;
  if (r.cancelled) return 'Export cancelled';
  return `Export failed: ${r.error ?? 'unknown error'}`;
}
