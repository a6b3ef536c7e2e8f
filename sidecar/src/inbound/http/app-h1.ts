// HTTP/1.1 requests to the local app, over undici's keep-alive pools (decision 0016): node:http's
// request and Agent were a quarter of the server sidecar's CPU per request.
import { createRequire } from 'node:module';
import { PassThrough, Readable } from 'node:stream';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';
import { BadRequestError } from '../../errors.js';
import { h1ResponseToH2 } from '../../pipeline/headers.js';
import { appH1Headers, appUnavailable } from './app-request.js';
import type { AppResponse, InboundRequest } from './types.js';

// Only undici's Agent and its HTTP/1.1 client, through dispatch(): undici's index (fetch, WebSocket,
// caches, the request API) costs 170 ms and ~8 MB at start-up, the Agent alone 25 ms and ~2 MB.
// The version is pinned, and these paths are tested by every HTTP/1.1 request the data-plane tests send.
const loadAgent = (): typeof UndiciAgent => createRequire(import.meta.url)('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;

// The answer's buffer pauses undici above HIGH and resumes it below LOW. Each resume re-reads all that
// waits in the socket and copies it into the parser, so pausing at every full chunk (the stream's own
// high-water mark) turned a full-duplex echo quadratic: 4.6 MB piled up in the socket, 10 s for 50 MB.
const ANSWER_BUFFER_LOW = 64 * 1024;
const ANSWER_BUFFER_HIGH = 4 * ANSWER_BUFFER_LOW;
const SMALL_BODY_BYTES = 64 * 1024;

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

  // For any request but an upgrade.
  request(req: InboundRequest, port: number): Promise<AppResponse> {
    const body = req.body;
    if (body === null) return this.send(req, port, null);
    // A small body of known length goes to the app in one write: streamed through undici, a 1 kB POST
    // cost the server sidecar ~25 % more CPU than through node:http.
    if (Number(req.headers['content-length']) <= SMALL_BODY_BYTES) return readSmallBody(body).then((bytes) => this.send(req, port, bytes));
    // undici destroys a stream body once it has sent it; the HTTP/2 stream is also where the answer
    // goes, so undici gets its own stream fed from it.
    const upload = body.pipe(new PassThrough());
    // undici fails it with its own error when the app fails; that failure reaches us in onResponseError.
    upload.on('error', () => undefined);
    return this.send(req, port, upload);
  }

  private send(req: InboundRequest, port: number, upload: Buffer | Readable | null): Promise<AppResponse> {
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
            highWaterMark: ANSWER_BUFFER_LOW,
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
          if (body === undefined) return;
          body.push(chunk);
          if (body.readableLength >= ANSWER_BUFFER_HIGH) c.pause();
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
        this.agent.dispatch({ origin: `http://${where}`, method: req.method, path: req.path, headers, body: upload }, handler);
      } catch (error) {
        fail(error as Error);
      }
    });
  }

  close(): void {
    void this.agent.destroy().catch(() => undefined);
  }
}

// The whole of a body the caller declared small; rejects if it stops short (the peer reset the stream).
function readSmallBody(body: Readable): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
    });
    body.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, bytes)));
    body.once('close', () => {
      if (!body.readableEnded) reject(new BadRequestError('inbound/app: the request body stopped before its end'));
    });
  });
}
