// Text of the heatmap's status-bar legend: which metric, over which sites, which levelling, and
// the value range of each colour. No `vscode` import: unit-tested under plain Node.
import { legendRamp } from './colors';
import { LEVELLING_LABEL, type Levels } from './levels';
import type { ChoiceExplanation } from './metrics';

export interface LegendInput {
  /** describeChoice: "all layers · default". */
  what: string;
  explanation: ChoiceExplanation;
  levels: Levels;
  /** #rrggbb[aa] of each level, low to high. */
  colors: string[];
  step: number;
  /** The run that painted it (an older run's while a new one has no checkpoint yet, or a selected one). */
  run?: string;
  painted: number;
  tokens: number;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

const SHORT_LEVELLING = { quantile: 'quantiles', zscore: 'z-scores', linear: 'linear' } as const;

export function buildLegend(input: LegendInput): { text: string; tooltip: string } {
  const { levels: lv, explanation: ex } = input;
  const lo = lv.bounds[0];
  const hi = lv.bounds[lv.bounds.length - 1];
  if (ex.missing || lv.count === 0) {
    const why = ex.missing ?? 'no token has a value for this metric';
    return {
      text: `$(symbol-color) ${input.what.replace(/ · /g, ' ')}: not available`,
      tooltip: `**LearnedDropout heatmap**: ${input.what}\n\n${why}. Choose another metric.`,
    };
  }
  const from = input.run ? ` · ${input.run} step ${input.step}` : '';
  const text = `$(symbol-color) ${input.what.replace(/ · /g, ' ')} (${SHORT_LEVELLING[lv.levelling]}) ${fmt(lo)} ${legendRamp()} ${fmt(hi)}${from}`;
  const swatches = input.colors.map((c, l) => {
    const count = lv.level.reduce((n, x) => n + (x === l ? 1 : 0), 0);
    return `<span style="background-color:${c.slice(0, 7)};">&nbsp;&nbsp;&nbsp;&nbsp;</span> ${fmt(lv.bounds[l])} – ${fmt(lv.bounds[l + 1])} (${count} tokens)`;
  });
  const tooltip = [
    `**LearnedDropout heatmap**: ${input.what}`,
    `Measures: ${ex.measures}.`,
    `Sites: ${ex.sites}.`,
    `Colours: ${LEVELLING_LABEL[lv.levelling]}; mean ${fmt(lv.mean)}, sd ${fmt(lv.sd)} (setting \`ldlens.heatmap.levels\`).`,
    `${input.run ? `Run ${input.run}, checkpoint` : 'Checkpoint'} step ${input.step} · ${input.painted} of ${input.tokens} tokens painted`,
    swatches.join('<br>'),
  ].join('\n\n');
  return { text, tooltip };
}
