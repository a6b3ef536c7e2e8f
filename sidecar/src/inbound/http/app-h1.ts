// HTTP/1.1 requests without a body to the local app, over undici's keep-alive pools (decision 0016):
// node:http's request and Agent were a quarter of the server sidecar's CPU per request.
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import { h1ResponseToH2 } from '../../pipeline/headers.js';
import { appH1Headers, appUnavailable } from './app-request.js';
import type { AppResponse, InboundRequest } from './types.js';

// Only undici's Agent and its HTTP/1.1 client, through dispatch(): undici's index (fetch, WebSocket,
// caches, the request API) costs 170 ms and ~8 MB at start-up, the Agent alone 25 ms and ~2 MB.
// The version is pinned, and these paths are tested by every request without a body.
const loadAgent = (): typeof UndiciAgent => createRequire(import.meta.url)('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;

export class H1AppPool {
  private readonly agent: UndiciAgent;

  // idleTimeoutMs: below the app's keep-alive timeout, so the app never closes a connection we are about to reuse.
  constructor(
    private readonly host: string,
    idleTimeoutMs: number,
  ) {
    const Agent = loadAgent();
    this.agent = new Agent({
      keepAliveTimeout: idleTimeoutMs,
      keepAliveMaxTimeout: idleTimeoutMs,
      // The route's timeouts decide how long a request may take, as with every other hop; undici's own
      // defaults (300 s for headers, 300 s between body chunks) would cut long polls and slow streams.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  // For a request without a body (req.body null) that is not an upgrade.
  request(req: InboundRequest, port: number): Promise<AppResponse> {
    const where = `${this.host}:${port}`;
    const headers = appH1Headers(req);
    return new Promise<AppResponse>((resolve, reject) => {
      const signal = req.signal;
      let controller: Dispatcher.DispatchController | undefined;
      let body: Readable | undefined;
      // Set once undici has finished with the request, by the end of the answer or by a failure.
      let settled = false;
      // The peer cancelled (timeout, caller gone): the app must see its request aborted, not keep working.
      const onCancel = (): void => controller?.abort(new Error('the peer cancelled the request'));
      const fail = (error: Error & { code?: string }): void => {
        settled = true;
        signal.removeEventListener('abort', onCancel);
        // Mid-answer, the body closes without ending: the relay resets the caller's stream. No 'error'
        // event: nobody listens for one on an answer body, and an unheard one would crash the sidecar.
        if (body) body.destroy();
        else reject(appUnavailable(error, where));
      };
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (c) => {
          controller = c;
          if (signal.aborted) onCancel();
        },
        onResponseStart: (c, statusCode, responseHeaders) => {
          if (statusCode < 200) return;
          body = new Readable({
            read: () => c.resume(),
            destroy: (error, callback) => {
              // Whoever reads the answer stopped early (the peer reset the stream): stop the app's work too.
              if (!settled) c.abort(error ?? new Error('the answer was dropped before it ended'));
              callback(error);
            },
          });
          resolve({ headers: h1ResponseToH2(responseHeaders, { ':status': statusCode }), body, tunnel: null, head: null });
        },
        onResponseData: (c, chunk) => {
          if (body && !body.push(chunk)) c.pause();
        },
        onResponseEnd: () => {
          settled = true;
          signal.removeEventListener('abort', onCancel);
          body?.push(null);
        },
        onResponseError: (_c, error) => fail(error),
      };
      signal.addEventListener('abort', onCancel);
      try {
        this.agent.dispatch({ origin: `http://${where}`, method: req.method, path: req.path, headers, body: null }, handler);
      } catch (error) {
        fail(error as Error);
      }
    });
  }

  close(): void {
    void this.agent.destroy().catch(() => undefined);
  }
}
