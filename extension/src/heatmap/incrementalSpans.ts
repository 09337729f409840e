// The painted spans of a large analysis, computed chunk by chunk as its summaries arrive (the
// visible range first, then the rest), in short slices of the extension host's thread: grapheme
// clusters of a 2 MB document in a combining-mark script take seconds of Intl.Segmenter in all,
// which in one piece would freeze every extension in the host. Gives what `paintSpans` gives for
// the same tokens. No `vscode` import: unit-tested under plain Node.
import { performance } from 'node:perf_hooks';
import { separateSpans, snapSpans, type TokenSpan } from './offsets';

/** Most code units of text one synchronous step snaps (a few ms of segmenting in the worst scripts). */
const STEP_CHARS = 4096;
/** Time after which the work yields to the event loop before the next step. */
const SLICE_MS = 8;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class IncrementalSpans {
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  /** 1 for a token not computed yet. */
  private readonly missing: Uint8Array;
  private left: number;

  /** Tokens sit at `base + token offset` in `docText` (the document's text when analyzed). */
  constructor(
    readonly docText: string,
    readonly base: number,
    readonly tokenCount: number,
  ) {
    this.starts = new Int32Array(tokenCount);
    this.ends = new Int32Array(tokenCount);
    this.missing = new Uint8Array(tokenCount).fill(1);
    this.left = tokenCount;
  }

  /** Every token computed. */
  get complete(): boolean {
    return this.left === 0;
  }

  /**
   * Computes tokens [from, to) of `tokens` (indices into the whole analysis), in steps of at most
   * STEP_CHARS code units, yielding to the event loop whenever a slice has run SLICE_MS.
   * `cancelled` stops it between steps (the tokens not reached stay missing).
   */
  async add(tokens: readonly TokenSpan[], from: number, to: number, cancelled: () => boolean = () => false): Promise<void> {
    to = Math.min(to, this.tokenCount);
    let sliceStart = performance.now();
    for (let at = Math.max(0, from); at < to; ) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
      if (cancelled()) return;
      const stepEnd = this.stepEnd(tokens, at, to);
      this.addNow(tokens, at, stepEnd);
      at = stepEnd;
    }
  }

  /**
   * Computes tokens [from, to) at once, on this thread: for a range known to be small (tests, a
   * visible range); `add` for anything else.
   */
  addNow(tokens: readonly TokenSpan[], from: number, to: number): void {
    snapSpans(this.docText, tokens, this.base, from, to, this.starts, this.ends);
    for (let i = from; i < to; i++) {
      this.left -= this.missing[i];
      this.missing[i] = 0;
    }
  }

  /**
   * The spans as `paintSpans` gives them, a fresh copy (the heatmap shifts its spans through
   * edits in place): non-overlapping in token order, empty for tokens not computed yet.
   * Linear in the token count, with no segmenting: milliseconds for a 2 MB document.
   */
  snapshot(): { starts: Int32Array; ends: Int32Array } {
    const starts = this.starts.slice();
    const ends = this.ends.slice();
    separateSpans(starts, ends, this.missing);
    return { starts, ends };
  }

  /** End of the step starting at token `at`: at least one token, at most STEP_CHARS of text. */
  private stepEnd(tokens: readonly TokenSpan[], at: number, to: number): number {
    const limit = tokens[at].start + STEP_CHARS;
    let j = at + 1;
    while (j < to && tokens[j].end <= limit && j - at < STEP_CHARS) j++;
    return j;
  }
}
