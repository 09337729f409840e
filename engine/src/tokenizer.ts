// Text ↔ token ids, with each token's UTF-16 range in the source text so that masks and losses can be
// drawn over the editor's text. Two kinds:
//  - char: one token per Unicode code point, vocabulary = sorted(set(text)) as in the PyTorch reference.
//  - gpt2: GPT-2 BPE (r50k_base), compacted to the GPT-2 ids that occur in the corpus, because a
//    50257-row embedding would dwarf a tiny model.
import bpeRanks from 'gpt-tokenizer/bpeRanks/r50k_base';
import { encode as gpt2Encode } from 'gpt-tokenizer/encoding/r50k_base';

export type TokenizerJSON = { type: 'char'; vocab: string[] } | { type: 'gpt2'; ids: number[] };

export interface Encoded {
  ids: number[];
  /** UTF-16 offsets into the encoded text; end exclusive. */
  starts: number[];
  ends: number[];
  /** Characters (char) or GPT-2 tokens (gpt2) not in the vocabulary that were left out. */
  skipped: number;
}

/** Encoded, in typed arrays: what a corpus for training and a long text's analysis keep (no array of numbers per token). */
export interface EncodedTyped {
  ids: Int32Array;
  starts: Int32Array;
  ends: Int32Array;
  skipped: number;
}

export interface Tokenizer {
  readonly kind: 'char' | 'gpt2';
  readonly vocabSize: number;
  /** unknown: 'error' throws TokenizerError naming the first few unknown characters; 'skip' leaves them out (offsets of the others stay right). */
  encode(text: string, unknown?: 'error' | 'skip'): Encoded;
  /** The same as encode, in typed arrays (a 2 MB text: ~75 ms for the char tokenizer against ~650 ms in arrays of numbers). */
  encodeTyped(text: string, unknown?: 'error' | 'skip'): EncodedTyped;
  decode(ids: number[]): string;
  tokenText(id: number): string;
  toJSON(): TokenizerJSON;
}

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

/** Number of GPT-2 ids with bytes (the special <|endoftext|> = 50256 is never produced: we encode it as text). */
const GPT2_RANKS = 50256;
const MAX_UNKNOWN_SHOWN = 5;

function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  return `${JSON.stringify(ch)} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

function checkId(id: number, vocabSize: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new TokenizerError(`token id ${id} is outside the vocabulary [0, ${vocabSize})`);
}

// ----------------------------------------------------------------------------- char

class CharTokenizer implements Tokenizer {
  readonly kind = 'char' as const;
  readonly vocabSize: number;
  private readonly vocab: string[];
  // BMP code points via a flat table (fast path for 1 MB texts), astral ones via a Map.
  private readonly bmp = new Int32Array(0x10000).fill(-1);
  private readonly astral = new Map<number, number>();

  constructor(vocab: string[]) {
    this.vocab = vocab.slice();
    this.vocabSize = vocab.length;
    vocab.forEach((ch, i) => {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x10000) this.bmp[cp] = i;
      else this.astral.set(cp, i);
    });
  }

  encode(text: string, unknown: 'error' | 'skip' = 'error'): Encoded {
    const e = this.encodeTyped(text, unknown);
    return { ids: Array.from(e.ids), starts: Array.from(e.starts), ends: Array.from(e.ends), skipped: e.skipped };
  }

  encodeTyped(text: string, unknown: 'error' | 'skip' = 'error'): EncodedTyped {
    // At most one token per UTF-16 unit: written in place, then trimmed (pushing into arrays of
    // numbers took ~650 ms for 2,000,000 characters).
    const n = text.length;
    const ids = new Int32Array(n);
    const starts = new Int32Array(n);
    const ends = new Int32Array(n);
    let k = 0;
    let skipped = 0;
    const shown: string[] = [];
    for (let i = 0; i < n; ) {
      let cp = text.charCodeAt(i);
      let w = 1;
      // A high surrogate followed by a low one is one astral code point; a lone surrogate is its own code point (as in Python).
      if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < n) {
        const lo = text.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          w = 2;
        }
      }
      const id = w === 1 ? this.bmp[cp]! : (this.astral.get(cp) ?? -1);
      if (id >= 0) {
        ids[k] = id;
        starts[k] = i;
        ends[k] = i + w;
        k++;
      } else {
        skipped++;
        const ch = String.fromCodePoint(cp);
        if (shown.length < MAX_UNKNOWN_SHOWN && !shown.includes(ch)) shown.push(ch);
      }
      i += w;
    }
    if (skipped && unknown === 'error')
      throw new TokenizerError(
        `the text has ${skipped} character${skipped === 1 ? '' : 's'} outside the vocabulary (${shown.map(describeChar).join(', ')}${shown.length === MAX_UNKNOWN_SHOWN ? ', …' : ''})`,
      );
    // Trimmed without a copy when every unit was a token (the usual case).
    const trim = (a: Int32Array) => (k === n ? a : a.slice(0, k));
    return { ids: trim(ids), starts: trim(starts), ends: trim(ends), skipped };
  }

  decode(ids: number[]): string {
    let s = '';
    for (const id of ids) {
      checkId(id, this.vocabSize);
      s += this.vocab[id];
    }
    return s;
  }

  tokenText(id: number): string {
    checkId(id, this.vocabSize);
    return this.vocab[id]!;
  }

  toJSON(): TokenizerJSON {
    return { type: 'char', vocab: this.vocab.slice() };
  }
}

/** Distinct code points sorted by code point: Python's sorted(set(text)) (JS's default sort would compare UTF-16 units). */
function charVocab(text: string): string[] {
  const seen = new Uint8Array(0x110000);
  const n = text.length;
  for (let i = 0; i < n; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < n) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    seen[cp] = 1;
  }
  const vocab: string[] = [];
  for (let cp = 0; cp < 0x110000; cp++) if (seen[cp]) vocab.push(String.fromCodePoint(cp));
  return vocab;
}

// ----------------------------------------------------------------------------- gpt2

const utf8 = new TextEncoder();
const fatalDecoder = new TextDecoder('utf-8', { fatal: true });
const lenientDecoder = new TextDecoder('utf-8');

let gpt2Bytes: Uint8Array[] | undefined;
/** Bytes of every GPT-2 id (the ranks file stores a string when the bytes are valid UTF-8, else the byte list). */
function gpt2TokenBytes(): Uint8Array[] {
  if (!gpt2Bytes) {
    const ranks = bpeRanks as (string | number[])[];
    gpt2Bytes = new Array<Uint8Array>(GPT2_RANKS);
    for (let i = 0; i < GPT2_RANKS; i++) {
      const v = ranks[i];
      if (v === undefined) throw new Error(`gpt-tokenizer r50k_base has no bytes for id ${i}`);
      gpt2Bytes[i] = typeof v === 'string' ? utf8.encode(v) : Uint8Array.from(v);
    }
  }
  return gpt2Bytes;
}

/** Readable text of a byte sequence: valid UTF-8 runs as text, stray bytes as <0xHH> (a token can hold part of a character). */
function bytesToDisplay(b: Uint8Array): string {
  try {
    return fatalDecoder.decode(b);
  } catch {
    let s = '';
    for (let i = 0; i < b.length; ) {
      const lead = b[i]!;
      const len = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
      if (len && i + len <= b.length) {
        try {
          s += fatalDecoder.decode(b.subarray(i, i + len));
          i += len;
          continue;
        } catch {
          /* fall through to the byte form */
        }
      }
      s += `<0x${lead.toString(16).toUpperCase().padStart(2, '0')}>`;
      i++;
    }
    return s;
  }
}

function rawGpt2(text: string): number[] {
  // Special-token strings such as <|endoftext|> in the corpus are ordinary text here.
  return gpt2Encode(text, { disallowedSpecial: new Set() });
}

class Gpt2Tokenizer implements Tokenizer {
  readonly kind = 'gpt2' as const;
  readonly vocabSize: number;
  private readonly ids: number[];
  private readonly compact = new Int32Array(GPT2_RANKS).fill(-1);

  constructor(ids: number[]) {
    this.ids = ids.slice();
    this.vocabSize = ids.length;
    ids.forEach((g, i) => (this.compact[g] = i));
  }

  /**
   * Offsets: BPE tokens are byte-level, so a token may end inside a multi-byte character (an emoji, a
   * combining mark). Each token boundary (a byte offset) maps to the UTF-16 offset of the start of the
   * character that holds that byte, i.e. every character belongs to the token that holds its LAST byte;
   * a token that holds only leading bytes of a character gets the empty range [c, c] at that
   * character's start. Ranges are thus contiguous, never overlap and never run backwards, and
   * text.slice(0, ends[i]) is exactly what decoding the first i+1 tokens can show as whole characters.
   */
  encode(text: string, unknown: 'error' | 'skip' = 'error'): Encoded {
    const raw = rawGpt2(text);
    const bytes = gpt2TokenBytes();
    const ids: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    let skipped = 0;
    const shown: number[] = [];
    const n = text.length;
    // Cursor over the text: `ci` is the UTF-16 index of the character that starts at byte `cb`.
    let ci = 0;
    let cb = 0;
    let byte = 0;
    let prevEnd = 0;
    for (const g of raw) {
      byte += bytes[g]!.length;
      // Advance over every character that ends at or before `byte`.
      for (;;) {
        if (ci >= n) break;
        const u = text.charCodeAt(ci);
        let cw = 1;
        let cl: number;
        if (u < 0x80) cl = 1;
        else if (u < 0x800) cl = 2;
        else if (u >= 0xd800 && u < 0xdc00 && ci + 1 < n && (text.charCodeAt(ci + 1) & 0xfc00) === 0xdc00) {
          cl = 4;
          cw = 2;
        } else cl = 3; // BMP, or a lone surrogate (TextEncoder writes U+FFFD for it: 3 bytes)
        if (cb + cl > byte) break;
        cb += cl;
        ci += cw;
      }
      const end = ci;
      const id = this.compact[g]!;
      if (id >= 0) {
        ids.push(id);
        starts.push(prevEnd);
        ends.push(end);
      } else {
        skipped++;
        if (shown.length < MAX_UNKNOWN_SHOWN && !shown.includes(g)) shown.push(g);
      }
      prevEnd = end;
    }
    if (ci !== n || cb !== byte) throw new Error(`gpt2 offsets: token bytes (${byte}) do not cover the text (${cb} bytes to UTF-16 ${ci} of ${n})`);
    if (skipped && unknown === 'error')
      throw new TokenizerError(
        `the text has ${skipped} GPT-2 token${skipped === 1 ? '' : 's'} outside the vocabulary (${shown
          .map((g) => JSON.stringify(bytesToDisplay(bytes[g]!)))
          .join(', ')}${shown.length === MAX_UNKNOWN_SHOWN ? ', …' : ''}); the vocabulary holds only the tokens of the training corpus`,
      );
    return { ids, starts, ends, skipped };
  }

  encodeTyped(text: string, unknown: 'error' | 'skip' = 'error'): EncodedTyped {
    const e = this.encode(text, unknown);
    return { ids: Int32Array.from(e.ids), starts: Int32Array.from(e.starts), ends: Int32Array.from(e.ends), skipped: e.skipped };
  }

  decode(ids: number[]): string {
    const bytes = gpt2TokenBytes();
    const parts: Uint8Array[] = [];
    let len = 0;
    for (const id of ids) {
      checkId(id, this.vocabSize);
      const b = bytes[this.ids[id]!]!;
      parts.push(b);
      len += b.length;
    }
    const all = new Uint8Array(len);
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    // Not fatal: a cut in the middle of a character shows as U+FFFD rather than failing.
    return lenientDecoder.decode(all);
  }

  tokenText(id: number): string {
    checkId(id, this.vocabSize);
    return bytesToDisplay(gpt2TokenBytes()[this.ids[id]!]!);
  }

  /** GPT-2 id of a compact id (for tools that want the original BPE id). */
  gpt2Id(id: number): number {
    checkId(id, this.vocabSize);
    return this.ids[id]!;
  }

  toJSON(): TokenizerJSON {
    return { type: 'gpt2', ids: this.ids.slice() };
  }
}

// ----------------------------------------------------------------------------- construction

/** A tokenizer whose vocabulary is what the corpus uses. */
export function buildTokenizer(kind: 'char' | 'gpt2', corpus: string): Tokenizer {
  if (corpus.length === 0) throw new TokenizerError('cannot build a vocabulary from empty text');
  if (kind === 'char') return new CharTokenizer(charVocab(corpus));
  if (kind === 'gpt2') {
    const seen = new Uint8Array(GPT2_RANKS);
    for (const g of rawGpt2(corpus)) seen[g] = 1;
    const ids: number[] = [];
    for (let g = 0; g < GPT2_RANKS; g++) if (seen[g]) ids.push(g);
    return new Gpt2Tokenizer(ids);
  }
  throw new TokenizerError(`unknown tokenizer kind ${JSON.stringify(kind)} (expected "char" or "gpt2")`);
}

/** Rebuilds a tokenizer from its JSON (a checkpoint's or the PyTorch reference's), checking every entry. */
export function tokenizerFromJSON(j: unknown): Tokenizer {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new TokenizerError('tokenizer: expected an object like {"type":"char","vocab":[...]}');
  const o = j as Record<string, unknown>;
  if (o.type === 'char') {
    const v = o.vocab;
    if (!Array.isArray(v) || v.length === 0) throw new TokenizerError('tokenizer.vocab: expected a non-empty array of strings');
    const seen = new Set<string>();
    v.forEach((ch, i) => {
      if (typeof ch !== 'string') throw new TokenizerError(`tokenizer.vocab[${i}]: expected a string, got ${JSON.stringify(ch)}`);
      const cp = ch.codePointAt(0);
      if (cp === undefined || String.fromCodePoint(cp) !== ch) throw new TokenizerError(`tokenizer.vocab[${i}]: expected exactly one character, got ${JSON.stringify(ch)}`);
      if (seen.has(ch)) throw new TokenizerError(`tokenizer.vocab[${i}]: ${describeChar(ch)} appears twice`);
      seen.add(ch);
    });
    return new CharTokenizer(v as string[]);
  }
  if (o.type === 'gpt2') {
    const ids = o.ids;
    if (!Array.isArray(ids) || ids.length === 0) throw new TokenizerError('tokenizer.ids: expected a non-empty array of GPT-2 token ids');
    ids.forEach((g, i) => {
      if (!Number.isInteger(g) || g < 0 || g >= GPT2_RANKS) throw new TokenizerError(`tokenizer.ids[${i}]: expected a GPT-2 id in [0, ${GPT2_RANKS}), got ${JSON.stringify(g)}`);
      if (i > 0 && g <= ids[i - 1]) throw new TokenizerError(`tokenizer.ids[${i}]: ids must be strictly ascending (${ids[i - 1]} then ${g})`);
    });
    return new Gpt2Tokenizer(ids as number[]);
  }
  throw new TokenizerError(`tokenizer.type: expected "char" or "gpt2", got ${JSON.stringify(o.type)}`);
}
