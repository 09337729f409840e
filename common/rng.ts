// Seeded PRNG for everything random in a run (init, batches, sampling) and the demo corpus. sfc32:
// small, fast, good statistical quality, and its whole state is four uint32 words, so a checkpoint
// can store it and a resumed run continues the exact same stream.

const TWO32 = 2 ** 32;

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Any integer seed; it is reduced to 32 bits (the config allows [0, 2³²−1]). */
  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`Rng seed must be an integer, got ${seed}`);
    // splitmix32 spreads the seed over the four words, so nearby seeds give unrelated streams.
    let s = seed >>> 0;
    const mix = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    // The author of sfc32 recommends discarding the first outputs after seeding.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** Next raw 32-bit output. */
  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = (this.b ^ (this.b >>> 9)) >>> 0;
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number {
    return this.uint32() / TWO32;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling), for 1 ≤ n ≤ 2³². */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO32) throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    // Reject the top partial block of the 2³² outputs so every residue is equally likely.
    const limit = TWO32 - (TWO32 % n);
    let u = this.uint32();
    while (u >= limit) u = this.uint32();
    return u % n;
  }

  /** Normal sample (Box–Muller). No spare is cached, so the state stays the four words. */
  normal(mean = 0, std = 1): number {
    const u1 = 1 - this.next(); // (0, 1]: log(0) would be −∞
    const u2 = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fills `out` with normal samples; uses both Box–Muller outputs per pair (within the call, so state stays exact). */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    const n = out.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - this.next()));
      const th = 2 * Math.PI * this.next();
      out[i] = mean + std * r * Math.cos(th);
      out[i + 1] = mean + std * r * Math.sin(th);
    }
    if (i < n) out[i] = this.normal(mean, std);
    return out;
  }

  /** The four uint32 state words; `Rng.fromState(r.state())` continues the identical stream. */
  state(): number[] {
    return [this.a, this.b, this.c, this.d];
  }

  static fromState(s: number[]): Rng {
    if (!Array.isArray(s) || s.length !== 4 || s.some((w) => !Number.isInteger(w) || w < 0 || w >= TWO32))
      throw new RangeError(`Rng state must be 4 integers in [0, 2^32), got ${JSON.stringify(s)}`);
    const r = new Rng(0);
    [r.a, r.b, r.c, r.d] = s as [number, number, number, number];
    return r;
  }
}
