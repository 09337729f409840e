// Sends export files to the host and matches its `exportResult` answers to the requests.
import { PendingRequests } from '@common/requests';
import type { ExportKind, ExportRequest, ExportResult } from '@common/webviewProtocol';

export class ExportClient {
  private readonly requests = new PendingRequests<ExportResult>();

  constructor(private readonly post: (m: ExportRequest) => void) {}

  send(kind: ExportKind, filename: string, data: string, encoding: 'base64' | 'text'): Promise<ExportResult> {
    return this.requests.request((requestId) => this.post({ type: 'export', requestId, kind, filename, data, encoding }));
  }

  /** Handler for the host's `exportResult`. */
  resolve(result: ExportResult): void {
    this.requests.resolve(result);
  }
}

/** One line for the status bar of a view. */
export function describeExport(r: ExportResult): string {
  if (r.path) return `Saved ${r.path}`;
  if (r.cancelled) return 'Export cancelled';
  return `Export failed: ${r.error ?? 'unknown error'}`;
}
