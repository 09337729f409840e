// Leftovers of an interrupted trainer: checkpoint folders that were never renamed into place
// (checkpoints/.tmp-step-*: a crash or a full disk mid-write) and atomic-write temp files
// (.NAME.PID.RAND.tmp), and stale locks set aside. Removed when the run starts again, under its
// lock, so no writer is live.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointsDir } from './checkpoint';

const TEMP_CHECKPOINT = /^\.tmp-step-/;
const TEMP_FILE = /^\..+\.\d+\.[a-z0-9]+\.tmp$/;
/** A stale lock moved aside by runLock.ts and not yet removed when its taker died. */
const STALE_LOCK = /^train\.lock\.stale-/;

/** Removes the leftovers in a run folder and its checkpoints folder; returns what was removed. */
export function cleanTempFiles(runDir: string): string[] {
  const removed: string[] = [];
  for (const dir of [runDir, checkpointsDir(runDir)]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // no checkpoints folder yet
    }
    for (const name of names) {
      if (!TEMP_CHECKPOINT.test(name) && !TEMP_FILE.test(name) && !STALE_LOCK.test(name)) continue;
      rmSync(join(dir, name), { recursive: true, force: true });
      removed.push(join(dir, name));
    }
  }
  return removed;
}
