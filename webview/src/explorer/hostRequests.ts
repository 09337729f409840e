// The explorer's requests to its host: another checkpoint's analysis of the same text (scrubber,
// diff) and a checkpoint's mask report. Each goes through PendingRequests, so a reply resolves the
// request that carries its requestId, whatever order the replies come in.
import { PendingRequests } from '@common/requests';
import type { ExplorerHostMessage, ExplorerViewMessage } from '@common/webviewProtocol';

export type AnalysisReply = Extract<ExplorerHostMessage, { type: 'scrubAnalysis' }>;
export type ReportReply = Extract<ExplorerHostMessage, { type: 'report' }>;

export class HostRequests {
  private readonly analyses = new PendingRequests<AnalysisReply>();
  private readonly reports = new PendingRequests<ReportReply>();

  constructor(private readonly post: (message: ExplorerViewMessage) => void) {}

  analysis(checkpointDir: string): Promise<AnalysisReply> {
    return this.analyses.request((requestId) => this.post({ type: 'requestAnalysis', requestId, checkpointDir }));
  }

  report(checkpointDir: string): Promise<ReportReply> {
    return this.reports.request((requestId) => this.post({ type: 'requestReport', requestId, checkpointDir }));
  }

  /** The host's replies (main.ts hands them over as they come). */
  resolve(reply: AnalysisReply | ReportReply): void {
    if (reply.type === 'scrubAnalysis') this.analyses.resolve(reply);
    else this.reports.resolve(reply);
  }
}
