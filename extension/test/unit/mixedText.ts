// Texts that mix what makes grapheme clusters longer than one code unit (combining marks, Indic
// conjuncts, emoji with skin tones, ZWJ sequences, flags, Hangul jamo, Zalgo, prepended marks)
// with CJK, Hebrew and Arabic, tabs and CRLF: for the offset and cluster tests.

export const PIECES = [
  'plain words ', 'e\u0301', 'a\u0308\u0304', 'മലയാളം', 'ക്ഷ', '😀', '👩‍💻', '👨‍👩‍👧‍👦', '🇫🇷🇩🇪', '🇯', '👍🏽', '❤️', '日本語の文章', '한국어', '\u1100\u1161\u11A8',
  'עברית', 'العربية', '\u0600\u0661', 'z̴̡̛͔̘a̸̢͓l̷g̵o', '\r\n', '\n', '\t', 'x', ' ',
];

/** A deterministic mix of the pieces, at least `n` code units (xorshift from `seed`). */
export function mix(n: number, seed: number): string {
  let x = seed >>> 0 || 1;
  const out: string[] = [];
  let len = 0;
  while (len < n) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    const p = PIECES[x % PIECES.length];
    out.push(p);
    len += p.length;
  }
  return out.join('');
}

/** One token per code point (a char tokenizer), with UTF-16 offsets. */
export function codePointTokens(text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let i = 0;
  for (const ch of text) {
    out.push({ start: i, end: i + ch.length });
    i += ch.length;
  }
  return out;
}

/** Tokens of 1 to 3 UTF-16 code units, cutting surrogate pairs and clusters (byte-level BPE does). */
export function codeUnitTokens(text: string, seed: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let x = seed >>> 0 || 1;
  for (let i = 0; i < text.length; ) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    const e = Math.min(text.length, i + 1 + (x % 3));
    out.push({ start: i, end: e });
    i = e;
  }
  return out;
}
