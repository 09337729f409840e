// `ldlens`: the engine's command line. Human output (with a progress bar) by default; `--json`
// prints one JSON event per line on stdout.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BENCH_SHAPES, benchAnalysis, benchShape, defaultTorchScript, forwardFlopsPerToken, torchBench, type BenchResult } from './bench';
import { CheckpointError } from './checkpoint';
import { ConfigError, PRESETS } from './config';
import { CorpusError, loadCorpus } from './corpus';
import { DEMO_PROBE, demoCorpus } from '@common/demoCorpus';
import { TooLargeError } from './analysisStore';
import { analyzeText, sampleText } from './inference';
import { describeReport } from './maskReport';
import { MemoryError } from './memoryEstimate';
import { isPrototypeKey } from './prototypeKeys';
import { RunLockedError } from './runLock';
import { promptWarning, samplingProblems } from './sampling';
import type { AnalysisResult, BackendChoice, MetricRecord, StatsRecord } from '@common/protocol';
import { siteKindLabel } from '@common/sites';
import { SafetensorsError } from './safetensors';
import { engineNice, lowerPriority } from './enginePriority';
import { startServer } from './server';
import { runStudy, STUDY_SETTINGS } from './study';
import { TokenizerError } from './tokenizer';
import { EngineService, type StartedRun } from './service/engineService';
import type { Trainer } from './service/trainers';
import type { TrainSetup } from './train/runSetup';
import type { TrainEvents } from './train/trainingRun';
import { ENGINE_VERSION } from './version';
import { torchBackendBench, torchBackendRows } from './torch/bench';
import { TORCH_OPTIONS, TorchBackendError, torchCommands, torchTraining } from './torch/commands';
import { TRAIN_OPTIONS, trainSetupFromFlags, withStepsAndSeed } from './trainOptions';

class UsageError extends Error {}

const HELP = `ldlens ${ENGINE_VERSION}: train and inspect a LearnedDropout GPT

usage: ldlens <command> [options]

commands:
  train     --data FILE|DIR|GLOB... [--preset tiny] [--config FILE] [--set KEY=VALUE...]
            [--steps N] [--seed S] [--out RUN_DIR | --runs-dir DIR] [--name NAME]
            [--backend torch [--python PY] [--nproc N] [--device auto|cuda|mps|cpu] [--threads N]]
  resume    --run RUN_DIR [--steps N] [--backend torch [--python PY] [--nproc N] ...]
  analyze   --checkpoint DIR (--text TEXT | --file FILE) [--window N] [--stride N]
  report    --checkpoint DIR (--text TEXT | --file FILE) [--draws N]   masks vs untrained A/B (chance)
  sample    --checkpoint DIR [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--seed S]
  eval      --checkpoint DIR --data FILE...     mean next-token cross-entropy (the reference's \`loss\`)
  study     --data FILE... [--preset tiny] [--steps N] [--seeds 1,2] [--settings a,b] [--out DIR]
            train a grid of dropout settings; val loss and mask report vs chance (study.md, study.json)
  runs      [--runs-dir DIR]                    list runs and their checkpoints
  cluster-script (--data FILE... [train options] | --run RUN_DIR) [--nodes N] [--gpus-per-node G] [--python PY]
            [--partition P] [--time HH:MM:SS] [--device cuda|auto|cpu]   torchrun and Slurm scripts in RUN/torch/
  follow    --run RUN_DIR [--interval S] [--from-end]   follow a run written elsewhere (polls its folder)
  bench     [--shapes tiny,small] [--steps N] [--data FILE] [--compare-torch] [--torch-backend[-only] [--python PY]] [--out FILE]
            [--rounds N] [--analyze-checkpoint DIR [--analyze-chars 2000] [--analyze-runs 9]]
  serve                                         JSON-RPC 2.0 on stdio (the VS Code extension's engine)
  demo      [--steps N] [--out DIR]             train on the built-in demo corpus and show what it learned
  demo-corpus --out FILE [--probe FILE]         write the built-in demo corpus (and a short probe text)
  presets                                       list the config presets

common options: --json (one JSON event per line), --backend auto|torch|tensorflow-gpu|webgpu|tensorflow|wasm|cpu
(torch: train and resume only, in PyTorch; auto picks it where a Python with torch sees a CUDA or MPS device)
--set takes dotted config keys, e.g. --set train.lr=1e-3 --set dropout.kind=standard
`;

const COMMON = {
  json: { type: 'boolean' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}
function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** --set a.b.c=value → {a: {b: {c: value}}}; values parse as JSON when they can. */
export function parseSets(sets: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq < 1) throw new UsageError(`--set expects KEY=VALUE, got ${JSON.stringify(s)}`);
    const keys = s.slice(0, eq).split('.');
    const bad = keys.find((k) => isPrototypeKey(k) || !k);
    if (bad !== undefined) throw new UsageError(`--set ${s.slice(0, eq)}: ${JSON.stringify(bad)} is not a config key`);
    let value: unknown = s.slice(eq + 1);
    try {
      value = JSON.parse(value as string);
    } catch {
      /* a plain string */
    }
    let o = out;
    for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
    o[keys[keys.length - 1]] = value;
  }
  return out;
}

const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.round(s);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** Events for the train loop: a progress bar on stderr, or JSON lines on stdout. */
function reporter(json: boolean, total: () => number): TrainEvents {
  const tty = process.stderr.isTTY;
  let lastDraw = 0;
  const bar = (step: number, n: number, loss: number, tps: number, eta: number) => {
    const width = 24, done = Math.round((width * step) / n);
    const line = `step ${step}/${n} [${'='.repeat(done)}${' '.repeat(width - done)}] loss ${loss.toFixed(4)} | ${Math.round(tps).toLocaleString('en-US')} tok/s | ETA ${fmtDuration(eta)}`;
    if (tty) process.stderr.write('\r' + line + '\x1b[K');
    else if (step === n || Date.now() - lastDraw > 5000) {
      process.stderr.write(line + '\n');
      lastDraw = Date.now();
    }
  };
  if (json)
    return {
      metric: (r) => out({ event: r.type, ...r }),
      checkpoint: (c) => out({ event: 'checkpoint', ...c }),
      log: (level, message) => out({ event: 'log', level, message }),
    };
  return {
    progress: (p) => bar(p.step, total(), p.loss, p.tokensPerSec, p.etaSeconds),
    metric: (r) => {
      if (r.type === 'eval') process.stderr.write(`${tty ? '\r\x1b[K' : ''}step ${r.step}: train loss ${r.trainLoss.toFixed(4)}, val loss ${r.valLoss.toFixed(4)}\n`);
    },
    log: (level, message) => process.stderr.write(`${tty ? '\r\x1b[K' : ''}${level}: ${message}\n`),
  };
}

/** The service of one command; the backend is started on first need (`torch` trains in PyTorch; the rest runs on auto). */
function engine(o: { backend?: string }): EngineService {
  return new EngineService({ backend: o.backend && o.backend !== 'torch' ? (o.backend as BackendChoice) : 'auto' });
}

/**
 * Trains a run in the foreground (set up by `start`, a train or resume of the service) until it
 * ends; Ctrl-C stops it after the step. `intro` lines are printed once the run is set up (so that a
 * refused corpus or config stays a one-line error).
 */
async function runTraining(
  json: boolean,
  start: (eventsFor: (run: Trainer) => TrainEvents) => Promise<StartedRun>,
  intro: (run: Trainer) => string = () => '',
): Promise<{ code: number; run: Trainer }> {
  let interrupts = 0;
  let current: Trainer | null = null;
  const onSig = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\nstopping after this step and writing a checkpoint (Ctrl-C again to quit now)\n');
    current?.stop();
  };
  const { run, done } = await start((run) => {
    current = run;
    process.on('SIGINT', onSig);
    process.on('SIGTERM', onSig);
    if (!json) process.stderr.write(`${intro(run)}run ${run.id} → ${run.dir}\n`);
    return reporter(json, () => run.totalSteps);
  });
  const outcome = await done; // the service disposes the run
  process.off('SIGINT', onSig);
  process.off('SIGTERM', onSig);
  if (json) out({ event: 'done', runDir: run.dir, ...outcome });
  else process.stderr.write(`\n${outcome.status} at step ${outcome.step}${outcome.error ? ': ' + outcome.error : ''}; checkpoints in ${join(run.dir, 'checkpoints')}\n`);
  return { code: outcome.status === 'failed' ? 1 : 0, run };
}

/** A readable summary of an analysis: per-site mean active units, and the tokens' active units per layer. */
function describeAnalysis(a: AnalysisResult, maxTokens = 60): string {
  const lines: string[] = [];
  lines.push(`${a.tokens.length} tokens, checkpoint step ${a.checkpoint.step}, cross-entropy ${a.crossEntropy?.toFixed(4) ?? 'n/a'}`);
  lines.push('mean active units (m ≥ 0.5) per site:');
  a.sites.forEach((s, k) => {
    const act = a.layers[k].active;
    const mean = act.reduce((p, q) => p + q, 0) / Math.max(1, act.length);
    const of = s.kind === 'attention' ? 'causal keys × heads' : `${s.units} units`;
    const l = a.layers[k], avg = (xs?: number[]) => (xs ? xs.reduce((p, q) => p + q, 0) / Math.max(1, xs.length) : NaN);
    const vsChance = l.chance ? `; kept ${(100 * avg(l.fraction)).toFixed(0)}% (chance ${(100 * avg(l.chance.fraction)).toFixed(0)}%), decided ${avg(l.decided).toFixed(2)} (chance ${avg(l.chance.decided).toFixed(2)})` : '';
    lines.push(`  ${s.name.padEnd(34)} ${siteKindLabel(s.kind).padEnd(17)} ${mean.toFixed(1).padStart(6)} of ${of}${vsChance}`);
  });
  if (a.paintedBy) lines.push(`painted by default: ${a.paintedBy.description}`);
  const mlp = a.sites.map((s, k) => [s, k] as const).filter(([s]) => s.kind === 'mlp');
  if (mlp.length) {
    lines.push(`tokens: active MLP units per layer (${mlp.map(([s]) => 'L' + s.layer).join(' ')})`);
    for (let i = 0; i < Math.min(a.tokens.length, maxTokens); i++) {
      const t = a.tokens[i];
      lines.push(`  ${JSON.stringify(t.text).padEnd(8)} ${mlp.map(([, k]) => String(a.layers[k].active[i]).padStart(3)).join(' ')}`);
    }
    if (a.tokens.length > maxTokens) lines.push(`  … ${a.tokens.length - maxTokens} more`);
  }
  return lines.join('\n');
}

/**
 * Mean active MLP units per token type, trained and under chance (untrained A/B on the same hidden
 * states, the analysis's chance baseline), most active first.
 */
function tokenTypeTable(a: AnalysisResult): { token: string; count: number; meanActive: number; chanceActive: number | null }[] {
  const mlp = a.sites.map((s, k) => [s, k] as const).filter(([s]) => s.kind === 'mlp');
  const withChance = mlp.length > 0 && mlp.every(([, k]) => a.layers[k].chance);
  const by = new Map<string, { n: number; sum: number; chance: number }>();
  a.tokens.forEach((t, i) => {
    const n = Math.max(1, mlp.length);
    const e = by.get(t.text) ?? { n: 0, sum: 0, chance: 0 };
    e.n++;
    e.sum += mlp.reduce((p, [, k]) => p + a.layers[k].active[i], 0) / n;
    if (withChance) e.chance += mlp.reduce((p, [, k]) => p + a.layers[k].chance!.active[i], 0) / n;
    by.set(t.text, e);
  });
  return [...by]
    .map(([token, e]) => ({ token, count: e.n, meanActive: e.sum / e.n, chanceActive: withChance ? e.chance / e.n : null }))
    .sort((x, y) => y.meanActive - x.meanActive);
}

/** The spread (max − min) of the per-type means, trained and chance. */
function typeSpread(types: ReturnType<typeof tokenTypeTable>): string {
  const spread = (xs: number[]) => (xs.length ? Math.max(...xs) - Math.min(...xs) : 0);
  const trained = spread(types.map((t) => t.meanActive));
  const chance = types.every((t) => t.chanceActive !== null) ? spread(types.map((t) => t.chanceActive!)) : null;
  // Numbers only, no verdict: one chance draw on a short probe, where rare types move both (the
  // mask report's variance explained, against several draws, is the test of token structure).
  return `spread across types ${trained.toFixed(1)} units, chance ${chance === null ? 'n/a' : chance.toFixed(1)}`;
}

/** The backend a command runs on and how, for the human output: `backend wasm (...)`. */
/** The backend line, after the note of why auto did not train in torch (if it looked). */
function notedBackendLine(torch: ReturnType<typeof torchTraining>, backend: string, attempts: { ok: boolean; reason: string }[]): string {
  return (torch && 'note' in torch ? `${torch.note}\n` : '') + backendLine(backend, attempts);
}

function backendLine(backend: string, attempts: { ok: boolean; reason: string }[]): string {
  return `backend ${backend} (${attempts.find((a) => a.ok)?.reason ?? ''})\n`;
}

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  ...torchCommands({ parse, parseSets, reporter, out }),
  async train(argv) {
    const o = parse(argv, { ...TRAIN_OPTIONS, ...TORCH_OPTIONS });
    if (!o.data?.length) throw new UsageError('train needs --data FILE|DIR|GLOB');
    const overrides = withStepsAndSeed(parseSets(o.set), int(o.steps, 'steps'), int(o.seed, 'seed'));
    const torch = torchTraining(o);
    const service = engine(o);
    const { backend, attempts } = await service.initBackend();
    const setup = trainSetupFromFlags(o.data, o, overrides, int(o['max-bytes'], 'max-bytes'));
    return (await runTraining(!!o.json, (eventsFor) => service.train(setup, eventsFor, torch?.trainers), () => torch?.intro ?? notedBackendLine(torch, backend, attempts))).code;
  },

  async resume(argv) {
    const o = parse(argv, { run: { type: 'string' }, steps: { type: 'string' }, ...TORCH_OPTIONS });
    if (!o.run) throw new UsageError('resume needs --run RUN_DIR');
    const torch = torchTraining(o);
    const service = engine(o);
    const { backend, attempts } = await service.initBackend();
    const steps = int(o.steps, 'steps');
    return (
      await runTraining(!!o.json, (eventsFor) => service.resume({ runDir: o.run!, steps }, eventsFor, torch?.trainers), (run) => (torch?.intro ?? notedBackendLine(torch, backend, attempts)) + `resuming at step ${run.step} of ${run.totalSteps}\n`)
    ).code;
  },

  async analyze(argv) {
    const o = parse(argv, { checkpoint: { type: 'string' }, text: { type: 'string' }, file: { type: 'string' }, window: { type: 'string' }, stride: { type: 'string' } });
    if (!o.checkpoint || (o.text === undefined && !o.file)) throw new UsageError('analyze needs --checkpoint DIR and --text TEXT or --file FILE');
    const service = engine(o);
    await service.initBackend();
    const text = o.text ?? (await loadCorpus([o.file!], { trainable: false })).text;
    let a: AnalysisResult;
    try {
      a = await service.analyze({ checkpoint: o.checkpoint, text, window: int(o.window, 'window'), stride: int(o.stride, 'stride') }, undefined, 'analyze a part of it (--text), or in the editor, which receives it in bounded chunks');
    } catch (e) {
      if (e instanceof TooLargeError) throw new UsageError(e.message);
      throw e;
    }
    if (o.json) out(a);
    else process.stdout.write(describeAnalysis(a) + '\n');
    return 0;
  },

  async report(argv) {
    const o = parse(argv, { checkpoint: { type: 'string' }, text: { type: 'string' }, file: { type: 'string' }, draws: { type: 'string' } });
    if (!o.checkpoint || (o.text === undefined && !o.file)) throw new UsageError('report needs --checkpoint DIR and --text TEXT or --file FILE');
    const service = engine(o);
    await service.initBackend();
    const text = o.text ?? (await loadCorpus([o.file!], { trainable: false })).text;
    const r = await service.report({ checkpoint: o.checkpoint, text, chanceDraws: int(o.draws, 'draws') });
    if (o.json) out(r);
    else process.stdout.write(describeReport(r) + '\n');
    return 0;
  },

  async sample(argv) {
    const o = parse(argv, { checkpoint: { type: 'string' }, prompt: { type: 'string' }, tokens: { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' }, seed: { type: 'string' } });
    if (!o.checkpoint) throw new UsageError('sample needs --checkpoint DIR');
    const prompt = o.prompt ?? '';
    const params = { maxTokens: int(o.tokens, 'tokens') ?? 200, temperature: num(o.temperature, 'temperature'), topK: int(o['top-k'], 'top-k'), seed: int(o.seed, 'seed') };
    const bad = samplingProblems(params, { maxTokens: '--tokens', temperature: '--temperature', topK: '--top-k', seed: '--seed' });
    if (bad.length) throw new UsageError(bad.join('; '));
    const service = engine(o);
    const p = { checkpoint: o.checkpoint, prompt, ...params };
    const warning = await service.withModel(o.checkpoint, async (im) => promptWarning(im.tokenizer, prompt));
    if (warning) process.stderr.write(`warning: ${warning}\n`);
    if (o.json) out({ prompt, ...(await service.sample(p)), ...(warning ? { warnings: [warning] } : {}) });
    else process.stdout.write(prompt + (await service.sampleText(p)) + '\n');
    return 0;
  },

  async eval(argv) {
    const o = parse(argv, { checkpoint: { type: 'string' }, data: { type: 'string', multiple: true } });
    if (!o.checkpoint || !o.data?.length) throw new UsageError('eval needs --checkpoint DIR and --data FILE');
    const r = await engine(o).eval({ checkpoint: o.checkpoint, data: o.data });
    if (o.json) out(r);
    else process.stdout.write(`cross-entropy ${r.crossEntropy.toFixed(6)} nats over ${r.tokens} tokens\n`);
    return 0;
  },

  async study(argv) {
    const o = parse(argv, { data: { type: 'string', multiple: true }, preset: { type: 'string' }, steps: { type: 'string' }, seeds: { type: 'string' }, settings: { type: 'string' }, out: { type: 'string' }, 'report-tokens': { type: 'string' }, draws: { type: 'string' } });
    if (!o.data?.length) throw new UsageError('study needs --data FILE');
    const names = o.settings?.split(',') ?? STUDY_SETTINGS.map((s) => s.name);
    const unknown = names.filter((n) => !STUDY_SETTINGS.some((s) => s.name === n));
    if (unknown.length) throw new UsageError(`--settings: unknown ${unknown.join(', ')} (known: ${STUDY_SETTINGS.map((s) => s.name).join(', ')})`);
    const seeds = (o.seeds ?? '1,2').split(',').map((v) => int(v, 'seeds')!);
    const { backend } = await engine(o).initBackend();
    const r = await runStudy({
      data: o.data, out: o.out ?? 'study-results', preset: o.preset ?? 'tiny', steps: int(o.steps, 'steps') ?? 300, seeds, backend,
      settings: names.map((n) => STUDY_SETTINGS.find((s) => s.name === n)!),
      reportTokens: int(o['report-tokens'], 'report-tokens') ?? 8192, chanceDraws: int(o.draws, 'draws') ?? 5,
      command: ['ldlens', 'study', ...argv].join(' '),
      log: (line) => (o.json ? out({ event: 'study', line }) : process.stderr.write(line + '\n')),
    });
    if (o.json) out({ event: 'done', runs: r.runs });
    else process.stdout.write(r.markdown);
    return 0;
  },

  async runs(argv) {
    const o = parse(argv, { 'runs-dir': { type: 'string' } });
    const runs = engine(o).listRuns(o['runs-dir'] ?? '.ldlens/runs');
    if (o.json) out(runs);
    else if (!runs.length) process.stdout.write('no runs\n');
    else for (const r of runs) process.stdout.write(`${r.id.padEnd(44)} ${r.status.padEnd(11)} step ${r.step}/${r.totalSteps}  best val ${r.bestValLoss?.toFixed(4) ?? '-'}  ${r.checkpoints.length} checkpoints\n`);
    return 0;
  },

  async presets(argv) {
    const o = parse(argv, {});
    if (o.json) out(PRESETS);
    else for (const [name, p] of Object.entries(PRESETS)) process.stdout.write(`${name.padEnd(12)} ${p.description}\n`);
    return 0;
  },

  async bench(argv) {
    const o = parse(argv, {
      shapes: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      data: { type: 'string' },
      'compare-torch': { type: 'boolean' },
      'torch-backend': { type: 'boolean' },
      'torch-backend-only': { type: 'boolean' },
      python: { type: 'string' },
      'torch-script': { type: 'string' },
      out: { type: 'string' },
      'peak-gflops': { type: 'string' },
      'analyze-checkpoint': { type: 'string' },
      'analyze-chars': { type: 'string' },
      'analyze-runs': { type: 'string' },
      rounds: { type: 'string' },
    });
    const data = resolve(o.data ?? '../shared/data/tinyshakespeare.txt');
    if (!existsSync(data)) throw new UsageError(`bench reads a corpus: ${data} does not exist (name one with --data FILE; the default is ../shared/data/tinyshakespeare.txt from the repository root)`);
    const text = readFileSync(data, 'utf8');
    // Medians of 30 timed steps after 5 untimed ones, the same for PyTorch: with 10 steps and 2
    // warm-up steps our `tiny` figure moved by a quarter between runs (JIT and heap still settling).
    const steps = int(o.steps, 'steps') ?? 30, warmup = int(o.warmup, 'warmup') ?? 5;
    const rounds = Math.max(1, int(o.rounds, 'rounds') ?? 1);
    const peak = num(o['peak-gflops'], 'peak-gflops') ?? 166; // 2-core Zen 4 at base clock (shared/guides/tfjs-engine.md)
    const backend = (o.backend as BackendChoice) ?? 'auto';
    const rows: { shape: string; ours: BenchResult; torch: BenchResult | null; torchError?: string; torchBackend?: BenchResult | null; torchBackendError?: string; trainGflops: number; inferGflops: number; rounds: { ours: BenchResult[]; torch: BenchResult[] } }[] = [];
    /** The best training and the best inference figure over rounds. */
    const bestOf = (rs: BenchResult[]): BenchResult | null =>
      rs.length ? { ...rs[0], trainTokensPerSec: Math.max(...rs.map((r) => r.trainTokensPerSec)), inferTokensPerSec: Math.max(...rs.map((r) => r.inferTokensPerSec)) } : null;
    if (o['torch-backend-only']) return torchBackendRows((o.shapes ?? 'tiny,small').split(','), text, { steps, warmup, python: o.python, json: !!o.json, out: o.out });
    for (const name of (o.shapes ?? 'tiny,small').split(',')) {
      const shape = BENCH_SHAPES[name];
      if (!shape) throw new UsageError(`unknown shape ${name} (known: ${Object.keys(BENCH_SHAPES).join(', ')})`);
      // Ours, then PyTorch, on the same shape and corpus, `rounds` times in alternation: each side
      // keeps its best round, so that a burst of load from other processes hits neither alone.
      const oursRounds: BenchResult[] = [], torchRounds: BenchResult[] = [];
      let torchError: string | undefined;
      for (let r = 0; r < rounds; r++) {
        oursRounds.push(await benchShape(text, shape, { steps, warmup, backend }));
        if (o['compare-torch'] && !torchError) {
          const t = torchBench(o['torch-script'] ?? defaultTorchScript(), data, shape, steps, warmup);
          if (t.result) torchRounds.push(t.result);
          else torchError = t.error;
        }
      }
      const ours = bestOf(oursRounds)!, torch = bestOf(torchRounds);
      if (o.json && !o['compare-torch']) out(ours);
      const fpt = forwardFlopsPerToken(ours.config);
      // our torch backend (a real supervised run, records included), when asked for
      const tb = o['torch-backend'] ? await torchBackendBench(text, shape, { steps, warmup, python: o.python }) : null;
      rows.push({ shape: name, ours, torch, torchError, ...(tb ? { torchBackend: tb.result, torchBackendError: tb.error } : {}), trainGflops: (3 * fpt * ours.trainTokensPerSec) / 1e9, inferGflops: (fpt * ours.inferTokensPerSec) / 1e9, rounds: { ours: oursRounds, torch: torchRounds } });
    }
    let analysis: Awaited<ReturnType<typeof benchAnalysis>> | null = null;
    if (o['analyze-checkpoint']) {
      analysis = await engine(o).withModel(o['analyze-checkpoint'], (im) => benchAnalysis(im, text, int(o['analyze-chars'], 'analyze-chars') ?? 2000, int(o['analyze-runs'], 'analyze-runs') ?? 9));
    }
    const ratio = (a: number, b: number | undefined) => (b ? a / b : null);
    const report = {
      data,
      steps,
      warmup,
      rounds,
      peakGflops: peak,
      rows: rows.map((r) => ({
        ...r,
        trainRatio: ratio(r.ours.trainTokensPerSec, r.torch?.trainTokensPerSec),
        inferRatio: ratio(r.ours.inferTokensPerSec, r.torch?.inferTokensPerSec),
        trainPeakPct: (100 * r.trainGflops) / peak,
        inferPeakPct: (100 * r.inferGflops) / peak,
        torchTrainGflops: r.torch ? (3 * forwardFlopsPerToken(r.ours.config) * r.torch.trainTokensPerSec) / 1e9 : null,
        torchInferGflops: r.torch ? (forwardFlopsPerToken(r.ours.config) * r.torch.inferTokensPerSec) / 1e9 : null,
      })),
      analysis,
    };
    if (o.out) {
      mkdirSync(resolve(o.out, '..'), { recursive: true });
      writeFileSync(o.out, JSON.stringify(report, null, 1) + '\n');
    }
    if (o.json && (o['compare-torch'] || analysis)) out(report);
    if (!o.json) {
      const f = (n: number) => Math.round(n).toLocaleString('en-US');
      const pct = (g: number) => `${g.toFixed(1)} (${((100 * g) / peak).toFixed(1)}%)`;
      process.stdout.write(`shape  | ours train tok/s | torch train | ratio | ours infer tok/s | torch infer | ratio | GFLOP/s train, infer (% of ${peak} peak)\n`);
      for (const r of report.rows)
        process.stdout.write(
          `${r.shape.padEnd(6)} | ${f(r.ours.trainTokensPerSec).padStart(16)} | ${(r.torch ? f(r.torch.trainTokensPerSec) : '-').padStart(11)} | ${(r.trainRatio?.toFixed(2) ?? '-').padStart(5)} | ${f(r.ours.inferTokensPerSec).padStart(16)} | ${(r.torch ? f(r.torch.inferTokensPerSec) : '-').padStart(11)} | ${(r.inferRatio?.toFixed(2) ?? '-').padStart(5)} | ${pct(r.trainGflops)}, ${pct(r.inferGflops)}\n`,
        );
      for (const r of report.rows) if (r.torchError) process.stdout.write(`torch ${r.shape}: ${r.torchError}\n`);
      for (const r of report.rows)
        if (r.torchBackend || r.torchBackendError)
          process.stdout.write(`torch backend ${r.shape}: ${r.torchBackend ? `${f(r.torchBackend.trainTokensPerSec)} train tok/s (${r.torchBackend.impl})${r.torch ? `, ${(r.torchBackend.trainTokensPerSec / r.torch.trainTokensPerSec).toFixed(2)}x the reference loop` : ''}` : r.torchBackendError}\n`);
      if (analysis) process.stdout.write(`analysis of ${analysis.chars} characters (${analysis.tokens} tokens), in process: median ${analysis.medianMs.toFixed(1)} ms over ${analysis.runs} runs\n`);
      process.stdout.write(`backend: ${rows[0]?.ours.impl} (${rows[0]?.ours.threads} threads)\n`);
    }
    return 0;
  },

  async serve(argv) {
    parse(argv, {});
    const priority = lowerPriority(engineNice());
    if (priority.error) process.stderr.write(`ldlens serve: could not lower the engine's CPU priority (${priority.error})\n`);
    startServer();
    return new Promise<number>(() => {}); // runs until the client closes the connection
  },

  async 'demo-corpus'(argv) {
    const o = parse(argv, { out: { type: 'string' }, probe: { type: 'string' } });
    if (!o.out) throw new UsageError('demo-corpus needs --out FILE');
    for (const [file, text] of [[o.out, demoCorpus()], [o.probe, DEMO_PROBE]] as const) {
      if (!file) continue;
      mkdirSync(dirname(resolve(file)), { recursive: true });
      writeFileSync(resolve(file), text);
      if (!o.json) process.stderr.write(`wrote ${resolve(file)} (${text.length.toLocaleString('en-US')} characters)\n`);
    }
    if (o.json) out({ event: 'demoCorpus', path: resolve(o.out), ...(o.probe ? { probe: resolve(o.probe) } : {}) });
    return 0;
  },

  async demo(argv) {
    const o = parse(argv, { steps: { type: 'string' }, out: { type: 'string' } });
    const dir = resolve(o.out ?? '.ldlens/demo');
    mkdirSync(dir, { recursive: true });
    const corpusPath = join(dir, 'demo-corpus.md');
    writeFileSync(corpusPath, demoCorpus());
    const service = engine(o);
    const { backend, attempts } = await service.initBackend();
    if (!o.json) {
      process.stderr.write(`LearnedDropout Lens demo: backend ${backend} (${attempts.filter((a) => !a.ok).map((a) => `${a.name}: ${a.reason}`).join('; ') || 'first choice'})\n`);
      process.stderr.write(`corpus: ${corpusPath} (generated: prose, arithmetic, code and log lines)\n`);
    }
    const steps = int(o.steps, 'steps') ?? 300;
    const setup: TrainSetup = { data: [corpusPath], runsDir: join(dir, 'runs'), name: 'demo', preset: 'tiny', overrides: { train: { steps, evalInterval: Math.max(10, Math.round(steps / 6)), checkpointInterval: Math.max(10, Math.round(steps / 3)) } } };
    const { code, run } = await runTraining(!!o.json, (eventsFor) => service.train(setup, eventsFor));
    if (code !== 0) return code;
    const metrics = service.metrics(run.dir);
    const evals = metrics.filter((m): m is Extract<MetricRecord, { type: 'eval' }> => m.type === 'eval');
    const stats = metrics.filter((m): m is StatsRecord => m.type === 'stats').pop();
    const [analysis, sample] = await service.withModel(run.dir, async (im) => [await analyzeText(im, DEMO_PROBE), await sampleText(im, 'The model', { maxTokens: 160, temperature: 0.8, seed: 1 })] as const);
    if (o.json) {
      out({ event: 'summary', runDir: run.dir, evals, stats, tokenTypes: tokenTypeTable(analysis), sample });
      return 0;
    }
    const p = (s: string) => process.stdout.write(s + '\n');
    p('\n== what it learned');
    p(`losses (train / val): ${evals.map((e) => `step ${e.step}: ${e.trainLoss.toFixed(3)} / ${e.valLoss.toFixed(3)}`).join(', ')}`);
    if (stats) {
      p(`mask statistics at step ${stats.step}${stats.stuck ? '  (STUCK: masks stay at 1, nothing is dropped)' : ''}:`);
      for (const s of stats.sites)
        p(`  ${s.site.padEnd(34)} mean m ${s.meanMask.toFixed(3)}  <0.1: ${(100 * s.fracLow).toFixed(0).padStart(3)}%  >0.9: ${(100 * s.fracHigh).toFixed(0).padStart(3)}%  active ${s.meanActive.toFixed(1)}${s.kind === 'attention' ? ' keys' : '/' + s.units}`);
    }
    p('\n== active units on a probe text');
    p(describeAnalysis(analysis, 0));
    const types = tokenTypeTable(analysis);
    p(`\n== mean active MLP units per token type (most → fewest; in brackets: chance, untrained A/B on the same hidden states); ${typeSpread(types)}`);
    p(types.map((t) => `${JSON.stringify(t.token)} ${t.meanActive.toFixed(1)}${t.chanceActive === null ? '' : ` (${t.chanceActive.toFixed(1)})`}`).join('  '));
    p('\n== a sample ("The model" …)');
    p('The model' + sample);
    p(`\nrun folder: ${run.dir}`);
    return 0;
  },
};

function describeError(e: unknown): string {
  if (e instanceof ConfigError) return e.message;
  if (e instanceof CorpusError || e instanceof CheckpointError || e instanceof TokenizerError || e instanceof SafetensorsError || e instanceof UsageError || e instanceof RunLockedError || e instanceof MemoryError || e instanceof TorchBackendError) return e.message;
  return (e as Error)?.stack ?? String(e);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd ? 0 : 2;
  }
  if (cmd === '--version') {
    process.stdout.write(ENGINE_VERSION + '\n');
    return 0;
  }
  const f = commands[cmd];
  if (!f) {
    process.stderr.write(`ldlens: unknown command ${JSON.stringify(cmd)}\n\n${HELP}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    return await f(rest);
  } catch (e) {
    const json = rest.includes('--json');
    const msg = describeError(e);
    if (json) out({ event: 'error', message: msg, ...(e instanceof ConfigError ? { problems: e.problems } : {}) });
    process.stderr.write(`ldlens ${cmd}: ${msg}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      // The wasm backend can keep the event loop alive; leave explicitly once stdout is flushed.
      process.stdout.write('', () => process.exit(code));
    },
    (e) => {
      process.stderr.write(String(e?.stack ?? e) + '\n');
      process.exit(1);
    },
  );
}
