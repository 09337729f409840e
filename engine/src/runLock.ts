// One trainer per run folder: an advisory lock file (RUN/train.lock) naming its holder (pid, host,
// start time). A lock whose pid is dead on this host is stale (a kill -9, a power cut) and is taken
// over; a live holder, or one on another host (a shared drive, where its pid means nothing here),
// refuses the second trainer with a message naming it.
import { closeSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'train.lock';

export interface LockHolder {
  pid: number;
  host: string;
  started: string;
  /** Random per acquisition: release removes only its own lock. */
  token: string;
}

export class RunLockedError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly holder: LockHolder | null,
  ) {
    super(message);
    this.name = 'RunLockedError';
  }
}

export function pidAlive(pid: number | undefined): boolean {
  if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock's holder, or null when the file is missing or unreadable (a crash mid-write). */
export function readLock(runDir: string): LockHolder | null {
  try {
    const o = JSON.parse(readFileSync(join(runDir, LOCK_FILE), 'utf8')) as Partial<LockHolder>;
    if (typeof o !== 'object' || o === null || typeof o.pid !== 'number' || typeof o.host !== 'string') return null;
    return { pid: o.pid, host: o.host, started: String(o.started ?? '?'), token: String(o.token ?? '') };
  } catch {
    return null;
  }
}

function isStale(h: LockHolder | null): boolean {
  // Unreadable content: the writer died between create and write (the write is one call).
  if (!h) return true;
  return h.host === hostname() && h.pid !== process.pid && !pidAlive(h.pid);
}

export interface RunLock {
  readonly path: string;
  readonly holder: LockHolder;
  release(): void;
}

const held = new Set<RunLock>();
let exitHook = false;

/**
 * Takes the run's lock or throws RunLockedError naming its holder. The lock is released by
 * release(), or when the process exits normally; a killed process leaves a stale lock that the next
 * acquire takes over.
 */
export function acquireRunLock(runDir: string): RunLock {
  const path = join(runDir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString(), token: Math.random().toString(36).slice(2) };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx'); // O_EXCL: exactly one creator wins
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new RunLockedError(`${runDir}: cannot create the run lock ${path} (${code ?? (e as Error).message}); is the folder writable?`, path, null);
      const h = readLock(runDir);
      if (!isStale(h)) throw lockedError(runDir, path, h!);
      // Move the stale lock aside atomically, then check that what moved is what was judged stale:
      // a trainer that took it over meanwhile gets its lock back.
      const aside = `${path}.stale-${me.token}`;
      try {
        renameSync(path, aside);
      } catch {
        continue; // someone else moved it first
      }
      const moved = readLockFile(aside);
      if (h && moved && moved.token !== h.token) {
        try {
          renameSync(aside, path);
        } catch {
          /* the path was taken again: that holder wins */
        }
        throw lockedError(runDir, path, moved);
      }
      rmSync(aside, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me) + '\n');
    } finally {
      closeSync(fd);
    }
    const lock: RunLock = {
      path,
      holder: me,
      release() {
        if (!held.delete(lock)) return;
        if (readLock(runDir)?.token === me.token) {
          try {
            unlinkSync(path);
          } catch {
            /* already gone */
          }
        }
      },
    };
    held.add(lock);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const l of [...held]) l.release();
      });
    }
    return lock;
  }
  throw new RunLockedError(`${runDir}: could not take the run lock ${path} (it keeps changing hands); try again`, path, readLock(runDir));
}

function readLockFile(path: string): LockHolder | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return null;
  }
}

function lockedError(runDir: string, path: string, h: LockHolder): RunLockedError {
  const who = h.pid === process.pid && h.host === hostname() ? 'this engine process' : `process ${h.pid} on ${h.host === hostname() ? 'this machine' : 'host ' + h.host}`;
  return new RunLockedError(
    `${runDir} is already being trained by ${who} (since ${h.started}); stop that trainer first` +
      (h.host === hostname() ? (h.pid === process.pid ? '' : ` (if process ${h.pid} is not an ldlens trainer, delete ${path})`) : `, or delete ${path} if it is no longer running`),
    path,
    h,
  );
}
