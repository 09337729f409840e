// Text of training progress (status bar, notification). No `vscode` import: unit-tested.

export interface ProgressSnapshot {
  name: string;
  step: number;
  totalSteps: number;
  loss: number | null;
  tokensPerSec: number | null;
  etaSeconds: number | null;
  /** The engine's compute backend, as describeCompute() puts it. */
  compute?: string;
}

/**
 * The backend the engine runs on and how, for tooltips: "wasm (1 thread; native kernels: OpenBLAS
 * 0.3.21, 2 threads)". The engine's report says why it chose it; only the how is kept.
 */
export function describeCompute(r: { backend: string; attempts: { name: string; ok: boolean; reason: string }[] } | undefined): string | undefined {
  if (!r) return undefined;
  const how = (r.attempts.find((a) => a.ok && a.name === r.backend)?.reason ?? '')
    .split('; ')
    .filter((part) => !/^(first backend in the auto order that works|requested)$/.test(part))
    .join('; ');
  return how ? `${r.backend} (${how})` : r.backend;
}

export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n));
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '–';
  s = Math.round(s);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatProgress(p: ProgressSnapshot): { steps: string; short: string; long: string } {
  const steps = `${p.step}/${p.totalSteps}`;
  const loss = p.loss === null || !Number.isFinite(p.loss) ? null : p.loss.toFixed(3);
  const tps = p.tokensPerSec === null ? null : `${formatCount(p.tokensPerSec)} tok/s`;
  const short = [steps, loss && `loss ${loss}`, tps].filter(Boolean).join(' · ');
  const long = [
    `Step ${p.step} of ${p.totalSteps} (${p.totalSteps ? Math.floor((100 * p.step) / p.totalSteps) : 0}%)`,
    loss && `loss ${loss}`,
    tps,
    p.etaSeconds !== null && p.step < p.totalSteps ? `about ${formatDuration(p.etaSeconds)} left` : null,
  ]
    .filter(Boolean)
    .join(' · ');
  return { steps, short, long };
}
