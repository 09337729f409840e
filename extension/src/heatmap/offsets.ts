// Token offsets (UTF-16, as the engine reports them) → editor positions, and keeping those offsets
// honest while the document is edited. No `vscode` import: unit-tested under plain Node.
//
// - Positions are in UTF-16 code units per line, as VS Code counts them: a tab is one character,
//   an astral character (surrogate pair) is two.
// - Line breaks are \n, \r\n and a lone \r (VS Code's three). An offset that falls between the \r
//   and the \n of a CRLF, or on the break itself, maps to the end of its line.
// - Painted spans are snapped outward to grapheme-cluster boundaries, so that a token boundary
//   that splits a surrogate pair (byte-level BPE) or separates a combining mark from its base
//   (char tokenizer) never produces half a character. Tokens that end up inside a cluster already
//   painted by an earlier token get an empty span (they stay reachable from the Mask Explorer).

export interface Position {
  line: number;
  character: number;
}

export interface TokenSpan {
  start: number;
  end: number;
}

/** Line starts of a text, with VS Code's `positionAt` semantics. */
export class LineIndex {
  /** Offset of the first character of each line. */
  readonly lineStarts: Int32Array;
  /** Offset just past the last content character of each line (before its line break). */
  readonly lineEnds: Int32Array;

  constructor(readonly text: string) {
    const starts: number[] = [0];
    const ends: number[] = [];
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 13 /* \r */) {
        ends.push(i);
        if (i + 1 < n && text.charCodeAt(i + 1) === 10) i++;
        starts.push(i + 1);
      } else if (c === 10 /* \n */) {
        ends.push(i);
        starts.push(i + 1);
      }
    }
    ends.push(n);
    this.lineStarts = Int32Array.from(starts);
    this.lineEnds = Int32Array.from(ends);
  }

  get lineCount(): number {
    return this.lineStarts.length;
  }

  lineAt(offset: number): number {
    const s = this.lineStarts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  positionAt(offset: number): Position {
    const o = Math.max(0, Math.min(Math.floor(offset), this.text.length));
    const line = this.lineAt(o);
    return { line, character: Math.min(o, this.lineEnds[line]) - this.lineStarts[line] };
  }

  offsetAt(p: Position): number {
    if (p.line < 0) return 0;
    if (p.line >= this.lineCount) return this.text.length;
    return Math.min(this.lineStarts[p.line] + Math.max(0, p.character), this.lineEnds[p.line]);
  }
}

// Surrogates (paired or lone), combining marks, variation selectors, ZWJ, conjoining Hangul jamo
// and the common prepended concatenation marks: the characters that can make a grapheme cluster
// longer than one code unit.
const HINT = '[\\uD800-\\uDFFF\\u{10000}-\\u{10FFFF}\\u200D\\uFE00-\\uFE0F\\u1100-\\u11FF\\uA960-\\uA97F\\uD7B0-\\uD7FF\\u0600-\\u0605\\u06DD\\u070F\\u0890\\u0891\\u08E2\\u0D4E\\p{M}]';
const CLUSTER_HINTS = new RegExp(HINT + '+', 'gu');
/**
 * Context segmented on each side of a hint: a boundary depends on its neighbours, and only emoji
 * ZWJ sequences and regional-indicator runs look further (up to this many code units here).
 */
const CONTEXT = 64;
/**
 * Intl.Segmenter is slower than linear in the length of what it is given (V8/ICU: 80 k characters
 * with a combining mark take 2 s, 160 k take 117 s): it only ever sees pieces this long.
 */
const PIECE = 2048;

let segmenter: Intl.Segmenter | undefined;

/**
 * Grapheme-cluster boundaries of `text` in [from, to] as a bitmap indexed from `from` (1 = a
 * cluster starts here; index text.length is always 1), or undefined when every code unit there is
 * its own cluster (the common, fast case). Linear in to − from: only the neighbourhoods of the
 * characters that can join a cluster are segmented, in bounded pieces.
 */
export function clusterBoundaries(text: string, from = 0, to = text.length): Uint8Array | undefined {
  const n = text.length;
  from = Math.max(0, Math.min(n, Math.floor(from)));
  to = Math.max(from, Math.min(n, Math.floor(to)));
  const lo = Math.max(0, from - CONTEXT), hi = Math.min(n, to + CONTEXT);
  // Runs of hint characters near [from, to], merged with their context into intervals.
  const intervals: [number, number][] = [];
  CLUSTER_HINTS.lastIndex = lo;
  for (let m = CLUSTER_HINTS.exec(text); m && m.index < hi; m = CLUSTER_HINTS.exec(text)) {
    const a = Math.max(from, m.index - CONTEXT), b = Math.min(to + 1, m.index + m[0].length + CONTEXT); // index `to` included
    const last = intervals[intervals.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else if (a < b) intervals.push([a, b]);
  }
  if (!intervals.length) return undefined;
  const bits = new Uint8Array(to - from + 1).fill(1);
  // Outside the intervals only CR LF joins (GB3), as the segmenter says.
  for (let i = Math.max(1, from); i <= to && i < n; i++) if (text.charCodeAt(i) === 10 && text.charCodeAt(i - 1) === 13) bits[i - from] = 0;
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  for (const [a0, b0] of intervals) {
    for (let a = a0; a < b0; a += PIECE) {
      const b = Math.min(b0, a + PIECE);
      // Segmented with context on both sides; only the boundaries in [a, b) are kept.
      const s0 = Math.max(0, a - CONTEXT);
      for (let i = a; i < b; i++) bits[i - from] = 0;
      for (const seg of segmenter.segment(text.slice(s0, Math.min(n, b + CONTEXT)))) {
        const at = s0 + seg.index;
        if (at >= a && at < b) bits[at - from] = 1;
      }
    }
  }
  if (to === n) bits[to - from] = 1;
  return bits;
}

/** Extra code units of boundaries computed beyond the painted tokens, for snapping outward. */
const SNAP_MARGIN = 256;

/**
 * Spans to paint for tokens at `base + token offset` in `text` (the whole document's text):
 * clamped to the text, snapped outward to cluster boundaries, and made non-overlapping in token
 * order. Returns parallel start/end arrays; an empty span (start === end) is not painted. Cluster
 * boundaries are computed for the tokens' extent only (an analysis window, a visible range), never
 * for the rest of a large document; a whole large analysis is done chunk by chunk with
 * `IncrementalSpans` (incrementalSpans.ts), which gives the same spans.
 */
export function paintSpans(text: string, tokens: readonly TokenSpan[], base = 0): { starts: Int32Array; ends: Int32Array } {
  const starts = new Int32Array(tokens.length);
  const ends = new Int32Array(tokens.length);
  snapSpans(text, tokens, base, 0, tokens.length, starts, ends);
  separateSpans(starts, ends);
  return { starts, ends };
}

/**
 * Tokens [from, to) clamped to `text` and snapped outward to cluster boundaries, written at the
 * same indices of `starts`/`ends` (overlaps between neighbours are left for `separateSpans`).
 * Cluster boundaries are computed for these tokens' extent (and a margin) only.
 */
export function snapSpans(text: string, tokens: readonly TokenSpan[], base: number, from: number, to: number, starts: Int32Array, ends: Int32Array): void {
  const len = text.length;
  let first = len, last = 0;
  for (let i = from; i < to; i++) {
    first = Math.min(first, base + tokens[i].start);
    last = Math.max(last, base + tokens[i].end);
  }
  const lo = Math.max(0, Math.min(len, first) - SNAP_MARGIN), hi = Math.min(len, Math.max(0, last) + SNAP_MARGIN);
  const bits = to > from ? clusterBoundaries(text, lo, hi) : undefined;
  // Between CR and LF counts as a boundary: the segmenter joins them, but a line break paints the
  // same either way, and a chunk without clusters (no boundaries computed) splits them too.
  const isBoundary = (i: number) => !bits || i < lo || i > hi || bits[i - lo] === 1 || (text.charCodeAt(i) === 10 && text.charCodeAt(i - 1) === 13);
  for (let i = from; i < to; i++) {
    let s = Math.max(0, Math.min(len, base + tokens[i].start));
    let e = Math.max(s, Math.min(len, base + tokens[i].end));
    if (bits) {
      while (s > 0 && !isBoundary(s)) s--;
      while (e < len && !isBoundary(e)) e++;
    }
    starts[i] = s;
    ends[i] = e;
  }
}

/**
 * Makes snapped spans non-overlapping in token order, in place: a token whose cluster an earlier
 * token already painted gets an empty span. Tokens with `missing[i]` set (not computed yet) get an
 * empty span at the previous end, so the starts stay sorted (tokenAt's binary search).
 */
export function separateSpans(starts: Int32Array, ends: Int32Array, missing?: Uint8Array): void {
  let prevEnd = 0;
  for (let i = 0; i < starts.length; i++) {
    if (missing?.[i]) {
      starts[i] = ends[i] = prevEnd;
      continue;
    }
    let s = starts[i];
    let e = ends[i];
    if (s < prevEnd) s = prevEnd;
    if (e < s) e = s;
    starts[i] = s;
    ends[i] = e;
    prevEnd = e; // e ≥ s ≥ prevEnd
  }
}

/** A change to a text: `deleteLength` code units at `offset` replaced by `insertLength` new ones. */
export interface TextEdit {
  offset: number;
  deleteLength: number;
  insertLength: number;
}

/**
 * Moves token spans through edits, in place. `edits` are applied in order, each expressed in the
 * text as it is after the previous ones. A span that an edit touches (overlaps, or is inserted
 * into) collapses to an empty span at the edit: it is not painted (nor hovered) until
 * re-analysis. Spans before an edit stay, spans after it shift, so the spans stay sorted and
 * non-overlapping. Returns the number of painted spans invalidated.
 */
export function shiftSpans(starts: Int32Array, ends: Int32Array, edits: readonly TextEdit[]): number {
  let invalidated = 0;
  for (const ed of edits) {
    const delEnd = ed.offset + ed.deleteLength;
    const delta = ed.insertLength - ed.deleteLength;
    for (let i = 0; i < starts.length; i++) {
      const s = starts[i];
      const e = ends[i];
      if (e <= ed.offset) continue; // before the edit (also: an insertion right after a token)
      if (s >= delEnd) {
        // after it (also: an insertion right before a token)
        starts[i] = s + delta;
        ends[i] = e + delta;
      } else {
        if (e > s) invalidated++;
        starts[i] = ed.offset;
        ends[i] = ed.offset;
      }
    }
  }
  return invalidated;
}

/**
 * The edits of one VS Code change event (each given in the text *before* the event, in any order)
 * as a sequence where each is relative to the text after the previous ones: highest offset first.
 */
export function sequentialEdits(changes: readonly { rangeOffset: number; rangeLength: number; text: string }[]): TextEdit[] {
  return changes
    .map((c) => ({ offset: c.rangeOffset, deleteLength: c.rangeLength, insertLength: c.text.length }))
    .sort((a, b) => b.offset - a.offset);
}

/** Index of the token whose painted span contains `offset` (start ≤ offset < end), or −1. */
export function tokenAt(starts: Int32Array, ends: Int32Array, offset: number): number {
  // Spans are sorted and non-overlapping: only the last one starting at or before `offset` can hold it.
  let lo = 0;
  let hi = starts.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= offset) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best >= 0 && offset < ends[best] ? best : -1;
}

/**
 * A range moved through edits; unlike token spans it grows to take in edits inside it (a watched
 * selection that the user types into stays the same selection).
 */
export function shiftRange(start: number, end: number, edits: readonly TextEdit[]): { start: number; end: number } {
  for (const ed of edits) {
    const delEnd = ed.offset + ed.deleteLength;
    const delta = ed.insertLength - ed.deleteLength;
    if (ed.offset >= end) continue;
    if (delEnd <= start && !(ed.offset === start && ed.deleteLength === 0 && start < end)) {
      start += delta;
      end += delta;
      continue;
    }
    // Overlapping: keep what is left of the range plus the inserted text.
    const newStart = Math.min(start, ed.offset);
    const newEnd = Math.max(ed.offset + ed.insertLength, end <= delEnd ? ed.offset + ed.insertLength : end + delta);
    start = newStart;
    end = newEnd;
  }
  return { start, end };
}
