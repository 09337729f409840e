// The server's torch choice (`ldlens serve`, the extension's engine): whether train/start and
// train/resume go to the torch worker, decided when a training starts (the probe imports torch, a
// few seconds: not at start-up), with the reason in the engine log.
import type { TrainStartParams } from '@common/protocol';
import { prepareTorchResume, prepareTorchRun } from './prepare';
import { chooseTrainBackendAsync } from './python';
import { TorchRun } from './worker';

export class TorchChoiceError extends Error {
  override name = 'TorchChoiceError';
}

/** A torch run for this request when the engine's backend is `torch` (or `auto` finds torch with a GPU); else null. */
export async function serverTorchRun(
  choice: string,
  python: string | undefined,
  what: { start: TrainStartParams } | { resume: string; steps?: number; watchText?: string },
  log: (level: 'info' | 'warn', message: string) => void,
): Promise<TorchRun | null> {
  let pick;
  try {
    pick = await chooseTrainBackendAsync(choice, python);
  } catch (e) {
    throw new TorchChoiceError((e as Error).message);
  }
  if (!pick.torch) {
    if (pick.probe) log('info', pick.reason);
    return null;
  }
  const prepared = 'start' in what ? await prepareTorchRun(what.start) : await prepareTorchResume(what.resume, what.steps);
  const run = new TorchRun(prepared, { python });
  run.watchText = ('start' in what ? what.start.watchText : what.watchText) ?? null;
  log('info', `run ${run.id}: training on torch (${pick.reason})`);
  return run;
}
