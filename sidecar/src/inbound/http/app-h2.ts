// The local app over h2c (HTTP/2 prior knowledge, e.g. gRPC): one multiplexed session per app port, trailers kept.
import { connect, constants as h2c, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { AppUnavailableError } from '../../errors.js';
import { PEER_IDENTITY_HEADER } from '../../pipeline/headers.js';
import type { AppResponse, InboundRequest } from './types.js';
import { appUnavailable } from './app-request.js';
import { headerBag } from '../../transport/header-bag.js';

const IDLE_MS = 4_000;

export class H2AppSessions {
  private readonly sessions = new Map<number, ClientHttp2Session>();

  constructor(private readonly host: string) {}

  private session(port: number): ClientHttp2Session {
    const existing = this.sessions.get(port);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const session = connect(`http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${port}`);
    session.on('error', () => undefined);
    session.once('close', () => {
      if (this.sessions.get(port) === session) this.sessions.delete(port);
    });
    session.setTimeout(IDLE_MS, () => session.close());
    session.unref();
    this.sessions.set(port, session);
    return session;
  }

  request(req: InboundRequest, port: number): Promise<AppResponse> {
    // appHandler has already refused a request without an authenticated peer.
    return new Promise<AppResponse>((resolve, reject) => {
      const where = `${this.host}:${port}`;
      const headers = headerBag<OutgoingHttpHeaders>();
      for (const name in req.headers) {
        if (name === PEER_IDENTITY_HEADER || name === ':scheme') continue;
        const value = req.headers[name];
        if (value !== undefined) headers[name] = value;
      }
      headers[':scheme'] = 'http';
      if (req.peerId !== null) headers[PEER_IDENTITY_HEADER] = req.peerId;
      let stream;
      try {
        stream = this.session(port).request(headers, { endStream: req.body === null });
      } catch (error) {
        reject(new AppUnavailableError(`inbound/app: cannot open an HTTP/2 stream to the app at ${where}: ${(error as Error).message}`));
        return;
      }
      let answered = false;
      const onAbort = (): void => {
        if (!stream.closed) stream.close(h2c.NGHTTP2_CANCEL);
      };
      req.signal.addEventListener('abort', onAbort, { once: true });
      stream.on('error', (error: NodeJS.ErrnoException) => {
        if (answered) return;
        answered = true;
        reject(appUnavailable(error, `${where} (h2c)`));
      });
      stream.once('close', () => {
        req.signal.removeEventListener('abort', onAbort);
        if (answered) return;
        answered = true;
        reject(new AppUnavailableError(`inbound/app: the app at ${where} reset the stream before answering (h2c)`));
      });
      stream.once('response', (responseHeaders, flags: number) => {
        answered = true;
        const out = headerBag<OutgoingHttpHeaders>();
        for (const name in responseHeaders) {
          const value = responseHeaders[name];
          if (value !== undefined) out[name] = value;
        }
        resolve({ headers: out, body: stream, tunnel: null, head: null, withTrailers: true, headersOnly: (flags & h2c.NGHTTP2_FLAG_END_STREAM) !== 0 });
      });
      if (req.body !== null) req.body.pipe(stream);
    });
  }

  close(): void {
    for (const session of this.sessions.values()) session.destroy();
    this.sessions.clear();
  }
}
