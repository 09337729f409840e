// The CLI's torch parts: `train`/`resume --backend torch` (and `auto`'s choice), `cluster-script`
// and `follow`. Kept out of cli.ts, which only registers them.
import type { ParseArgsConfig } from 'node:util';
import type { TrainSetup } from '../trainer';
import { prepareTorchResume, prepareTorchRun } from './prepare';
import { chooseTrainBackend } from './python';
import { TorchRun } from './worker';

/** A problem with the torch backend's options or its Python, reported as one line. */
export class TorchBackendError extends Error {
  override name = 'TorchBackendError';
}

export const TORCH_OPTIONS = {
  python: { type: 'string' },
  nproc: { type: 'string' },
  device: { type: 'string' },
  threads: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type TorchFlags = { backend?: string; json?: boolean; python?: string; nproc?: string; device?: string; threads?: string };

function posInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TorchBackendError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * The torch worker for this `train` or `resume`, when the backend is (or `auto` picks) torch;
 * null: the TypeScript engine trains. --nproc, --device and --python imply torch.
 */
export async function torchTraining(o: TorchFlags, what: { setup: TrainSetup } | { resume: string; steps?: number }): Promise<TorchRun | null> {
  const choice = o.backend ?? 'auto';
  const nproc = posInt(o.nproc, 'nproc') ?? 1, threads = posInt(o.threads, 'threads') ?? null;
  const torchOnly = o.nproc !== undefined || o.device !== undefined;
  if (torchOnly && choice !== 'torch' && choice !== 'auto') throw new TorchBackendError(`--nproc and --device are options of --backend torch (not ${choice})`);
  if (o.device !== undefined && !['auto', 'cuda', 'mps', 'cpu'].includes(o.device)) throw new TorchBackendError(`--device must be auto, cuda, mps or cpu, got ${JSON.stringify(o.device)}`);
  let pick: ReturnType<typeof chooseTrainBackend>;
  try {
    pick = chooseTrainBackend(torchOnly ? 'torch' : choice, o.python);
  } catch (e) {
    throw new TorchBackendError((e as Error).message);
  }
  if (!pick.torch) {
    if (!o.json && pick.probe) process.stderr.write(`${pick.reason}\n`);
    return null;
  }
  const launch = { nproc, device: o.device ?? 'auto', threads };
  const prepared = 'setup' in what ? await prepareTorchRun(what.setup, launch) : await prepareTorchResume(what.resume, what.steps, launch);
  if (!o.json) {
    process.stderr.write(`backend torch (${pick.reason}${nproc > 1 ? `; ${nproc} processes through torchrun` : ''})\n`);
    if ('resume' in what) process.stderr.write(`resuming at step ${prepared.step} of ${prepared.config.train.steps}\n`);
  }
  return new TorchRun(prepared, { python: o.python, nproc });
}

type Parse = <O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) => Record<string, unknown>;
type Drive = (run: TorchRun, json: boolean) => Promise<number>;

/** `cluster-script` and `follow` (registered by cli.ts). */
export function torchCommands(_parse: Parse, _drive: Drive): Record<string, (argv: string[]) => Promise<number>> {
  return {};
}
