// Whitespace-only tokens of a sample: a barely trained model samples runs of spaces and newlines,
// and painted they are most of the colour on screen while saying nothing a reader looks at. A
// sample's heatmap leaves them unpainted (hovers still find them) and scales its colours over the
// tokens it paints.
import type { Token } from '@common/protocol';

/** 1 for each token whose text is only whitespace. */
export function blankTokens(tokens: readonly Token[]): Uint8Array {
  const out = new Uint8Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) out[i] = /^\s*$/.test(tokens[i].text) ? 1 : 0;
  return out;
}

/** [min, max] of the values not skipped; `fallback` when every token is skipped. */
export function domainWithout(values: Float32Array, skip: Uint8Array, fallback: [number, number]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (skip[i] || !Number.isFinite(values[i])) continue;
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  return lo <= hi ? [lo, hi] : fallback;
}
