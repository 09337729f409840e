// The engine the editor starts (`ldlens serve`) runs below the editor's CPU priority: a run
// training on every core otherwise starves VS Code's renderer and extension host (the palette,
// hovers and notifications waited tens of seconds on 2 cores in the e2e test while the demo
// trained). Threads started after this (the native kernels' pool) and child processes (the torch
// worker) inherit it; alone on the machine, training runs as fast. `ldlens train` and the other
// terminal commands keep the priority they were started with.

import os from 'node:os';

/** The nice value for `ldlens serve`: LDLENS_ENGINE_NICE (0-19; 0 keeps the normal priority), default 10. */
export function engineNice(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.LDLENS_ENGINE_NICE ?? 10);
  return Number.isInteger(v) && v >= 0 && v <= 19 ? v : 10;
}

/** Lowers this process's priority to `nice` (never raises it); says why not where it cannot. */
export function lowerPriority(nice: number): { nice: number; error?: string } {
  try {
    const now = os.getPriority();
    if (nice > now) os.setPriority(nice);
    return { nice: os.getPriority() };
  } catch (e) {
    return { nice, error: (e as Error).message };
  }
}
