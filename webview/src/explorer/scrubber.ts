// Checkpoint scrubber: the same text at each of the run's checkpoints, stepped or played, and a
// diff against another checkpoint (which mask bits flipped).
import { select } from 'd3';
import { el } from '../common/dom';
import { formatInt, formatValue } from '../common/format';
import type { CheckpointInfo } from '@common/webviewProtocol';

export interface ScrubberCallbacks {
  show(dir: string): void;
  diffWith(dir: string | null): void;
}

export interface FlipSummary {
  label: string;
  on: number;
  off: number;
  cells: number;
}

const PLAY_INTERVAL_MS = 900;

export class Scrubber {
  readonly element: HTMLElement;
  private readonly slider: HTMLInputElement;
  private readonly label: HTMLElement;
  private readonly status: HTMLElement;
  private readonly playButton: HTMLElement;
  private readonly compareSelect: HTMLSelectElement;
  private readonly flipsTable: HTMLElement;
  private checkpoints: CheckpointInfo[] = [];
  private current: string | null = null;
  private playing = false;
  private timer = 0;

  constructor(private readonly callbacks: ScrubberCallbacks) {
    this.element = el('div', 'scrubber');
    const row = el('div', 'scrub-row');
    const prev = el('vscode-button', 'scrub-prev', '◀', { secondary: '', title: 'Previous checkpoint', 'aria-label': 'previous checkpoint' });
    const next = el('vscode-button', 'scrub-next', '▶', { secondary: '', title: 'Next checkpoint', 'aria-label': 'next checkpoint' });
    this.playButton = el('vscode-button', 'scrub-play', 'Play', { title: 'Play the checkpoints as an animation' });
    this.slider = el('input', 'scrub-slider', undefined, { type: 'range', min: '0', max: '0', step: '1', 'aria-label': 'checkpoint' });
    this.label = el('span', 'scrub-label');
    this.status = el('span', 'scrub-status muted');
    prev.addEventListener('click', () => this.step(-1));
    next.addEventListener('click', () => this.step(1));
    this.playButton.addEventListener('click', () => this.setPlaying(!this.playing));
    this.slider.addEventListener('input', () => this.go(Number(this.slider.value)));
    row.append(prev, this.slider, next, this.playButton, this.label, this.status);

    const diffRow = el('div', 'scrub-row');
    this.compareSelect = el('select', 'ld-select compare-select', undefined, { 'aria-label': 'compare with checkpoint' });
    this.compareSelect.addEventListener('change', () => this.callbacks.diffWith(this.compareSelect.value || null));
    diffRow.append(el('label', 'filter-label', 'Diff against'), this.compareSelect);
    this.flipsTable = el('div', 'flips');
    this.element.append(row, diffRow, this.flipsTable);
  }

  setCheckpoints(list: CheckpointInfo[], current: string | null, diffDir: string | null): void {
    this.checkpoints = [...list].sort((a, b) => a.step - b.step);
    this.current = current;
    this.slider.max = String(Math.max(0, this.checkpoints.length - 1));
    this.slider.disabled = this.checkpoints.length < 2;
    const choices = [{ dir: '', label: '(no diff)' }, ...this.checkpoints.map((c) => ({ dir: c.dir, label: `step ${formatInt(c.step)}` }))];
    select(this.compareSelect)
      .selectAll('option')
      .data(choices)
      .join('option')
      .text((c) => c.label)
      .attr('value', (c) => c.dir);
    this.compareSelect.value = diffDir ?? '';
    this.sync();
  }

  /** The checkpoint now shown (after its analysis arrived). */
  setCurrent(dir: string | null): void {
    this.current = dir;
    this.sync();
    if (this.playing) {
      clearTimeout(this.timer);
      this.timer = window.setTimeout(() => {
        if (!this.step(1)) this.setPlaying(false);
      }, PLAY_INTERVAL_MS);
    }
  }

  setStatus(text: string): void {
    this.status.textContent = text;
  }

  setFlips(rows: FlipSummary[] | null, against: string | null): void {
    if (!rows) {
      this.flipsTable.replaceChildren(el('p', 'hint', 'Pick a checkpoint to diff against: the heatmap then shows which mask bits flipped (m crossed 0.5).'));
      return;
    }
    const table = el('table', 'site-table');
    const head = el('tr');
    for (const h of ['site', 'switched on', 'switched off', 'flipped']) head.append(el('th', undefined, h));
    table.append(head);
    for (const r of rows) {
      const tr = el('tr');
      tr.append(el('td', 'site-name', r.label), el('td', 'num', formatInt(r.on)), el('td', 'num', formatInt(r.off)), el('td', 'num', `${formatValue((100 * (r.on + r.off)) / Math.max(1, r.cells))} %`));
      table.append(tr);
    }
    const legend = el('div', 'legend');
    legend.append(el('span', 'swatch diff-on'), el('span', undefined, 'switched on'), el('span', 'swatch diff-off'), el('span', undefined, 'switched off'), el('span', 'swatch diff-same'), el('span', undefined, 'on in both'));
    this.flipsTable.replaceChildren(el('p', 'muted', `From ${against ?? '?'} to the shown checkpoint:`), table, legend);
  }

  private index(): number {
    return this.checkpoints.findIndex((c) => c.dir === this.current);
  }

  private step(delta: number): boolean {
    const i = this.index();
    const next = i < 0 ? (delta > 0 ? 0 : this.checkpoints.length - 1) : i + delta;
    if (next < 0 || next >= this.checkpoints.length) return false;
    this.go(next);
    return true;
  }

  private go(i: number): void {
    const c = this.checkpoints[i];
    if (!c) return;
    this.label.textContent = `step ${formatInt(c.step)}`;
    this.callbacks.show(c.dir);
  }

  private setPlaying(playing: boolean): void {
    this.playing = playing;
    this.playButton.textContent = playing ? 'Pause' : 'Play';
    clearTimeout(this.timer);
    if (playing && !this.step(1)) this.go(0);
  }

  private sync(): void {
    const i = this.index();
    if (i >= 0) this.slider.value = String(i);
    const c = this.checkpoints[i];
    this.label.textContent = c
      ? `step ${formatInt(c.step)} (${i + 1}/${this.checkpoints.length})${c.valLoss !== null ? ` · val ${formatValue(c.valLoss)}` : ''}`
      : this.checkpoints.length
        ? `${this.checkpoints.length} checkpoints`
        : 'no checkpoints';
  }
}
