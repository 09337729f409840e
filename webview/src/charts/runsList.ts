// The runs list: status, backend, steps and best validation loss of every run; checking runs
// overlays them in the charts.
import { el } from '../common/dom';
import { formatInt, formatValue } from '../common/format';
import type { RunInfo } from '../protocol';
import { PALETTE_SIZE } from './definitions';

export class RunsList {
  readonly element: HTMLElement;
  private readonly table: HTMLTableElement;

  constructor(private readonly onToggle: (runId: string, selected: boolean) => void) {
    this.element = el('section', 'runs');
    this.table = el('table', 'runs-table', undefined, { 'aria-label': 'runs' });
    this.element.append(this.table);
  }

  render(runs: RunInfo[], selected: string[]): void {
    if (!runs.length) {
      this.table.replaceChildren(el('caption', 'hint', 'No runs yet. Start one with "LearnedDropout: Train Model".'));
      return;
    }
    const head = el('tr');
    for (const h of ['', 'run', 'status', 'steps', 'best val']) head.append(el('th', h === 'steps' || h === 'best val' ? 'num' : undefined, h));
    const rows: HTMLElement[] = [head];
    for (const run of runs) {
      const index = selected.indexOf(run.id);
      const tr = el('tr', index >= 0 ? 'selected' : undefined, undefined, { 'data-run': run.id, title: run.error ? `${run.dir}\n${run.error}` : run.dir });
      const box = el('input', 'run-check', undefined, { type: 'checkbox', 'aria-label': `show ${run.name}` });
      box.checked = index >= 0;
      box.addEventListener('change', () => this.onToggle(run.id, box.checked));
      const swatch = el('span', `run-swatch${index >= 0 ? ` bg-c${index % PALETTE_SIZE}` : ''}`);
      const first = el('td', 'run-pick');
      first.append(box, swatch);
      const name = el('td', 'run-name');
      // Second line: what kind of run it is and where it trains.
      name.append(el('div', 'run-title', run.name), el('div', 'muted run-kind', `${run.dropoutKind} · ${run.backend ?? '—'}`));
      const status = el('td');
      status.append(el('span', `status status-${run.status}`, run.status));
      tr.append(
        first,
        name,
        status,
        el('td', 'num', `${formatInt(run.step)}/${formatInt(run.totalSteps)}`),
        el('td', 'num', run.bestValLoss === null ? '—' : formatValue(run.bestValLoss)),
      );
      tr.addEventListener('click', (e) => {
        if (e.target === box) return;
        box.checked = !box.checked;
        this.onToggle(run.id, box.checked);
      });
      rows.push(tr);
    }
    this.table.replaceChildren(...rows);
  }
}
