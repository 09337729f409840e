// Loaded checkpoints for inference, shared by concurrent requests. Each use holds a lease: a model
// evicted while a request still runs on it is disposed when its last lease is released, never under it.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, resolveCheckpointDir } from '../checkpoint';
import type { InferenceModel } from '../inference';
import { GPT } from '../model';

/** A model borrowed from the cache; release it exactly once when done. */
export interface ModelLease {
  readonly model: InferenceModel;
  release(): void;
}

interface Entry {
  readonly im: InferenceModel;
  leases: number;
  evicted: boolean;
}

/** Reads a checkpoint folder (or a run folder: its latest checkpoint) into a model. */
export function loadInferenceModel(path: string): InferenceModel {
  const ck = loadCheckpoint(path);
  return { model: GPT.fromWeights(ck.shape, ck.config.dropout, ck.weights), tokenizer: ck.tokenizer, checkpoint: { runDir: ck.runDir, dir: ck.dir, step: ck.step } };
}

/** The cache key: folder and the weights' mtime, so that a rewritten checkpoint reloads. */
function cacheKey(path: string): string {
  const { dir } = resolveCheckpointDir(path);
  let mtime = 0;
  try {
    mtime = statSync(join(dir, 'model.safetensors')).mtimeMs;
  } catch {
    /* missing weights: the loader names the file */
  }
  return `${dir}@${mtime}`;
}

export class ModelCache {
  private readonly entries = new Map<string, Entry>(); // least recently used first

  constructor(
    readonly max = 3,
    private readonly load: (path: string) => InferenceModel = loadInferenceModel,
    private readonly keyOf: (path: string) => string = cacheKey,
  ) {}

  /** Borrows the model of a checkpoint, loading it (and evicting the least recently used) if need be. */
  acquire(path: string): ModelLease {
    const key = this.keyOf(path);
    let entry = this.entries.get(key);
    if (entry) this.entries.delete(key); // re-inserted below: most recently used last
    else entry = { im: this.load(path), leases: 0, evicted: false };
    this.entries.set(key, entry);
    entry.leases++;
    this.evict();
    let released = false;
    const e = entry;
    return {
      model: e.im,
      release: () => {
        if (released) return;
        released = true;
        if (--e.leases === 0 && e.evicted) e.im.model.dispose();
      },
    };
  }

  /** Runs f on a checkpoint's model under a lease. */
  async use<R>(path: string, f: (im: InferenceModel) => Promise<R>): Promise<R> {
    const lease = this.acquire(path);
    try {
      return await f(lease.model);
    } finally {
      lease.release();
    }
  }

  /** Models held now (evicted ones still leased are not counted). */
  get size(): number {
    return this.entries.size;
  }

  private evict(): void {
    while (this.entries.size > this.max) {
      const [key, old] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(key);
      old.evicted = true;
      if (old.leases === 0) old.im.model.dispose();
    }
  }
}
