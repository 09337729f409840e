// The runs list: status, backend, steps and best validation loss of every run; checking runs
// overlays them in the charts.
import { format } from 'd3';
import { el } from '../common/dom';
import { formatInt, formatValue } from '../common/format';
import type { RunInfo } from '@common/webviewProtocol';
import { PALETTE_SIZE } from './definitions';

export class RunsList {
  readonly element: HTMLElement;
  private readonly table: HTMLTableElement;
  /** The runs and selection the rows were built for: when only progress changed, rows stay. */
  private built = '';

  constructor(private readonly onToggle: (runId: string, selected: boolean) => void) {
    this.element = el('section', 'runs');
    this.table = el('table', 'runs-table', undefined, { 'aria-label': 'runs' });
    this.element.append(this.table);
  }

  render(runs: RunInfo[], selected: string[]): void {
    // While a run trains its step changes twice a second: update the cells in place so that a
    // click on a row or checkbox is not lost to a row rebuilt under the pointer.
    const key = JSON.stringify([runs.map((r) => [r.id, r.name, r.dir, r.dropoutKind, r.backend]), selected]);
    if (key === this.built && runs.length && this.updateInPlace(runs)) return;
    this.built = key;
    if (!runs.length) {
      this.table.replaceChildren(el('caption', 'hint', 'No runs yet. Start one with "LearnedDropout: Train Model", or "LearnedDropout: Try It on a Demo Corpus" to train on the built-in demo text.'));
      return;
    }
    const head = el('tr');
    // Four columns: the run's name gets what the others (kept compact) leave; status and steps
    // share one column, on two lines.
    for (const h of ['', 'run', 'status', 'best val']) head.append(el('th', h === 'best val' ? 'num' : h === 'status' ? 'run-progress' : undefined, h));
    const rows: HTMLElement[] = [head];
    for (const run of runs) {
      const index = selected.indexOf(run.id);
      const tr = el('tr', index >= 0 ? 'selected' : undefined, undefined, { 'data-run': run.id });
      const box = el('input', 'run-check', undefined, { type: 'checkbox', 'aria-label': `show ${run.name}` });
      box.checked = index >= 0;
      box.addEventListener('change', () => this.onToggle(run.id, box.checked));
      const swatch = el('span', `run-swatch${index >= 0 ? ` bg-c${index % PALETTE_SIZE}` : ''}`);
      const first = el('td', 'run-pick');
      first.append(box, swatch);
      const name = el('td', 'run-name');
      // Second line: what kind of run it is and where it trains.
      name.append(el('div', 'run-title', run.name), el('div', 'muted run-kind', `${run.dropoutKind} · ${run.backend ?? '—'}`));
      const status = el('td', 'run-progress');
      status.append(el('span'), el('div', 'muted run-steps'));
      tr.append(first, name, status, el('td', 'num run-best'));
      fillProgress(tr, run);
      tr.addEventListener('click', (e) => {
        if (e.target === box) return;
        box.checked = !box.checked;
        this.onToggle(run.id, box.checked);
      });
      rows.push(tr);
    }
    this.table.replaceChildren(...rows);
  }

  /** Status, steps and best loss of rows already built; false when a row is missing. */
  private updateInPlace(runs: RunInfo[]): boolean {
    const rows = new Map([...this.table.querySelectorAll<HTMLElement>('tr[data-run]')].map((tr) => [tr.dataset['run'], tr]));
    if (!runs.every((r) => rows.has(r.id))) return false;
    for (const run of runs) fillProgress(rows.get(run.id)!, run);
    return true;
  }
}

function fillProgress(tr: HTMLElement, run: RunInfo): void {
  tr.title = `${run.name}\n${run.dir}${run.error ? `\n${run.error}` : ''}`;
  const status = tr.querySelector<HTMLElement>('.run-progress > span')!;
  status.className = `status status-${run.status}`;
  status.textContent = run.status;
  const steps = tr.querySelector<HTMLElement>('.run-steps')!;
  steps.textContent = `${compactSteps(run.step)}/${compactSteps(run.totalSteps)}`;
  steps.title = `step ${formatInt(run.step)} of ${formatInt(run.totalSteps)}`;
  tr.querySelector<HTMLElement>('.run-best')!.textContent = run.bestValLoss === null ? '—' : formatValue(run.bestValLoss);
}

const kilo = format('.3~s');

/** Step counts as the side bar has room for: 950, 9,500, 12k, 1.2M. */
export function compactSteps(n: number): string {
  return n < 10_000 ? formatInt(n) : kilo(n);
}
