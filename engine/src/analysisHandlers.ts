// The `analysis/*` requests (common/analysisWire.ts) on the engine's connection: open, summaries,
// slice and release over an AnalysisStore. Registered by server.ts.
import { type CancellationToken, type MessageConnection, ResponseError } from 'vscode-jsonrpc/node';
import * as W from '@common/analysisWire';
import { EngineErrorCode, type EngineErrorData } from '@common/protocol';
import { UnknownAnalysisError } from './analysisStore';
import type { EngineService } from './service/engineService';

type Handle = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => (...a: A) => Promise<R | ResponseError<EngineErrorData>>;
type Kind = 'string' | 'number' | 'boolean' | 'string[]' | 'object';

export interface AnalysisHandlerDeps {
  handle: Handle;
  check: (params: unknown, fields: Record<string, [Kind, boolean]>) => void;
  /** Owns the analysis store and the model cache (an open analysis leases its model). */
  service: EngineService;
}

export function registerAnalysisHandlers(conn: MessageConnection, deps: AnalysisHandlerDeps): void {
  const { handle, check, service } = deps;
  const store = service.analyses;
  // An id the store no longer holds is NotFound, with what to do about it.
  const known = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof UnknownAnalysisError) throw new ResponseError(EngineErrorCode.NotFound, e.message, { problems: [e.message] });
      throw e;
    }
  };
  const range: Record<string, [Kind, boolean]> = { id: ['string', true], from: ['number', true], to: ['number', true] };

  conn.onRequest(
    W.AnalysisOpen,
    handle(async (p: W.AnalysisOpenParams) => {
      check(p, { checkpoint: ['string', true], text: ['string', true], window: ['number', false], stride: ['number', false], first: ['object', false] });
      const first = p.first && Number.isFinite(p.first.start) && Number.isFinite(p.first.end) ? { start: p.first.start, end: p.first.end } : undefined;
      if (p.first && !first) throw new RangeError('first must be { start, end } with numeric UTF-16 offsets');
      return service.openAnalysis({ checkpoint: p.checkpoint, text: p.text, window: p.window, stride: p.stride, first });
    }),
  );

  conn.onRequest(
    W.AnalysisSummaries,
    handle(async (p: W.AnalysisRangeParams, _token: CancellationToken) => {
      check(p, { ...range });
      return known(() => store.summaries(p.id, p.from, p.to));
    }),
  );

  conn.onRequest(
    W.AnalysisSlice,
    handle(async (p: W.AnalysisSliceParams) => {
      check(p, { ...range, sites: ['string[]', false] });
      return known(() => store.slice(p.id, p.from, p.to, p.sites));
    }),
  );

  conn.onRequest(
    W.AnalysisRelease,
    handle(async (p: { id: string }) => {
      check(p, { id: ['string', true] });
      return { released: store.release(p.id) };
    }),
  );
}
