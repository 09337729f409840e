// Owns the engine process: spawn, JSON-RPC over its stdio, an explicit lifecycle, restarts after
// crashes with a cap, graceful shutdown with a kill after a timeout, and cancellable requests.
// No `vscode` import: unit-tested under plain Node against a real child process.
//
//   stopped ──start()──▶ starting ──initialized──▶ running ──stop()──▶ stopping ──▶ stopped
//                          │  ▲                       │
//                          │  └──── crash, under cap ─┘
//                          └──── crash over cap, bad runtime, bad handshake ──▶ failed
//   failed ──start() (an explicit user restart clears the crash history)──▶ starting
//
// The restart cap follows vscode-languageclient's default error handler: a crash restarts the
// engine unless it already crashed `maxRestarts` times in the last `restartWindowMs`. An engine
// that stops answering (no reply to a `ping` within `pingTimeoutMs`) is killed and counts as a crash.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  type CancellationToken,
  type Disposable,
  Emitter,
  type Event,
  type MessageConnection,
  type NotificationType,
  type RequestType,
  type RequestType0,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
} from 'vscode-jsonrpc/node';
import * as P from '@common/protocol';

export type EngineState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface EngineLaunch {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface SupervisorOptions {
  /** How to start the engine; called for every (re)start, so settings changes apply. */
  launch: () => EngineLaunch | Promise<EngineLaunch>;
  /** Sent as `initialize`; called for every (re)start. */
  initializeParams: () => P.InitializeParams;
  /** Crashes tolerated within the window before giving up (default 4: the 5th crash is final). */
  maxRestarts?: number;
  restartWindowMs?: number;
  /** How long `initialize` may take (backend set-up included). */
  initializeTimeoutMs?: number;
  /** How long the engine gets to answer `shutdown` and exit before it is killed. */
  shutdownTimeoutMs?: number;
  /** Time between liveness pings of a running engine (0: none). */
  pingIntervalMs?: number;
  /**
   * How long a ping may go unanswered before the engine is taken for hung, killed and restarted.
   * Generous: a busy engine still answers between training steps and analysis batches.
   */
  pingTimeoutMs?: number;
  log?: (level: P.LogLevel, message: string) => void;
}

export interface StateChange {
  state: EngineState;
  previous: EngineState;
  /** Why: the crash, the failure, or the request that caused the change. */
  reason?: string;
}

export interface CrashInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  pid: number | undefined;
  /** The last lines the engine wrote to stderr. */
  stderrTail: string[];
  /** True when the supervisor restarts the engine; false when it gave up (state `failed`). */
  restarting: boolean;
  message: string;
}

/** A request that could not complete because the engine process went away. */
export class EngineExitedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineExitedError';
  }
}

/** A request given up by its caller (the UI's cancellation token). */
export class RequestCancelledError extends Error {
  constructor(method: string) {
    super(`${method} was cancelled`);
    this.name = 'RequestCancelledError';
  }
}

/** The engine is `failed` (or could not be started) and will not be restarted automatically. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineUnavailableError';
  }
}

interface Live {
  child: ChildProcess;
  connection: MessageConnection;
  exited: Promise<void>;
  /** Rejects the requests in flight on this connection when the process goes away. */
  gone: Promise<never>;
  rejectGone: (e: Error) => void;
  handlers: Disposable[];
  /** The pending ping timer; set to why it was killed when it stopped answering. */
  pingTimer?: NodeJS.Timeout;
  hung?: string;
}

const STDERR_TAIL = 40;

export class EngineSupervisor {
  private _state: EngineState = 'stopped';
  private live: Live | undefined;
  private starting: Promise<void> | undefined;
  private crashTimes: number[] = [];
  private failure: string | undefined;
  private stderrTail: string[] = [];
  private _initializeResult: P.InitializeResult | undefined;
  private readonly notificationHandlers = new Set<{ type: NotificationType<unknown>; handler: (p: unknown) => void }>();
  private disposed = false;

  private readonly stateEmitter = new Emitter<StateChange>();
  private readonly crashEmitter = new Emitter<CrashInfo>();
  private readonly startedEmitter = new Emitter<P.InitializeResult>();
  /** Every state transition. */
  readonly onDidChangeState: Event<StateChange> = this.stateEmitter.event;
  /** The engine process exited without being asked to. */
  readonly onDidCrash: Event<CrashInfo> = this.crashEmitter.event;
  /** A (re)started engine finished its handshake. */
  readonly onDidStart: Event<P.InitializeResult> = this.startedEmitter.event;

  private readonly maxRestarts: number;
  private readonly restartWindowMs: number;
  private readonly initializeTimeoutMs: number;
  private readonly shutdownTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;

  constructor(private readonly options: SupervisorOptions) {
    this.maxRestarts = options.maxRestarts ?? 4;
    this.restartWindowMs = options.restartWindowMs ?? 3 * 60_000;
    this.initializeTimeoutMs = options.initializeTimeoutMs ?? 60_000;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 3_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 20_000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 90_000;
  }

  get state(): EngineState {
    return this._state;
  }

  /** Why the engine is `failed`, if it is. */
  get failureReason(): string | undefined {
    return this.failure;
  }

  get initializeResult(): P.InitializeResult | undefined {
    return this._initializeResult;
  }

  get pid(): number | undefined {
    return this.live?.child.pid;
  }

  /** Starts the engine if it is not running; resolves once it answered `initialize`. */
  start(): Promise<void> {
    if (this.disposed) return Promise.reject(new EngineUnavailableError('The engine supervisor was disposed.'));
    if (this._state === 'running') return Promise.resolve();
    if (this.starting) return this.starting;
    if (this._state === 'failed') {
      // An explicit start after a failure: the user asked for it, so the crash history starts over.
      this.crashTimes = [];
      this.failure = undefined;
    }
    return this.launchStart();
  }

  /**
   * Runs doStart with `starting` set before anything else happens: listeners of the state events
   * it fires may send requests, and those must wait for this start rather than begin another.
   */
  private launchStart(): Promise<void> {
    const p: Promise<void> = Promise.resolve()
      .then(() => this.doStart())
      .finally(() => {
        if (this.starting === p) this.starting = undefined;
      });
    this.starting = p;
    return p;
  }

  private setState(state: EngineState, reason?: string): void {
    const previous = this._state;
    if (previous === state) return;
    this._state = state;
    this.log('debug', `engine: ${previous} → ${state}${reason ? ` (${reason})` : ''}`);
    this.stateEmitter.fire({ state, previous, reason });
  }

  private log(level: P.LogLevel, message: string): void {
    this.options.log?.(level, message);
  }

  private async doStart(): Promise<void> {
    // A stop in progress finishes first.
    while (this._state === 'stopping' && this.live) await this.live.exited;
    this.setState('starting');
    let launch: EngineLaunch;
    try {
      launch = await this.options.launch();
    } catch (e) {
      this.fail(`The engine could not be launched: ${errorMessage(e)}`);
      throw new EngineUnavailableError(this.failure!);
    }
    this.stderrTail = [];
    let child: ChildProcess;
    try {
      child = spawn(launch.command, launch.args, { cwd: launch.cwd, env: launch.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    } catch (e) {
      this.fail(`The engine runtime ${launch.command} could not be started: ${errorMessage(e)}`);
      throw new EngineUnavailableError(this.failure!);
    }
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (e) => reject(e));
    });
    try {
      await spawned;
    } catch (e) {
      this.fail(`The engine runtime ${launch.command} could not be started: ${errorMessage(e)}`);
      throw new EngineUnavailableError(this.failure!);
    }
    this.log('info', `engine started: pid ${child.pid}: ${launch.command} ${launch.args.join(' ')}`);

    const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!), {
      error: (m) => this.log('error', `rpc: ${m}`),
      warn: (m) => this.log('warn', `rpc: ${m}`),
      info: (m) => this.log('debug', `rpc: ${m}`),
      log: (m) => this.log('trace', `rpc: ${m}`),
    });
    let rejectGone!: (e: Error) => void;
    const gone = new Promise<never>((_, reject) => (rejectGone = reject));
    gone.catch(() => {});
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const live: Live = { child, connection, exited, gone, rejectGone, handlers: [] };
    this.live = live;

    let stderrBuf = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderrBuf += chunk;
      let nl: number;
      while ((nl = stderrBuf.indexOf('\n')) >= 0) {
        const line = stderrBuf.slice(0, nl).replace(/\r$/, '');
        stderrBuf = stderrBuf.slice(nl + 1);
        if (!line) continue;
        this.stderrTail.push(line);
        if (this.stderrTail.length > STDERR_TAIL) this.stderrTail.shift();
        this.log('info', `[engine stderr] ${line}`);
      }
    });
    child.stdin!.on('error', (e) => this.log('debug', `engine stdin: ${e.message}`));
    child.once('exit', (code, signal) => this.onExit(live, code, signal));

    live.handlers.push(connection.onNotification(P.Log, (p) => this.log(p.level, `[engine] ${p.message}`)));
    for (const h of this.notificationHandlers) live.handlers.push(connection.onNotification(h.type, h.handler));
    connection.onError(([e]) => this.log('warn', `rpc connection error: ${e.message}`));
    connection.listen();

    try {
      const params = this.options.initializeParams();
      const result = await this.withTimeout(
        Promise.race([connection.sendRequest(P.Initialize, params), gone]),
        this.initializeTimeoutMs,
        `the engine did not answer initialize within ${Math.round(this.initializeTimeoutMs / 1000)} s`,
      );
      if (result.protocolVersion !== P.PROTOCOL_VERSION) {
        throw new Error(`the engine speaks protocol ${result.protocolVersion}, this extension ${P.PROTOCOL_VERSION}; rebuild them together`);
      }
      this._initializeResult = result;
    } catch (e) {
      if (this.live !== live) throw e instanceof Error ? e : new Error(String(e));
      const message = `The engine failed its handshake: ${errorMessage(e)}`;
      this.fail(message);
      this.killNow(live);
      throw new EngineUnavailableError(message);
    }
    if (this.live !== live) throw new EngineExitedError('The engine exited while starting.');
    this.setState('running');
    this.schedulePing(live);
    this.startedEmitter.fire(this._initializeResult!);
  }

  /** Pings `live` after the interval; one that stays unanswered for pingTimeoutMs is killed. */
  private schedulePing(live: Live): void {
    if (this.pingIntervalMs <= 0) return;
    live.pingTimer = setTimeout(() => {
      if (this.live !== live || this._state !== 'running') return;
      const hang = setTimeout(() => {
        if (this.live !== live || live.hung) return;
        live.hung = `it did not answer a ping within ${Math.round(this.pingTimeoutMs / 1000)} s`;
        this.log('warn', `The engine (pid ${live.child.pid}) stopped answering: ${live.hung}; killing it`);
        this.killNow(live);
      }, this.pingTimeoutMs);
      hang.unref?.();
      live.pingTimer = hang;
      // Any answer, an error included (an older engine without `ping`), shows the engine reads its input.
      live.connection.sendRequest(P.Ping).then(
        () => this.pinged(live, hang),
        (e: unknown) => (e instanceof ResponseError ? this.pinged(live, hang) : undefined),
      );
    }, this.pingIntervalMs);
    live.pingTimer.unref?.();
  }

  private pinged(live: Live, hang: NodeJS.Timeout): void {
    clearTimeout(hang);
    if (this.live === live && !live.hung) this.schedulePing(live);
  }

  private fail(message: string): void {
    this.failure = message;
    this.log('error', message);
    this.setState('failed', message);
  }

  private onExit(live: Live, code: number | null, signal: NodeJS.Signals | null): void {
    clearTimeout(live.pingTimer);
    for (const h of live.handlers) h.dispose();
    live.connection.dispose();
    const tail = this.stderrTail.slice(-10);
    const how = live.hung ? `stopped answering (${live.hung})` : signal ? `was killed by ${signal}` : `exited with code ${code}`;
    live.rejectGone(new EngineExitedError(`The engine ${how}.`));
    if (this.live !== live) return;
    this.live = undefined;
    const planned = this._state === 'stopping' || this._state === 'failed' || this.disposed;
    if (planned) {
      if (this._state === 'stopping') this.setState('stopped', `engine ${how}`);
      return;
    }
    const now = Date.now();
    this.crashTimes = this.crashTimes.filter((t) => now - t < this.restartWindowMs);
    this.crashTimes.push(now);
    const restarting = this.crashTimes.length <= this.maxRestarts;
    const minutes = Math.round(this.restartWindowMs / 60_000);
    const message = restarting
      ? `The engine ${how} unexpectedly; restarting it (${this.crashTimes.length} of ${this.maxRestarts} restarts allowed within ${minutes} min).`
      : `The engine ${how} unexpectedly, ${this.crashTimes.length} times within ${minutes} min; it will not be restarted again. ` +
        `Run "LearnedDropout: Restart Engine" after looking at the engine log.` +
        (tail.length ? ` Last output: ${tail[tail.length - 1]}` : '');
    this.log(restarting ? 'warn' : 'error', message);
    if (restarting) {
      this.launchStart().catch((e) => this.log('error', `restart failed: ${errorMessage(e)}`));
      this.setState('starting', message);
    } else this.fail(message);
    this.crashEmitter.fire({ code, signal, pid: live.child.pid, stderrTail: tail, restarting, message });
  }

  /** Sends a request, starting the engine first if needed. Rejects when the engine exits or `token` is cancelled. */
  async request<R>(type: RequestType0<R, void>, token?: CancellationToken): Promise<R>;
  async request<Params, R>(type: RequestType<Params, R, void>, params: Params, token?: CancellationToken): Promise<R>;
  async request(type: RequestType<unknown, unknown, void> | RequestType0<unknown, void>, a?: unknown, b?: CancellationToken): Promise<unknown> {
    const is0 = type.numberOfParams === 0;
    const token = (is0 ? a : b) as CancellationToken | undefined;
    if (token?.isCancellationRequested) throw new RequestCancelledError(type.method);
    if (this._state === 'failed') throw new EngineUnavailableError(this.failure ?? 'The engine failed.');
    if (this._state !== 'running') await this.start();
    const live = this.live;
    if (!live) throw new EngineExitedError('The engine is not running.');
    const sent = is0
      ? live.connection.sendRequest(type as RequestType0<unknown, void>, token)
      : live.connection.sendRequest(type as RequestType<unknown, unknown, void>, a, token);
    const races: Promise<unknown>[] = [sent, live.gone];
    let sub: Disposable | undefined;
    if (token) {
      races.push(
        new Promise((_, reject) => {
          sub = token.onCancellationRequested(() => reject(new RequestCancelledError(type.method)));
        }),
      );
    }
    try {
      return await Promise.race(races);
    } catch (e) {
      if (e instanceof ResponseError && e.code === P.EngineErrorCode.Cancelled) throw new RequestCancelledError(type.method);
      throw e;
    } finally {
      sub?.dispose();
      sent.catch(() => {}); // a late rejection after a local cancel is expected
    }
  }

  /** Sends a notification if the engine is running (dropped otherwise). */
  notify<Params>(type: NotificationType<Params>, params: Params): void {
    void this.live?.connection.sendNotification(type, params).catch(() => {});
  }

  /** Registers a notification handler that survives restarts. */
  onNotification<Params>(type: NotificationType<Params>, handler: (params: Params) => void): Disposable {
    const entry = { type: type as NotificationType<unknown>, handler: handler as (p: unknown) => void };
    this.notificationHandlers.add(entry);
    const liveSub = this.live?.connection.onNotification(type, handler);
    if (liveSub) this.live!.handlers.push(liveSub);
    return {
      dispose: () => {
        this.notificationHandlers.delete(entry);
        liveSub?.dispose();
      },
    };
  }

  /** Asks the engine to shut down, then ends its stdin; kills it if it has not exited in time. */
  async stop(reason = 'stop requested'): Promise<void> {
    if (this.starting) await this.starting.catch(() => {});
    const live = this.live;
    if (!live) {
      if (this._state !== 'failed') this.setState('stopped', reason);
      return;
    }
    this.setState('stopping', reason);
    clearTimeout(live.pingTimer);
    const deadline = Date.now() + this.shutdownTimeoutMs;
    try {
      await this.withTimeout(Promise.race([live.connection.sendRequest(P.Shutdown), live.gone]), this.shutdownTimeoutMs, 'no answer to shutdown');
    } catch (e) {
      this.log('debug', `shutdown: ${errorMessage(e)}`);
    }
    try {
      live.child.stdin?.end();
    } catch {
      /* already closed */
    }
    const left = Math.max(200, deadline - Date.now());
    const exitedInTime = await Promise.race([live.exited.then(() => true), delay(left).then(() => false)]);
    if (!exitedInTime) {
      this.log('warn', `the engine (pid ${live.child.pid}) did not exit within ${this.shutdownTimeoutMs} ms of shutdown; killing it`);
      this.killNow(live);
      await Promise.race([live.exited, delay(2_000)]);
    }
    if (this.live === live) {
      // No exit event yet (a kill that did not take): forget it anyway.
      this.live = undefined;
      live.connection.dispose();
      this.setState('stopped', reason);
    }
  }

  /** Stops (if running) and starts again; clears the crash history. */
  async restart(): Promise<void> {
    await this.stop('restart requested');
    this.crashTimes = [];
    this.failure = undefined;
    if (this._state === 'failed') this._state = 'stopped';
    await this.start();
  }

  private killNow(live: Live): void {
    try {
      live.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.stop('extension deactivated');
    this.disposed = true;
    this.stateEmitter.dispose();
    this.crashEmitter.dispose();
    this.startedEmitter.dispose();
  }

  private withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
      timer.unref?.();
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    t.unref?.();
  });
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
