// The Python side of the torch backend: which interpreter, where our package is, and what that
// interpreter offers (torch, its version, CUDA, MPS). `probeTorch` is what `auto` decides by and
// what the backend report quotes.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The interpreter: an explicit one (--python, the extension's ldlens.engine.pythonPath), else LDLENS_PYTHON, else python3 on PATH. */
export function pythonCommand(explicit?: string | null): string {
  return explicit?.trim() || process.env.LDLENS_PYTHON?.trim() || (process.platform === 'win32' ? 'python' : 'python3');
}

/**
 * The folder holding the `ldtorch` package: engine/torch in the source tree (tsx runs from
 * engine/src/torch), dist/engine/torch next to the bundle (the build copies it there).
 */
export function torchPackageDir(): string {
  const here = typeof __dirname === 'string' ? __dirname : process.cwd();
  const candidates = [resolve(here, '../../torch'), resolve(here, 'torch'), resolve(here, '../torch'), resolve(process.cwd(), 'engine/torch')];
  const found = candidates.find((d) => existsSync(join(d, 'ldtorch', 'train.py')));
  if (!found) throw new Error(`the torch backend's Python package (ldtorch) is missing; looked in ${candidates.join(', ')}`);
  return found;
}

/** Environment for our Python processes: our package importable, output unbuffered. */
export function pythonEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const dir = torchPackageDir();
  const pp = process.env.PYTHONPATH;
  return { ...process.env, PYTHONPATH: pp ? `${dir}${process.platform === 'win32' ? ';' : ':'}${pp}` : dir, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

export interface TorchProbe {
  /** torch can train here (a Python with torch answered). */
  ok: boolean;
  python: string;
  pythonVersion?: string;
  torch?: string;
  cuda?: boolean;
  cudaDevices?: string[];
  mps?: boolean;
  distributed?: boolean;
  compile?: boolean;
  /** Why it is usable or not, one sentence. */
  reason: string;
}

const cache = new Map<string, TorchProbe>();

/** Runs `python -m ldtorch.probe` (a few seconds: it imports torch); cached per interpreter. */
export function probeTorch(python?: string | null, timeoutMs = 60_000): TorchProbe {
  const cmd = pythonCommand(python);
  const hit = cache.get(cmd);
  if (hit) return hit;
  let dir: string;
  try {
    dir = torchPackageDir();
  } catch (e) {
    return { ok: false, python: cmd, reason: (e as Error).message };
  }
  const r = spawnSync(cmd, ['-m', 'ldtorch.probe'], { cwd: dir, env: pythonEnv(), encoding: 'utf8', timeout: timeoutMs });
  const p = readProbe(cmd, r);
  cache.set(cmd, p);
  return p;
}

/** probeTorch without blocking the event loop (the server's), sharing its cache. */
export function probeTorchAsync(python?: string | null, timeoutMs = 60_000): Promise<TorchProbe> {
  const cmd = pythonCommand(python);
  const hit = cache.get(cmd);
  if (hit) return Promise.resolve(hit);
  let dir: string;
  try {
    dir = torchPackageDir();
  } catch (e) {
    return Promise.resolve({ ok: false, python: cmd, reason: (e as Error).message });
  }
  return new Promise((res) => {
    execFile(cmd, ['-m', 'ldtorch.probe'], { cwd: dir, env: pythonEnv(), encoding: 'utf8', timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error && typeof (error as NodeJS.ErrnoException).code === 'number' ? ((error as unknown as { code: number }).code) : error ? null : 0;
      const spawnError = error && typeof (error as NodeJS.ErrnoException).code === 'string' ? error : undefined;
      const p = readProbe(cmd, { error: spawnError, status: code, stdout, stderr });
      cache.set(cmd, p);
      res(p);
    });
  });
}

function readProbe(cmd: string, r: { error?: Error; status: number | null; stdout: string; stderr: string }): TorchProbe {
  let p: TorchProbe;
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    p = { ok: false, python: cmd, reason: code === 'ENOENT' ? `no Python: ${cmd} was not found (set ldlens.engine.pythonPath or --python)` : `${cmd} could not run: ${r.error.message}` };
  } else {
    const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    let info: Partial<TorchProbe> & { error?: string } = {};
    try {
      info = JSON.parse(line);
    } catch {
      const err = (r.stderr ?? '').trim().split('\n').slice(-2).join(' ');
      return { ok: false, python: cmd, reason: `${cmd} did not answer the probe (exit ${r.status}${err ? ': ' + err : ''}); is it Python 3?` };
    }
    if (!info.torch) p = { ...info, ok: false, python: cmd, reason: `no torch in ${cmd} (Python ${info.pythonVersion}): ${info.error ?? 'import failed'}; install PyTorch there or point ldlens.engine.pythonPath at a Python that has it` } as TorchProbe;
    else if (!/^(\d{2,}|[2-9]|1\.(1\d|[2-9]\d))\./.test(info.torch))
      p = { ...info, ok: false, python: cmd, reason: `torch ${info.torch} in ${cmd} is too old: the torch backend needs torch 1.10 or newer (torch.frombuffer)` } as TorchProbe;
    else {
      const dev = info.cuda ? `CUDA (${(info.cudaDevices ?? []).join(', ') || 'a device'})` : info.mps ? 'Apple MPS' : 'no GPU (CPU only)';
      p = { ...info, ok: true, python: cmd, reason: `torch ${info.torch} in ${cmd} (Python ${info.pythonVersion}), ${dev}` } as TorchProbe;
    }
  }
  return p;
}

/** A GPU torch can train on: what `auto` wants before it picks torch over the TypeScript engine. */
export function torchHasGpu(p: TorchProbe): boolean {
  return p.ok && !!(p.cuda || p.mps);
}

/** The training backend: `torch`, or the TypeScript engine's `auto` (and why), for `--backend auto`. */
export function chooseTrainBackend(choice: string, python?: string | null): TrainBackendChoice {
  return decide(choice, choice === 'torch' || (choice === 'auto' && process.env.LDLENS_TORCH !== '0') ? probeTorch(python) : null);
}

/** chooseTrainBackend without blocking the event loop. */
export async function chooseTrainBackendAsync(choice: string, python?: string | null): Promise<TrainBackendChoice> {
  return decide(choice, choice === 'torch' || (choice === 'auto' && process.env.LDLENS_TORCH !== '0') ? await probeTorchAsync(python) : null);
}

export interface TrainBackendChoice {
  torch: boolean;
  probe: TorchProbe | null;
  reason: string;
}

function decide(choice: string, probe: TorchProbe | null): TrainBackendChoice {
  if (choice === 'torch') {
    if (!probe) throw new Error('no probe');
    if (!probe.ok) throw new Error(`the torch backend cannot start: ${probe.reason}`);
    return { torch: true, probe, reason: probe.reason };
  }
  if (choice !== 'auto') return { torch: false, probe: null, reason: `backend ${choice} chosen` };
  // auto: torch first, but only where it has a GPU; on a CPU-only machine the TypeScript engine
  // (no Python needed, the same numbers) keeps the job
  if (!probe) return { torch: false, probe: null, reason: 'torch: off (LDLENS_TORCH=0)' };
  if (torchHasGpu(probe)) return { torch: true, probe, reason: probe.reason };
  return { torch: false, probe, reason: `torch not chosen: ${probe.reason}` };
}
