// Number formatting shared by tooltips, tables and axes.
import { format } from 'd3';

const short = format('.4~g');
const sci = format('.3~e');

/** Compact, but exact enough to read a loss off a tooltip. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return sci(v);
  return short(v);
}

/** Full precision (what the export writes). */
export function formatExact(v: number): string {
  return String(v);
}

const grouped = format(',d');

/** 12,345 (d3-format: toLocaleString costs ~25 ms on its first call). */
export function formatInt(v: number): string {
  return grouped(Math.round(v));
}
