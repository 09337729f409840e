// Request/reply over a one-way message channel (a webview's postMessage): each request carries a
// fresh `requestId`, and the reply that carries the same id resolves the request's promise.
export class PendingRequests<Reply extends { requestId: number }> {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  /** Sends a request (built around the id given) and waits for its reply. */
  request(send: (requestId: number) => void): Promise<Reply> {
    const requestId = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(requestId, resolve);
      send(requestId);
    });
  }

  /** The handler of the replies: resolves the request the reply answers; false if none waits for it. */
  resolve(reply: Reply): boolean {
    const resolve = this.pending.get(reply.requestId);
    if (!resolve) return false;
    this.pending.delete(reply.requestId);
    resolve(reply);
    return true;
  }

  /** Requests still waiting for a reply. */
  get size(): number {
    return this.pending.size;
  }
}
