// The webview's side of the boundary: posting typed messages, receiving them through a typed
// handler map, and the view state VS Code keeps while the panel is hidden.
import { dispatch, type Handlers, type Message, type ViewError } from '@common/webviewProtocol';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export interface Channel<Out extends Message, S> {
  post(message: Out): void;
  getState(): Partial<S>;
  setState(state: S): void;
}

/**
 * Connects a view: routes host messages to `handlers`, reports uncaught errors to the host, and
 * returns the typed sender. Call once; send `ready` after the handlers can run.
 */
export function connect<In extends Message, Out extends Message, S>(handlers: Handlers<In>): Channel<Out | ViewError, S> {
  const api = acquireVsCodeApi();
  const report = (error: unknown): void => {
    const e = error instanceof Error ? error : new Error(String(error));
    api.postMessage({ type: 'error', message: e.message, stack: e.stack } satisfies ViewError);
  };
  window.addEventListener('message', (event: MessageEvent) => {
    if (!dispatch(handlers, event.data, report)) console.warn('ldlens: ignored message', event.data);
  });
  window.addEventListener('error', (event) => report(event.error ?? event.message));
  window.addEventListener('unhandledrejection', (event) => report(event.reason));
  return {
    post: (message) => api.postMessage(message),
    getState: () => (api.getState() as Partial<S> | undefined) ?? {},
    setState: (state) => api.setState(state),
  };
}
