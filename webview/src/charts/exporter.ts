// Chart exports: the metrics as one wide CSV (every record of every shown run, exact values),
// and the open charts stacked into one standalone SVG (PNG is that SVG rasterized).
import { csvRow, standaloneSvg, withStaged } from '../common/export';
import { EVAL_FIELDS, SITE_FIELDS, STEP_FIELDS } from '@common/metrics';
import type { MetricRecord, SiteReportFigures } from '@common/webviewProtocol';

/** Mask report figures (issue 13): each trained, then chance mean, then chance sd over the draws. */
const REPORT_COLS = ['decidedFraction', 'meanDecided', 'meanFraction', 'alwaysOn', 'alwaysOff', 'eta2Token', 'eta2TokenType', 'eta2Position'] as const;
const REPORT_HEADER = [...REPORT_COLS, ...REPORT_COLS.map((c) => `chance_${c}`), ...REPORT_COLS.map((c) => `chanceSd_${c}`), 'verdict'];

export const METRICS_CSV_HEADER = ['run', 'type', 'step', 'time', ...STEP_FIELDS, ...EVAL_FIELDS, 'site', 'layer', 'kind', ...SITE_FIELDS, 'stuck', 'stuckAt', ...REPORT_HEADER];

function reportFigures(f: SiteReportFigures): number[] {
  return [f.decidedFraction, f.meanDecided, f.meanFraction, f.alwaysOn, f.alwaysOff, f.eta2.token, f.eta2.tokenType, f.eta2.position];
}

/**
 * One row per step and eval record, one row per site of each stats and report record (a report's
 * summary lines are not written: they restate its figures); columns that do not apply stay empty. Numbers are written with String(), which reads back to the same double.
 */
export function metricsCsv(runs: { name: string; records: readonly MetricRecord[] }[]): string {
  const lines = [csvRow(METRICS_CSV_HEADER)];
  const blankStep = STEP_FIELDS.map(() => '');
  const blankEval = EVAL_FIELDS.map(() => '');
  const blankSite = ['', '', '', ...SITE_FIELDS.map(() => ''), '', ''];
  const blankReport = REPORT_HEADER.map(() => '');
  for (const run of runs) {
    for (const r of run.records) {
      if (r.type === 'step') lines.push(csvRow([run.name, 'step', r.step, r.time, ...STEP_FIELDS.map((c) => r[c]), ...blankEval, ...blankSite, ...blankReport]));
      else if (r.type === 'eval') lines.push(csvRow([run.name, 'eval', r.step, r.time, ...blankStep, ...EVAL_FIELDS.map((c) => r[c]), ...blankSite, ...blankReport]));
      else if (r.type === 'report')
        for (const s of r.report.sites)
          lines.push(
            csvRow([
              run.name, 'report', r.step, r.time, ...blankStep, ...blankEval, s.site, s.layer, s.kind, ...SITE_FIELDS.map(() => ''), '', '',
              ...reportFigures(s.trained), ...reportFigures(s.chance), ...reportFigures(s.chanceSd), s.verdict,
            ]),
          );
      else
        for (const s of r.sites)
          lines.push(
            csvRow([
              run.name, 'stats', r.step, r.time, ...blankStep, ...blankEval, s.site, s.layer, s.kind, ...SITE_FIELDS.map((c) => s[c]), r.stuck,
              r.stuckSites?.find((x) => x.site === s.site)?.at ?? '', ...blankReport,
            ]),
          );
    }
  }
  return lines.join('\r\n') + '\r\n';
}

/** Stacks the given chart SVGs (with their titles and legends as text) into one document. */
export function chartsSvg(charts: { title: string; legend: string; svg: SVGSVGElement }[], heading: string): { svg: string; width: number; height: number } {
  const NS = 'http://www.w3.org/2000/svg';
  const root = document.createElementNS(NS, 'svg');
  const width = Math.max(320, ...charts.map((c) => c.svg.width.baseVal.value));
  let y = 24;
  const body = document.createElementNS(NS, 'g');
  const text = (x: number, yy: number, s: string, cls?: string): SVGTextElement => {
    const t = document.createElementNS(NS, 'text');
    t.setAttribute('x', String(x));
    t.setAttribute('y', String(yy));
    if (cls) t.setAttribute('class', cls);
    t.textContent = s;
    return t;
  };
  body.append(text(8, 16, heading, 'export-title'));
  for (const c of charts) {
    body.append(text(8, y + 14, c.title, 'export-title'));
    body.append(text(8, y + 28, c.legend, 'export-muted'));
    const clone = c.svg.cloneNode(true) as SVGSVGElement;
    clone.setAttribute('x', '0');
    clone.setAttribute('y', String(y + 34));
    body.append(clone);
    y += 34 + c.svg.height.baseVal.value + 10;
  }
  const bg = document.createElementNS(NS, 'rect');
  bg.setAttribute('class', 'export-bg');
  root.append(bg, body);
  root.classList.add('export-view');
  return withStaged(root, () => {
    // Titles and legends longer than the charts are wide widen the document instead of being cut.
    const box = body.getBBox();
    const w = Math.ceil(Math.max(width, box.x + box.width + 8));
    bg.setAttribute('width', String(w));
    bg.setAttribute('height', String(y));
    root.setAttribute('viewBox', `0 0 ${w} ${y}`);
    return { svg: standaloneSvg(root, { width: w, height: y }), width: w, height: y };
  });
}
