// The study behind the README's "What the masks learn": a grid of dropout settings trained on one
// corpus at one budget with several seeds; per setting the held-out loss on the validation split
// (next to no dropout and standard dropout) and the mask report's figures on a held-out slice of
// the validation split (next to chance). Writes study.json and study.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BackendName, MaskReport } from '@common/protocol';
import { merge, type DeepPartial, type LDConfig } from './config';
import { aboveChance, maskReportOnIds } from './maskReport';
import { TrainingRun } from './train/trainingRun';

export interface StudySetting {
  name: string;
  about: string;
  config: DeepPartial<LDConfig>;
}

/** The settings compared by default: the two baselines, the default LearnedDropout and the knobs that could make masks decide. */
export const STUDY_SETTINGS: StudySetting[] = [
  { name: 'no-dropout', about: 'no dropout at all', config: { dropout: { kind: 'none' } } },
  { name: 'standard-0.1', about: 'standard dropout, rate 0.1', config: { dropout: { kind: 'standard', rate: 0.1 } } },
  { name: 'learned', about: 'LearnedDropout, the default config (λ ramps to 0.05)', config: {} },
  {
    name: 'learned-entropy-1',
    about: 'LearnedDropout with the entropy penalty ramping to λ = 1 (20× the default), L1 as default',
    config: { dropout: { entropy: { schedule: { max: 1, min: 0, rate: 0.01 } } } },
  },
  {
    name: 'learned-ab-lr',
    about: 'LearnedDropout with A/B at a constant lr 0.05 (dropout.abLr 0.05, abLrMode constant): at the main lr, 3e-3 and decaying, B moves < 1 rad in 300 steps and the masks stay near their init',
    config: { dropout: { abLr: 0.05, abLrMode: 'constant' } },
  },
  {
    name: 'learned-ab-lr-entropy-1',
    about: 'learned-ab-lr with the entropy penalty ramping to λ = 1',
    config: { dropout: { abLr: 0.05, abLrMode: 'constant', entropy: { schedule: { max: 1, min: 0, rate: 0.01 } } } },
  },
  { name: 'learned-stochastic', about: 'LearnedDropout with Bernoulli(m) masks in training (dropout.rounding stochastic)', config: { dropout: { rounding: 'stochastic' } } },
  { name: 'learned-straight-through', about: 'LearnedDropout with binary masks [m ≥ 0.5] (dropout.rounding straight-through)', config: { dropout: { rounding: 'straight-through' } } },
];

export interface StudyOptions {
  data: string[];
  out: string;
  preset: string;
  /** Overrides under every setting's (e.g. a smaller model). */
  base?: DeepPartial<LDConfig>;
  steps: number;
  seeds: number[];
  settings: StudySetting[];
  backend: BackendName;
  /** Tokens of the validation split the mask report reads (from its start). */
  reportTokens: number;
  chanceDraws: number;
  command: string;
  log?: (line: string) => void;
}

export interface StudyRun {
  setting: string;
  seed: number;
  valLoss: number;
  valTokens: number;
  seconds: number;
  report: Omit<MaskReport, 'checkpoint'> | null;
}

const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
const sd = (xs: number[]) => (xs.length > 1 ? Math.sqrt(xs.reduce((p, q) => p + (q - mean(xs)) ** 2, 0) / (xs.length - 1)) : 0);

/** Per run: pooled decided share of values (trained, chance), sites with token / type structure above chance. */
export function reportFigures(r: Omit<MaskReport, 'checkpoint'>) {
  const avg = (f: (s: MaskReport['sites'][number]) => number) => r.sites.reduce((p, s) => p + f(s), 0) / r.sites.length; // every site counts once
  return {
    decided: avg((s) => s.trained.decidedFraction),
    decidedChance: avg((s) => s.chance.decidedFraction),
    tokenEta2: avg((s) => s.trained.eta2.token),
    tokenEta2Chance: avg((s) => s.chance.eta2.token),
    tokenAbove: r.sites.filter((s) => aboveChance(s.trained.eta2.token, s.chance.eta2.token, s.chanceSd.eta2.token)).length,
    typeAbove: r.sites.filter((s) => aboveChance(s.trained.eta2.tokenType, s.chance.eta2.tokenType, s.chanceSd.eta2.tokenType)).length,
    sites: r.sites.length,
  };
}

export async function runStudy(o: StudyOptions): Promise<{ runs: StudyRun[]; markdown: string }> {
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const runs: StudyRun[] = [];
  const save = () => {
    const markdown = studyMarkdown(o, runs);
    writeFileSync(join(out, 'study.json'), JSON.stringify({ command: o.command, preset: o.preset, steps: o.steps, seeds: o.seeds, data: o.data, settings: o.settings, reportTokens: o.reportTokens, chanceDraws: o.chanceDraws, runs }, null, 1) + '\n');
    writeFileSync(join(out, 'study.md'), markdown);
    return markdown;
  };
  for (const seed of o.seeds)
    for (const s of o.settings) {
      const t0 = performance.now();
      const overrides = merge(merge(o.base ?? {}, s.config), { train: { steps: o.steps, seed, evalInterval: o.steps, checkpointInterval: o.steps } });
      const run = await TrainingRun.create({ data: o.data, runsDir: join(out, 'runs'), name: `${s.name} seed ${seed}`, preset: o.preset, overrides }, o.backend);
      let valLoss = NaN, valTokens = 0;
      const outcome = await run.run({ metric: (r) => r.type === 'eval' && ((valLoss = r.valLoss), (valTokens = r.valTokens ?? 0)) });
      if (outcome.status !== 'completed') throw new Error(`study run ${s.name} seed ${seed}: ${outcome.status} ${outcome.error ?? ''}`);
      // the report reads the validation split (never trained on): its first reportTokens tokens
      const report = run.model.sites.length ? await maskReportOnIds(run.model, run.tokenizer, run.validationIds, { chanceDraws: o.chanceDraws, maxTokens: o.reportTokens }) : null;
      run.dispose();
      const seconds = (performance.now() - t0) / 1000;
      runs.push({ setting: s.name, seed, valLoss, valTokens, seconds, report });
      o.log?.(`${s.name} seed ${seed}: val loss ${valLoss.toFixed(4)} over ${valTokens} tokens, ${seconds.toFixed(0)} s${report ? '; ' + report.summary.slice(0, 2).join('; ') : ''}`);
      save();
    }
  return { runs, markdown: save() };
}

/** The table: one row per setting, mean ± sd over the seeds. */
export function studyMarkdown(o: Pick<StudyOptions, 'command' | 'preset' | 'steps' | 'seeds' | 'settings' | 'reportTokens' | 'chanceDraws'>, runs: StudyRun[]): string {
  const f = (xs: number[], d = 3) => (xs.length > 1 ? `${mean(xs).toFixed(d)} ± ${sd(xs).toFixed(d)}` : xs.length ? mean(xs).toFixed(d) : '-'); // no spread from one seed
  const pct = (xs: number[]) => (xs.length ? `${(100 * mean(xs)).toFixed(1)}%` : '-');
  const base = runs.filter((r) => r.setting === 'no-dropout').map((r) => r.valLoss);
  const lines = [
    `Command: \`${o.command}\``,
    '',
    `Preset \`${o.preset}\`, ${o.steps} steps, seeds ${o.seeds.join(', ')} (mean ± sd over seeds). Val loss: mean next-token cross-entropy (nats) over the validation split's consecutive windows at the last step. ` +
      `Mask figures on the validation split's first ${o.reportTokens} tokens; chance: untrained A/B from the run's init on the same hidden states, ${o.chanceDraws} draws. ` +
      '"decided": share of mask values outside [0.1, 0.9], averaged over sites; "η² token": variance of the per-token kept fraction explained by token identity, averaged over sites; ' +
      '"sites above chance": sites whose η² by token (type) exceeds the chance mean by 2 sd (and by 0.02).',
    '',
    '| setting | val loss | Δ vs no-dropout | decided (chance) | η² token (chance) | sites with token structure above chance | with token-type structure above chance | s/run |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const s of o.settings) {
    const rs = runs.filter((r) => r.setting === s.name);
    if (!rs.length) continue;
    const loss = rs.map((r) => r.valLoss);
    const delta = base.length ? `${mean(loss) - mean(base) >= 0 ? '+' : ''}${(mean(loss) - mean(base)).toFixed(3)}` : '-';
    const figs = rs.flatMap((r) => (r.report ? [reportFigures(r.report)] : []));
    const cell = figs.length
      ? [
          `${pct(figs.map((x) => x.decided))} (${pct(figs.map((x) => x.decidedChance))})`,
          `${f(figs.map((x) => x.tokenEta2), 2)} (${f(figs.map((x) => x.tokenEta2Chance), 2)})`,
          figs.map((x) => `${x.tokenAbove}/${x.sites}`).join(', '),
          figs.map((x) => `${x.typeAbove}/${x.sites}`).join(', '),
        ]
      : ['-', '-', '-', '-'];
    lines.push(`| ${s.name} | ${f(loss)} (n=${rs.length}) | ${delta} | ${cell.join(' | ')} | ${mean(rs.map((r) => r.seconds)).toFixed(0)} |`);
  }
  lines.push('', ...o.settings.map((s) => `- \`${s.name}\`: ${s.about}`));
  return lines.join('\n') + '\n';
}
