// The command-line options that describe a new run (`ldlens train`, `ldlens cluster-script`) and the
// TrainSetup they give. Each command parses the numbers itself, so that its errors read as its own.
import type { ParseArgsConfig } from 'node:util';
import type { TrainSetup } from './train/runSetup';

export const TRAIN_OPTIONS = {
  data: { type: 'string', multiple: true },
  preset: { type: 'string' },
  config: { type: 'string' },
  set: { type: 'string', multiple: true },
  steps: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  'runs-dir': { type: 'string' },
  name: { type: 'string' },
  'max-bytes': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/** The values of TRAIN_OPTIONS that go into a TrainSetup as they are. */
interface TrainFlags {
  preset?: string;
  config?: string;
  out?: string;
  'runs-dir'?: string;
  name?: string;
}

/** --steps and --seed written into the --set overrides (as train.steps and train.seed, over --set's). */
export function withStepsAndSeed(overrides: Record<string, unknown>, steps: number | undefined, seed: number | undefined): Record<string, unknown> {
  if (steps !== undefined || seed !== undefined) overrides.train = { ...(overrides.train as object), ...(steps !== undefined ? { steps } : {}), ...(seed !== undefined ? { seed } : {}) };
  return overrides;
}

/** The new run the options describe, on --data `data` (under .ldlens/runs unless --runs-dir or --out says otherwise). */
export function trainSetupFromFlags(data: string[], o: TrainFlags, overrides: Record<string, unknown>, maxBytes: number | undefined): TrainSetup {
  return { data, runsDir: o['runs-dir'] ?? '.ldlens/runs', runDir: o.out, name: o.name, preset: o.preset, configFile: o.config, overrides, maxBytes };
}
