// Analyses of the shown text at the run's checkpoints, by checkpoint dir: the host's own analysis
// and those the scrubber and the diff asked for, kept so that stepping back and forth asks once.
import { AnalysisModel } from '../common/masks';
import { sameTokens } from './diff';
import type { HostRequests } from './hostRequests';

export class CheckpointAnalyses {
  private readonly byDir = new Map<string, AnalysisModel>();
  /** The host's latest analysis: what "the same text" is compared with. */
  private base: AnalysisModel | null = null;
  /** Requests in flight, by checkpoint dir: one at a time each. */
  private readonly pending = new Map<string, Promise<AnalysisModel | null>>();

  constructor(
    private readonly requests: HostRequests,
    /** What a fetch is doing, for the scrubber's status line ('' when done). */
    private readonly status: (text: string) => void,
  ) {}

  /**
   * The host's analysis of a document (`sameDocument`: the one analyzed before). Kept beside the
   * others when it is the same text (same document, same tokens); otherwise they are dropped.
   * Says whether the text is new.
   */
  setBase(model: AnalysisModel, sameDocument: boolean): boolean {
    const sameText = this.base !== null && sameDocument && sameTokens(this.base, model);
    if (!sameText) this.byDir.clear();
    this.base = model;
    this.byDir.set(model.analysis.checkpoint.dir, model);
    return !sameText;
  }

  get(dir: string): AnalysisModel | undefined {
    return this.byDir.get(dir);
  }

  /**
   * Asks the host for the analysis at `dir` and keeps it; null when it could not be had, or when it
   * is not of the text shown now (the text changed while the host analyzed: shown over the new text,
   * it would put another text's masks under these tokens). One request per dir at a time.
   */
  fetch(dir: string): Promise<AnalysisModel | null> {
    const inFlight = this.pending.get(dir);
    if (inFlight) return inFlight;
    this.status(`analyzing ${dir.split(/[\\/]/).pop()}…`);
    const p = this.requests.analysis(dir).then(({ checkpointDir, analysis, error }) => {
      this.pending.delete(dir);
      if (error || !analysis) {
        this.status(`Could not analyze ${checkpointDir}: ${error ?? 'no result'}`);
        return null;
      }
      const model = new AnalysisModel(analysis);
      this.status('');
      if (this.base && !sameTokens(this.base, model)) return null;
      this.byDir.set(checkpointDir, model);
      return model;
    });
    this.pending.set(dir, p);
    return p;
  }
}
