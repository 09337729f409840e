// The CLI's torch parts: `train`/`resume --backend torch` (and `auto`'s choice), `cluster-script`
// and `follow`. Kept out of cli.ts, which only registers them.
import type { ParseArgsConfig } from 'node:util';
import type { TrainEvents } from '../train/trainingRun';
import { writeClusterScripts } from './cluster';
import { followRun } from './follow';
import type { TrainerFactory } from '../service/trainers';
import { chooseTrainBackend } from './python';
import { torchTrainerFactory } from './trainer';
import { TRAIN_OPTIONS, trainSetupFromFlags, withStepsAndSeed } from '../trainOptions';

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
 * The torch trainer for this `train` or `resume`, when the backend is (or `auto` picks) torch, with
 * the line that says so; null: the TypeScript engine trains. --nproc and --device imply torch.
 */
/**
 * The torch trainer when the flags choose it; otherwise null, or a `note` saying why auto did not pick
 * torch, printed with the backend line once the run is set up (a refused run stays a one-line error).
 */
export function torchTraining(o: TorchFlags): { trainers: TrainerFactory; intro: string } | { trainers?: undefined; intro?: undefined; note: string } | null {
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
  if (!pick.torch) return !o.json && pick.probe ? { note: pick.reason } : null;
  return {
    trainers: torchTrainerFactory({ python: o.python, nproc, device: o.device ?? 'auto', threads }),
    intro: `backend torch (${pick.reason}${nproc > 1 ? `; ${nproc} processes through torchrun` : ''})\n`,
  };
}

/** What cli.ts lends these commands: its option parser, --set parser, progress reporter and JSON printer. */
export interface CliHelpers {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  parse: (argv: string[], options: NonNullable<ParseArgsConfig['options']>) => Record<string, any>;
  parseSets: (sets?: string[]) => Record<string, unknown>;
  reporter: (json: boolean, total: () => number) => TrainEvents;
  out: (o: unknown) => void;
}

/** `cluster-script` and `follow` (registered by cli.ts). */
export function torchCommands(h: CliHelpers): Record<string, (argv: string[]) => Promise<number>> {
  return {
    async 'cluster-script'(argv) {
      const o = h.parse(argv, {
        ...TRAIN_OPTIONS,
        run: { type: 'string' },
        nodes: { type: 'string' },
        'gpus-per-node': { type: 'string' },
        python: { type: 'string' },
        partition: { type: 'string' },
        time: { type: 'string' },
        port: { type: 'string' },
        device: { type: 'string' },
      });
      if (!o.data?.length === !o.run) throw new TorchBackendError('cluster-script needs --data FILE|DIR|GLOB (a new run) or --run RUN_DIR (resume one)');
      if (o.device !== undefined && !['auto', 'cuda', 'mps', 'cpu'].includes(o.device)) throw new TorchBackendError(`--device must be auto, cuda, mps or cpu, got ${JSON.stringify(o.device)}`);
      const steps = posInt(o.steps, 'steps'), seed = o.seed === undefined ? undefined : Number(o.seed);
      const overrides = withStepsAndSeed(h.parseSets(o.set), steps, seed);
      const opts = { nodes: posInt(o.nodes, 'nodes') ?? 1, gpusPerNode: posInt(o['gpus-per-node'], 'gpus-per-node') ?? 1, python: o.python, partition: o.partition, time: o.time, port: posInt(o.port, 'port'), device: o.device };
      const { run, files } = await writeClusterScripts(
        o.run ? { resume: o.run, steps } : { setup: trainSetupFromFlags(o.data, o, overrides, posInt(o['max-bytes'], 'max-bytes')) },
        opts,
      );
      if (o.json) h.out({ event: 'clusterScript', runDir: run.dir, files, step: run.step });
      else
        process.stderr.write(
          `run ${run.meta.id} → ${run.dir} (from step ${run.step})\n` +
            `one node:   bash ${files[0]}\n` +
            `Slurm:      sbatch ${files[1]}   (${opts.nodes} node(s) × ${opts.gpusPerNode} GPU(s))\n` +
            `follow it:  ldlens follow --run ${run.dir}\n`,
        );
      return 0;
    },

    async follow(argv) {
      const o = h.parse(argv, { run: { type: 'string' }, interval: { type: 'string' }, 'from-end': { type: 'boolean' } });
      if (!o.run) throw new TorchBackendError('follow needs --run RUN_DIR');
      const interval = o.interval === undefined ? 2 : Number(o.interval);
      if (!(interval > 0)) throw new TorchBackendError(`--interval must be a number of seconds > 0, got ${JSON.stringify(o.interval)}`);
      let total = 0;
      const ev = h.reporter(!!o.json, () => total);
      const ac = new AbortController();
      const onSig = () => ac.abort();
      process.on('SIGINT', onSig);
      process.on('SIGTERM', onSig);
      if (!o.json) process.stderr.write(`following ${o.run} (every ${interval} s; Ctrl-C stops following, not the run)\n`);
      const outcome = await followRun(o.run, { ...ev, progress: (p) => ((total = p.totalSteps), ev.progress?.(p)) }, { intervalMs: interval * 1000, signal: ac.signal, fromEnd: !!o['from-end'] });
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
      if (o.json) h.out({ event: 'done', runDir: o.run, ...outcome });
      else process.stderr.write(`\n${outcome.status} at step ${outcome.step}${outcome.error ? ': ' + outcome.error : ''}\n`);
      return outcome.status === 'failed' ? 1 : 0;
    },
  };
}
