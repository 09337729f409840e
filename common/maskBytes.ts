// The engine's quantized masks (SiteMasks.masks): base64 of round(m·255), row-major tokens × units.
// Decoded here for the extension host and the webviews alike (no Buffer, no atob).
/** m ≥ 0.5 ⇔ round(m·255) ≥ 128: the engine's "active unit" test on the quantized bytes. */
export const ACTIVE_Q = 128;

const BASE64_LOOKUP = (() => {
  const table = new Uint8Array(256).fill(255);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  table['-'.charCodeAt(0)] = 62; // base64url too
  table['_'.charCodeAt(0)] = 63;
  return table;
})();

/** base64 → bytes without atob's intermediate binary string (10 MB of masks in ~30 ms). */
export function decodeBase64(b64: string): Uint8Array {
  let len = b64.length;
  while (len > 0 && b64.charCodeAt(len - 1) === 61 /* = */) len--;
  if (len % 4 === 1) throw new Error('invalid base64: dangling character');
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  const T = BASE64_LOOKUP;
  let o = 0;
  let i = 0;
  // Any invalid character (255, or a code unit above 255 masked into the table) poisons `bad`.
  let bad = 0;
  for (; i + 4 <= len; i += 4) {
    const c0 = b64.charCodeAt(i);
    const c1 = b64.charCodeAt(i + 1);
    const c2 = b64.charCodeAt(i + 2);
    const c3 = b64.charCodeAt(i + 3);
    const a = T[c0 & 255]!;
    const b = T[c1 & 255]!;
    const c = T[c2 & 255]!;
    const d = T[c3 & 255]!;
    bad |= a | b | c | d | ((c0 | c1 | c2 | c3) & 0xff00);
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  const rest = len - i;
  if (rest >= 2) {
    const a = T[b64.charCodeAt(i) & 255]!;
    const b = T[b64.charCodeAt(i + 1) & 255]!;
    const c = rest === 3 ? T[b64.charCodeAt(i + 2) & 255]! : 0;
    bad |= a | b | c;
    out[o++] = (a << 2) | (b >> 4);
    if (rest === 3) out[o++] = ((b & 15) << 4) | (c >> 2);
  }
  if (bad & ~63) throw new Error('invalid base64 character');
  return out;
}
