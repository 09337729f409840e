// Turning whatever a request rejected with into one message a person can act on. No `vscode`
// import: unit-tested under plain Node.
import { ResponseError } from 'vscode-jsonrpc';
import { type EngineErrorData, EngineErrorCode } from '@common/protocol';
import { EngineExitedError, EngineUnavailableError, RequestCancelledError } from './supervisor';

export type EngineErrorKind =
  | 'invalidConfig'
  | 'badInput'
  | 'corruptCheckpoint'
  | 'notFound'
  | 'busy'
  | 'backend'
  | 'cancelled'
  | 'engineExited'
  | 'engineUnavailable'
  | 'protocol'
  | 'unknown';

export interface DescribedError {
  kind: EngineErrorKind;
  /** One sentence, starting with what failed (`action`). */
  message: string;
  /** Every problem the engine listed (e.g. each invalid config key). */
  problems: string[];
  path?: string;
  cancelled: boolean;
}

const KIND_BY_CODE = new Map<number, EngineErrorKind>([
  [EngineErrorCode.InvalidConfig, 'invalidConfig'],
  [EngineErrorCode.BadInput, 'badInput'],
  [EngineErrorCode.CorruptCheckpoint, 'corruptCheckpoint'],
  [EngineErrorCode.NotFound, 'notFound'],
  [EngineErrorCode.Busy, 'busy'],
  [EngineErrorCode.Backend, 'backend'],
  [EngineErrorCode.Cancelled, 'cancelled'],
]);

const HINT: Partial<Record<EngineErrorKind, string>> = {
  invalidConfig: 'Fix the configuration (settings `ldlens.training.*` or the config file) and try again.',
  corruptCheckpoint: 'Pick another checkpoint with "LearnedDropout: Select Checkpoint".',
  notFound: 'Check the path, or pick a checkpoint with "LearnedDropout: Select Checkpoint".',
  busy: 'Wait for the current run to finish or stop it with "LearnedDropout: Stop Training".',
  backend: 'Choose another backend in the setting `ldlens.engine.backend`, or see "LearnedDropout: Show Engine Log".',
  engineExited: 'See "LearnedDropout: Show Engine Log".',
};

function isEngineErrorData(d: unknown): d is EngineErrorData {
  return typeof d === 'object' && d !== null;
}

/** `action` is what was being done, e.g. "Training could not start". */
export function describeEngineError(e: unknown, action: string): DescribedError {
  if (e instanceof RequestCancelledError) return { kind: 'cancelled', message: `${action}: cancelled.`, problems: [], cancelled: true };
  if (e instanceof EngineExitedError) return { kind: 'engineExited', message: `${action}: ${e.message} ${HINT.engineExited}`, problems: [], cancelled: false };
  if (e instanceof EngineUnavailableError) return { kind: 'engineUnavailable', message: `${action}: ${e.message}`, problems: [], cancelled: false };
  if (e instanceof ResponseError) {
    // An internal error (-32603) is the engine failing at the task, with its real cause in the
    // message: not a protocol disagreement.
    const kind = KIND_BY_CODE.get(e.code) ?? (e.code <= -32600 && e.code >= -32700 && e.code !== -32603 ? 'protocol' : 'unknown');
    if (kind === 'cancelled') return { kind, message: `${action}: cancelled.`, problems: [], cancelled: true };
    const data = isEngineErrorData(e.data) ? e.data : {};
    const problems = Array.isArray(data.problems) ? data.problems.filter((p): p is string => typeof p === 'string') : [];
    const path = typeof data.path === 'string' ? data.path : undefined;
    let message = `${action}: ${e.message.replace(/\.$/, '')}`;
    if (path && !e.message.includes(path)) message += ` (${path})`;
    if (problems.length && !problems.every((p) => e.message.includes(p))) message += `: ${problems.join('; ')}`;
    message += '.';
    if (kind === 'protocol') message += ' The extension and the engine disagree about the protocol; rebuild them together.';
    else if (HINT[kind]) message += ` ${HINT[kind]}`;
    return { kind, message, problems, path, cancelled: false };
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { kind: 'unknown', message: `${action}: ${msg}`, problems: [], cancelled: false };
}
