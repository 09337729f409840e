// Memory the analysis store hands out again: an analysis's summary columns and kept masks are one
// fresh ArrayBuffer each (~21 MB for 20,000 tokens of `tiny`), and fresh memory is paid for on
// first touch: page faults cost ~45 ms per 16 MB on the 2-core build VM, as much as the masks'
// statistics themselves. Re-analysis after an edit releases the previous analysis of about the
// same size, so its buffers are taken again, zeroed, instead.

const MB = 1 << 20;

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private freeBytes = 0;

  /** `maxFreeBytes`: most bytes kept for reuse; beyond it the oldest are let go (to the GC). */
  constructor(readonly maxFreeBytes: number) {}

  /**
   * A zeroed buffer of at least `bytes` bytes: the smallest free one that does not waste more than
   * a quarter of its size plus 1 MB, else a new one. Its byteLength counts in what the store holds.
   */
  take(bytes: number): ArrayBuffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i].byteLength;
      if (len >= bytes && len <= bytes * 1.25 + MB && (best < 0 || len < this.free[best].byteLength)) best = i;
    }
    if (best < 0) return new ArrayBuffer(bytes);
    const [buf] = this.free.splice(best, 1);
    this.freeBytes -= buf.byteLength;
    new Uint8Array(buf).fill(0);
    return buf;
  }

  /** Takes back a buffer nothing reads or writes any more. */
  give(buf: ArrayBuffer): void {
    if (buf.byteLength === 0 || buf.byteLength > this.maxFreeBytes) return;
    this.free.push(buf);
    this.freeBytes += buf.byteLength;
    while (this.freeBytes > this.maxFreeBytes) this.freeBytes -= this.free.shift()!.byteLength;
  }

  get heldBytes(): number {
    return this.freeBytes;
  }
}
