// Terminal inbound layer: the request to the local app (keep-alive HTTP/1.1, h2c, or an opaque TCP tunnel), streamed both ways.
import { request as httpRequest, type ClientRequest, type OutgoingHttpHeaders } from 'node:http';
import { AppUnavailableError, InternalError } from '../../errors.js';
import { h1ResponseToH2 } from '../../pipeline/headers.js';
import { appH1Headers, appUnavailable } from './app-request.js';
import type { AppResponse, InboundHandler, InboundRequest } from './types.js';
import type { H2AppSessions } from './app-h2.js';
import { connectApp } from './app-tcp.js';
import type { H1AppPool } from './app-h1.js';

export interface AppTarget {
  host: string;
  // The default app port; a request may name another declared one.
  port: number;
  // Every HTTP/1.1 request but upgrades (decision 0017, stage 3).
  h1: H1AppPool;
  h2: H2AppSessions;
}

export function appHandler(app: AppTarget): InboundHandler {
  return (req) => {
    const port = req.appPort ?? app.port;
    if (req.peerId === null && !req.plaintext) return Promise.reject(new InternalError('inbound/app: request reached the app without an authenticated peer'));
    if (req.upgrade === 'tcp') return connectApp(req, app.host, port);
    if (req.appProtocol === 'h2') return app.h2.request(req, port);
    if (req.upgrade === null) return app.h1.request(req, port);
    return upgradeApp(app, req, req.upgrade, port);
  };
}

// A WebSocket's HTTP/1.1 Upgrade, over node:http: the upgraded socket becomes the tunnel.
function upgradeApp(app: AppTarget, req: InboundRequest, protocol: string, port: number): Promise<AppResponse> {
  return new Promise<AppResponse>((resolve, reject) => {
    const where = `${app.host}:${port}`;
    const headers: OutgoingHttpHeaders = appH1Headers(req);
    headers['connection'] = 'Upgrade';
    headers['upgrade'] = protocol;
    let answered = false;
    let appReq: ClientRequest;
    try {
      appReq = httpRequest({
        host: app.host,
        port,
        method: req.method,
        path: req.path,
        headers,
        // An upgraded socket never goes back to a pool.
        agent: false,
      });
    } catch (error) {
      reject(new AppUnavailableError(`inbound/app: request cannot be sent to the app at ${where}: ${(error as Error).message}`));
      return;
    }
    const onAbort = (): void => {
      // The peer cancelled (timeout, caller gone): the app must see its request aborted, not keep working.
      appReq.destroy();
    };
    req.signal.addEventListener('abort', onAbort, { once: true });
    appReq.on('error', (error: NodeJS.ErrnoException) => {
      if (answered) return;
      answered = true;
      reject(appUnavailable(error, where));
    });
    appReq.once('close', () => req.signal.removeEventListener('abort', onAbort));
    appReq.once('response', (res) => {
      answered = true;
      const status = res.statusCode ?? 502;
      resolve({ headers: h1ResponseToH2(res.headers, status), body: res, tunnel: null, head: null });
    });
    appReq.once('upgrade', (res, socket, head) => {
      answered = true;
      // RFC 8441: the extended CONNECT succeeds with 200; the app's 101 headers ride along.
      resolve({ headers: h1ResponseToH2(res.headers, 200), body: socket, tunnel: socket, head });
    });
    // An upgrade comes as an extended CONNECT, which has no body: its bytes go through the tunnel.
    appReq.end();
  });
}
