// Training runs as the user sees them: start/resume/stop, progress in the status bar (and in a
// cancellable notification when started from a command), one announcement of how the run ended,
// a run interrupted by an engine crash offered for resumption, a warning when masks get stuck,
// and the watched text streamed into the heatmap at every checkpoint.
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import * as P from '@common/protocol';
import type { EngineService } from '../engine/engineService';
import { describeEngineError } from '../engine/errors';
import type { EditLog, EditTracker } from '../heatmap/editTracker';
import type { HeatmapPainter } from '../heatmap/painter';
import { shiftRange } from '../heatmap/offsets';
import { readSettings, runsDirPath } from '../settings';
import { describeCompute, formatProgress, type ProgressSnapshot } from '../status/format';
import { TrainingStatusItem } from '../status/trainingStatus';
import { StuckWarnings } from './stuckWarning';

/** Above this, a watched document is cut to its visible lines (each checkpoint re-analyzes it). */
const WATCH_MAX_CHARS = 8000;

interface Watch {
  uri: vscode.Uri;
  docText: string;
  base: number;
  length: number;
  edits: EditLog;
  timer?: NodeJS.Timeout;
}

interface ActiveRun extends ProgressSnapshot {
  runId: string;
  runDir: string;
  watch?: Watch;
  ended: Promise<Exclude<P.RunStatus, 'running'>>;
  resolveEnded: (s: Exclude<P.RunStatus, 'running'>) => void;
  announced: boolean;
  /** Step of the run's first checkpoint; undefined once the run has one (resumed runs start with one). */
  firstCheckpointAt?: number;
  /** Resolves true at the run's first checkpoint, false when it ends without one. */
  firstCheckpoint: Promise<boolean>;
  resolveFirstCheckpoint: (landed: boolean) => void;
}

/** A training run that has no checkpoint yet (so nothing can be analyzed with it). */
export interface PendingCheckpoint {
  name: string;
  /** The step the first checkpoint is written at, and the step the run is at now. */
  atStep: number;
  step: number;
  /** True when the checkpoint lands, false when the run ends first. */
  landed: Promise<boolean>;
}

const LAST_RUN_KEY = 'ldlens.lastRun';

export class TrainingController implements vscode.Disposable {
  private active: ActiveRun | undefined;
  private readonly status = new TrainingStatusItem();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly metricEmitter = new vscode.EventEmitter<{ runId: string; runDir: string; record: P.MetricRecord }>();
  private readonly runsEmitter = new vscode.EventEmitter<void>();
  private readonly checkpointEmitter = new vscode.EventEmitter<P.CheckpointInfo>();
  private readonly watchEmitter = new vscode.EventEmitter<P.AnalysisResult>();
  readonly onMetric = this.metricEmitter.event;
  private readonly stuckWarnings = new StuckWarnings();
  /** A run started, ended or was interrupted: lists of runs are stale. */
  readonly onRunsChanged = this.runsEmitter.event;
  readonly onCheckpoint = this.checkpointEmitter.event;
  /** The watched text re-analyzed at a checkpoint (the Mask Explorer's live mode). */
  readonly onWatchAnalysis = this.watchEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly engine: EngineService,
    private readonly heatmap: HeatmapPainter,
    private readonly edits: EditTracker,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      this.status,
      this.metricEmitter,
      this.runsEmitter,
      this.checkpointEmitter,
      this.watchEmitter,
      engine.onNotification(P.TrainProgress, (p) => this.onProgress(p)),
      engine.onNotification(P.TrainMetric, (p) => {
        const run = this.active;
        if (run && run.runId === p.runId) this.metricEmitter.fire({ runId: p.runId, runDir: run.runDir, record: p.record });
        const stuck = run && run.runId === p.runId ? this.stuckWarnings.check(p.runId, run.name, p.record) : undefined;
        if (stuck) {
          this.log.warn(stuck);
          if (this.stuckWarnings.notify(p.runId))
            void vscode.window.showWarningMessage(stuck, 'Open Run Charts').then((a) => a && vscode.commands.executeCommand('ldlens.openRunCharts'));
        }
      }),
      engine.onNotification(P.TrainCheckpoint, (p) => {
        const run = this.active;
        if (run?.runId !== p.runId) return;
        run.firstCheckpointAt = undefined;
        this.log.info(`checkpoint at step ${p.checkpoint.step}: ${p.checkpoint.dir}`);
        void vscode.commands.executeCommand('setContext', 'ldlens.hasCheckpoint', true);
        this.checkpointEmitter.fire(p.checkpoint);
        run.resolveFirstCheckpoint(true);
      }),
      engine.onNotification(P.TrainEnded, (p) => this.onEnded(p)),
      engine.onNotification(P.TrainWatchAnalysis, (p) => this.onWatchAnalysisNotification(p.runId, p.analysis)),
      engine.onDidCrash((c) => {
        const run = this.active;
        if (!run) return;
        this.log.warn(`training run ${run.name} interrupted at step ${run.step}: ${c.message}`);
        this.finish(run, 'interrupted', c.message);
      }),
      vscode.workspace.onDidChangeTextDocument((e) => this.onWatchedEdit(e.document)),
    );
  }

  get training(): boolean {
    return !!this.active;
  }

  get activeRun(): { runId: string; runDir: string; name: string } | undefined {
    return this.active && { runId: this.active.runId, runDir: this.active.runDir, name: this.active.name };
  }

  /** The active run while its first checkpoint is still to come. */
  get pendingCheckpoint(): PendingCheckpoint | undefined {
    const run = this.active;
    if (!run || run.firstCheckpointAt === undefined) return undefined;
    return { name: run.name, atStep: run.firstCheckpointAt, step: run.step, landed: run.firstCheckpoint };
  }

  /** The run folder of the last run started here (for Resume and default analyses). */
  get lastRunDir(): string | undefined {
    return this.context.workspaceState.get<string>(LAST_RUN_KEY);
  }

  async start(params: Omit<P.TrainStartParams, 'runsDir' | 'watchText'>, fromCommand: boolean): Promise<boolean> {
    const runsDir = runsDirPath(this.context);
    fs.mkdirSync(runsDir, { recursive: true });
    const watch = this.captureWatch();
    const label = params.name ?? 'run';
    try {
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Starting training ${label}` }, () =>
        this.engine.request(P.TrainStart, { ...params, runsDir, ...(watch ? { watchText: watch.docText.slice(watch.base, watch.base + watch.length) } : {}) }),
      );
      this.begin(r, params.name ?? r.runId, watch, fromCommand, Math.min(r.config.train.checkpointInterval, r.config.train.steps));
      return true;
    } catch (e) {
      if (watch) this.edits.untrack(watch.edits);
      this.reportError(e, `Training ${label} could not start`);
      return false;
    }
  }

  async resume(runDir: string, steps: number | undefined, name: string, fromCommand: boolean): Promise<boolean> {
    const watch = this.captureWatch();
    try {
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Resuming ${name}` }, () =>
        this.engine.request(P.TrainResume, {
          runDir,
          ...(steps ? { steps } : {}),
          ...(watch ? { watchText: watch.docText.slice(watch.base, watch.base + watch.length) } : {}),
        }),
      );
      this.begin(r, name, watch, fromCommand);
      return true;
    } catch (e) {
      if (watch) this.edits.untrack(watch.edits);
      this.reportError(e, `Resuming ${name} failed`);
      return false;
    }
  }

  /** Follow a run written elsewhere (runs/follow): live here like a training; Stop stops following, not the run. */
  async follow(runDir: string, name: string): Promise<boolean> {
    try {
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Following ${name}` }, () => this.engine.request(P.RunFollow, { runDir }));
      this.begin(r, name, undefined, true);
      return true;
    } catch (e) {
      this.reportError(e, `Following ${name} failed`);
      return false;
    }
  }

  async stop(): Promise<void> {
    const run = this.active;
    if (!run) return;
    try {
      await this.engine.request(P.TrainStop, { runId: run.runId });
      this.log.info(`stop requested for ${run.name} at step ${run.step}`);
    } catch (e) {
      this.reportError(e, `Stopping ${run.name} failed`);
    }
  }

  private reportError(e: unknown, action: string): void {
    const d = describeEngineError(e, action);
    if (d.cancelled) return;
    this.log.error(d.message + (d.problems.length ? `\n  - ${d.problems.join('\n  - ')}` : ''));
    void vscode.window.showErrorMessage(d.message, 'Show Engine Log').then((a) => a && this.log.show(true));
  }

  /** The text streamed during training: the selection, else the active document (or its visible part). */
  private captureWatch(): Watch | undefined {
    if (!readSettings().watchEditor) return undefined;
    const ed = vscode.window.activeTextEditor;
    if (!ed || ed.document.getText().length === 0) return undefined;
    const doc = ed.document;
    const docText = doc.getText();
    let base = 0;
    let end = docText.length;
    if (!ed.selection.isEmpty) {
      base = doc.offsetAt(ed.selection.start);
      end = doc.offsetAt(ed.selection.end);
    } else if (docText.length > WATCH_MAX_CHARS && ed.visibleRanges.length) {
      base = doc.offsetAt(new vscode.Position(ed.visibleRanges[0].start.line, 0));
      end = Math.min(docText.length, base + WATCH_MAX_CHARS);
    }
    return { uri: doc.uri, docText, base, length: end - base, edits: this.edits.track(doc.uri) };
  }

  private begin(r: P.TrainStartResult, name: string, watch: Watch | undefined, fromCommand: boolean, firstCheckpointAt?: number): void {
    let resolveEnded!: (s: Exclude<P.RunStatus, 'running'>) => void;
    const ended = new Promise<Exclude<P.RunStatus, 'running'>>((res) => (resolveEnded = res));
    let resolveFirstCheckpoint!: (landed: boolean) => void;
    const firstCheckpoint = new Promise<boolean>((res) => (resolveFirstCheckpoint = res));
    const run: ActiveRun = {
      runId: r.runId,
      runDir: r.runDir,
      name,
      step: 0,
      totalSteps: r.config.train.steps,
      loss: null,
      tokensPerSec: null,
      etaSeconds: null,
      compute: describeCompute(this.engine.initializeResult),
      watch,
      ended,
      resolveEnded,
      announced: false,
      firstCheckpointAt,
      firstCheckpoint,
      resolveFirstCheckpoint,
    };
    this.active = run;
    void this.context.workspaceState.update(LAST_RUN_KEY, r.runDir);
    void vscode.commands.executeCommand('setContext', 'ldlens.training', true);
    this.log.info(
      `training ${name} (${r.runId}) in ${r.runDir}: ${r.model.nLayer} layers × ${r.model.nEmbd} wide, ${r.model.nHead} heads, block ${r.model.blockSize}, vocab ${r.model.vocabSize}; ${r.config.train.steps} steps`,
    );
    this.status.running(run);
    this.runsEmitter.fire();
    if (fromCommand) {
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Training ${name}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => void this.stop());
          let last = 0;
          const sub = this.onProgressInternal((p) => {
            if (p !== run) return;
            const pct = p.totalSteps ? (100 * p.step) / p.totalSteps : 0;
            progress.report({ message: formatProgress(p).short, increment: Math.max(0, pct - last) });
            last = pct;
          });
          try {
            await ended;
          } finally {
            sub.dispose();
          }
        },
      );
    }
  }

  private readonly progressInternal = new vscode.EventEmitter<ActiveRun>();
  private readonly onProgressInternal = this.progressInternal.event;

  private onProgress(p: P.TrainProgressParams): void {
    const run = this.active;
    if (!run || run.runId !== p.runId) return;
    run.step = p.step;
    run.totalSteps = p.totalSteps;
    run.loss = p.loss;
    run.tokensPerSec = p.tokensPerSec;
    run.etaSeconds = p.etaSeconds;
    this.status.running(run);
    this.progressInternal.fire(run);
  }

  private onEnded(p: P.TrainEndedParams): void {
    const run = this.active;
    if (!run || run.runId !== p.runId) return;
    run.step = p.step;
    this.finish(run, p.status, p.error);
  }

  /** The run is over (ended, stopped, failed, or its engine died): status, context, one announcement. */
  private finish(run: ActiveRun, status: Exclude<P.RunStatus, 'running'>, error?: string): void {
    if (this.active === run) this.active = undefined;
    void vscode.commands.executeCommand('setContext', 'ldlens.training', false);
    if (run.watch) {
      clearTimeout(run.watch.timer);
      this.edits.untrack(run.watch.edits);
    }
    this.status.ended(run, status, error);
    run.resolveEnded(status);
    run.resolveFirstCheckpoint(false);
    this.runsEmitter.fire();
    if (run.announced) return;
    run.announced = true;
    this.log.info(`run ${run.name} ${status} at step ${run.step}${error ? `: ${error}` : ''}`);
    const loss = run.loss === null ? '' : `, loss ${run.loss.toFixed(3)}`;
    const act = (a: string | undefined) => {
      if (a === 'Open Run Charts') void vscode.commands.executeCommand('ldlens.openRunCharts');
      if (a === 'Analyze Document') void vscode.commands.executeCommand('ldlens.analyzeDocument');
      if (a === 'Resume Training') void vscode.commands.executeCommand('ldlens.resumeTraining', { runDir: run.runDir });
      if (a === 'Show Engine Log') this.log.show(true);
    };
    switch (status) {
      case 'completed':
        void vscode.window.showInformationMessage(`Training ${run.name} finished: ${run.step} steps${loss}.`, 'Open Run Charts', 'Analyze Document').then(act);
        break;
      case 'stopped':
        void vscode.window.showInformationMessage(`Training ${run.name} stopped at step ${run.step}; Resume continues from its last checkpoint.`, 'Resume Training', 'Open Run Charts').then(act);
        break;
      case 'failed':
        void vscode.window.showErrorMessage(`Training ${run.name} failed at step ${run.step}: ${error ?? 'see the engine log'}`, 'Show Engine Log', 'Open Run Charts').then(act);
        break;
      case 'interrupted':
        void vscode.window
          .showWarningMessage(
            `Training ${run.name} was interrupted at step ${run.step}: the engine stopped. Resume continues from the last checkpoint; the metrics written so far are kept.`,
            'Resume Training',
            'Show Engine Log',
          )
          .then(act);
        break;
    }
  }

  private onWatchAnalysisNotification(runId: string, analysis: P.AnalysisResult): void {
    const run = this.active;
    const w = run?.watch;
    if (!run || run.runId !== runId) return;
    this.watchEmitter.fire(analysis);
    if (!w) return;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === w.uri.toString());
    if (!doc) return;
    this.heatmap.setAnalysis(doc, analysis, { docText: w.docText, base: w.base, kind: 'watch', edits: w.edits.edits, runDir: run.runDir });
  }

  /** After edits to the watched text settle, the run watches the new text. */
  private onWatchedEdit(doc: vscode.TextDocument): void {
    const run = this.active;
    const w = run?.watch;
    if (!run || !w || doc.uri.toString() !== w.uri.toString()) return;
    clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      const r = shiftRange(w.base, w.base + w.length, w.edits.edits);
      const docText = doc.getText();
      this.edits.untrack(w.edits);
      const next: Watch = { uri: w.uri, docText, base: r.start, length: r.end - r.start, edits: this.edits.track(doc.uri) };
      run.watch = next;
      this.engine.request(P.TrainWatch, { runId: run.runId, text: docText.slice(next.base, next.base + next.length) }).catch((e) => this.log.warn(describeEngineError(e, 'Updating the watched text failed').message));
    }, Math.max(500, readSettings().debounceMs));
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.progressInternal.dispose();
  }
}
