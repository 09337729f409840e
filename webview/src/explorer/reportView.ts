// The Mask report tab: the engine's MaskReport of the analyzed text (requested through the host),
// per site each trained figure next to chance (untrained A/B on the same hidden states, mean ± sd
// over the draws), the site's verdict, and the summary lines. Only draws; the app owns requests.
import { select } from 'd3';
import type { MaskReport, SiteReport, SiteReportFigures } from '@common/webviewProtocol';
import { el } from '../common/dom';
import { formatInt } from '../common/format';

export interface ReportCallbacks {
  /** Asks the host for the report at the checkpoint the explorer shows. */
  request(): void;
}

type FigureKey = Exclude<keyof SiteReportFigures, 'eta2'> | 'eta2.token' | 'eta2.tokenType' | 'eta2.position';

interface Column {
  key: FigureKey;
  label: string;
  title: string;
  /** Not defined at attention sites (the engine counts units there, not keys). */
  notAttention?: boolean;
}

export const REPORT_COLUMNS: Column[] = [
  { key: 'decidedFraction', label: 'decided', title: 'Fraction of mask values outside [0.1, 0.9]' },
  { key: 'meanDecided', label: '|2m − 1|', title: 'Mean |2m − 1| over all values (0: all at 0.5; 1: all at 0 or 1)' },
  { key: 'meanFraction', label: 'kept', title: 'Mean fraction of units kept per token (m ≥ 0.5; attention: of causal keys)' },
  { key: 'alwaysOn', label: 'always on', title: 'Units with m ≥ 0.5 for ≥ 99% of tokens', notAttention: true },
  { key: 'alwaysOff', label: 'always off', title: 'Units with m < 0.5 for ≥ 99% of tokens', notAttention: true },
  { key: 'eta2.token', label: 'η² token', title: 'Variance of the per-token kept fraction explained by token identity' },
  { key: 'eta2.tokenType', label: 'η² type', title: 'Variance of the per-token kept fraction explained by token type (letter, digit, space, punctuation, …)' },
  { key: 'eta2.position', label: 'η² position', title: 'Variance of the per-token kept fraction explained by position in the analysis window' },
];

export function figure(f: SiteReportFigures, key: FigureKey): number {
  if (key.startsWith('eta2.')) return f.eta2[key.slice(5) as keyof SiteReportFigures['eta2']];
  return f[key as Exclude<FigureKey, `eta2.${string}`>] as number;
}

/** Trained outside chance mean ± 2 sd: "above" or "below"; null inside (or no spread to judge by). */
export function outsideChance(trained: number, chance: number, sd: number): 'above' | 'below' | null {
  if (!Number.isFinite(trained) || !Number.isFinite(chance) || !(sd >= 0)) return null;
  // A zero spread (one draw, or a figure chance never moves) cannot say "outside": only exact ties are inside.
  const margin = Math.max(2 * sd, 1e-9);
  return trained > chance + margin ? 'above' : trained < chance - margin ? 'below' : null;
}

function fmt(v: number, integer: boolean): string {
  if (!Number.isFinite(v)) return '–';
  if (integer) return formatInt(v);
  // A spread below 0.01 keeps one significant digit ("± 0.004", not "± 0.00", which reads as none).
  return v !== 0 && Math.abs(v) < 0.01 ? v.toPrecision(1) : v.toFixed(2);
}

interface Cell {
  site: SiteReport;
  column: Column;
}

export class ReportView {
  readonly element: HTMLElement;
  private readonly button: HTMLElement;
  private readonly status: HTMLElement;
  private readonly body: HTMLElement;
  private report: MaskReport | null = null;
  private reportStep: number | null = null;

  constructor(callbacks: ReportCallbacks) {
    this.element = el('section', 'report-view', undefined, { 'aria-label': 'mask report' });
    const head = el('div', 'report-head');
    this.button = el('vscode-button', 'report-button', 'Compute mask report', { secondary: '', title: 'Ask the engine for the mask report of this text at the checkpoint shown (trained masks vs untrained A/B)' });
    this.button.addEventListener('click', () => callbacks.request());
    this.status = el('span', 'muted report-status', 'Per site: how decided the masks are and how much token structure they carry, each next to chance.');
    head.append(this.button, this.status);
    this.body = el('div', 'report-body');
    this.element.append(head, this.body);
  }

  setPending(step: number): void {
    this.status.textContent = `computing the report at step ${formatInt(step)}…`;
  }

  setError(message: string): void {
    this.status.textContent = `No report: ${message}`;
  }

  /** Shows a report (computed at `step`); `shownStep` is the checkpoint the explorer shows now. */
  setReport(report: MaskReport, shownStep: number): void {
    this.report = report;
    this.reportStep = report.checkpoint.step;
    this.render(shownStep);
  }

  /** The explorer moved to another checkpoint: say the report is of another one. */
  setShownStep(step: number): void {
    if (this.report) this.render(step);
  }

  private render(shownStep: number): void {
    const r = this.report!;
    const stale = this.reportStep !== shownStep ? ` The explorer now shows step ${formatInt(shownStep)}: compute again for it.` : '';
    this.status.textContent = `Report at step ${formatInt(r.checkpoint.step)} over ${formatInt(r.tokens)} tokens; chance: ${r.chanceDraws} draws of untrained A/B on the same hidden states.${stale}`;
    const summary = el('ul', 'report-summary');
    select(summary)
      .selectAll('li')
      .data(r.summary)
      .join('li')
      .text((d) => d);
    const table = el('table', 'report-table');
    const thead = select(table).append('thead').append('tr');
    thead
      .selectAll('th')
      .data([{ label: 'site', title: '' }, ...REPORT_COLUMNS, { label: 'verdict', title: "The engine's reading of trained vs chance" }])
      .join('th')
      .text((d) => d.label)
      .attr('title', (d) => d.title || null);
    const rows = select(table)
      .append('tbody')
      .selectAll<HTMLTableRowElement, SiteReport>('tr')
      .data(r.sites, (d) => d.site)
      .join('tr')
      .attr('data-site', (d) => d.site);
    rows
      .append('td')
      .attr('class', 'site-name')
      .attr('title', (d) => d.site)
      .text((d) => (d.layer < 0 ? 'emb' : `L${d.layer} ${{ embedding: 'emb', attention: 'attn', attentionOutput: 'resid', mlp: 'mlp' }[d.kind]}`));
    rows
      .selectAll<HTMLTableCellElement, Cell>('td.fig')
      .data((site) => REPORT_COLUMNS.map((column) => ({ site, column })))
      .join('td')
      .attr('class', ({ site, column }) => {
        if (column.notAttention && site.kind === 'attention') return 'fig num na';
        const side = outsideChance(figure(site.trained, column.key), figure(site.chance, column.key), figure(site.chanceSd, column.key));
        return `fig num${side ? ` outside ${side}` : ''}`;
      })
      .each(function ({ site, column }) {
        const td = select(this);
        if (column.notAttention && site.kind === 'attention') {
          td.text('n/a').attr('title', 'Not counted at attention sites (their units are keys)');
          return;
        }
        const integer = column.key === 'alwaysOn' || column.key === 'alwaysOff';
        const t = figure(site.trained, column.key);
        const c = figure(site.chance, column.key);
        const sd = figure(site.chanceSd, column.key);
        const side = outsideChance(t, c, sd);
        td.append('span').attr('class', 'trained').text(`${fmt(t, integer)}${side === 'above' ? ' ▲' : side === 'below' ? ' ▼' : ''}`);
        td.append('span').attr('class', 'chance').text(`chance ${fmt(c, integer)} ± ${fmt(sd, false)}`);
        td.attr('title', `${column.title}. Trained ${fmt(t, integer)}; chance ${fmt(c, integer)} ± ${fmt(sd, false)} (sd over ${r.chanceDraws} draws)${side ? `: ${side} chance (beyond 2 sd)` : ': within chance ± 2 sd'}`);
      });
    rows
      .append('td')
      .attr('class', 'verdict')
      .text((d) => d.verdict);
    const legend = el('p', 'muted report-legend', 'Each cell: trained figure over chance mean ± sd over the draws. Underlined: trained beyond chance ± 2 sd (▲ above, ▼ below). n/a: not defined at attention sites.');
    this.body.replaceChildren(summary, table, legend);
  }
}
