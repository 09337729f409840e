// Token ids split into train/val and cut into random next-token windows, as nanoGPT's get_batch.
import { CorpusError } from './corpus';
import type { Rng } from './rng';

export type Split = 'train' | 'val';

export class Dataset {
  readonly train: Int32Array;
  readonly val: Int32Array;

  /** The first (1 − valFraction) of the tokens train, the rest validate (nanoGPT's split: contiguous, no shuffling). */
  constructor(ids: Int32Array, valFraction: number) {
    if (!(valFraction >= 0 && valFraction < 1)) throw new RangeError(`valFraction must be in [0, 1), got ${valFraction}`);
    const nTrain = Math.trunc(ids.length * (1 - valFraction));
    // Views, not copies: the corpus can be megabytes of tokens.
    this.train = ids.subarray(0, nTrain);
    this.val = ids.subarray(nTrain);
  }

  /** Throws CorpusError unless both splits hold at least one window of blockSize + 1 tokens. */
  checkWindow(blockSize: number): void {
    this.need('train', blockSize);
    this.need('val', blockSize);
  }

  private need(split: Split, blockSize: number): Int32Array {
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize must be a positive integer, got ${blockSize}`);
    const data = split === 'train' ? this.train : this.val;
    if (data.length < blockSize + 1)
      throw new CorpusError(
        `the ${split} split has ${data.length} tokens, but one window of blockSize ${blockSize} needs ${blockSize + 1}; use a smaller blockSize or more text${split === 'val' ? ' (or a larger valFraction)' : ''}.`,
      );
    return data;
  }

  /** x, y: batchSize×blockSize, row-major; y is x shifted by one. Random windows from the split, drawn with rng. */
  batch(split: Split, batchSize: number, blockSize: number, rng: Rng): { x: Int32Array; y: Int32Array } {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    const data = this.need(split, blockSize);
    const x = new Int32Array(batchSize * blockSize);
    const y = new Int32Array(batchSize * blockSize);
    // Starts in [0, len − blockSize), like torch.randint(len(data) − block_size).
    const starts = data.length - blockSize;
    for (let b = 0; b < batchSize; b++) {
      const i = rng.int(starts);
      x.set(data.subarray(i, i + blockSize), b * blockSize);
      y.set(data.subarray(i + 1, i + 1 + blockSize), b * blockSize);
    }
    return { x, y };
  }
}
