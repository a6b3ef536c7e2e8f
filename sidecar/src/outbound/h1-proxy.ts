// The app's HTTP/1.1 side of the outbound proxy: request target in, peer's answer (or a MeshError) out.
import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from '@tsmesh/proto';
import { BadRequestError, toMeshError } from '../errors.js';
import type { RequestHead } from '../transport/http1-head.js';
import type { H1Answer } from './h1-answer.js';
import type { H1Exchange } from './h1-connection.js';
import { APP_PORT_HEADER, APP_PROTOCOL_HEADER, h1RequestToH2, isHopByHop } from '../pipeline/headers.js';
import { createOutboundRequest, streamBody, type OutboundHandler, type OutboundRequest, type UpstreamResponse } from './http/types.js';
import type { TransparentTarget } from './transparent.js';
import { MuxStream } from '../transport/mux/stream.js';
import { headerBag } from '../transport/header-bag.js';

export interface RequestTarget {
  authority: string;
  path: string;
}

// Absolute-form (the app uses us as HTTP_PROXY) wins over Host, as RFC 9112 3.2.2 requires of proxies.
export function requestTarget(url: string, host: string | undefined): RequestTarget | string {
  if (url.charCodeAt(0) === 47 /* '/' */) return { authority: host ?? '', path: url };
  if (url.startsWith('http://')) {
    const rest = url.slice(7);
    let end = rest.length;
    for (let i = 0; i < rest.length; i++) {
      const c = rest.charCodeAt(i);
      if (c === 47 || c === 63 /* '/' '?' */) {
        end = i;
        break;
      }
    }
    const path = rest.slice(end);
    return { authority: rest.slice(0, end), path: path === '' ? '/' : path.charCodeAt(0) === 63 ? `/${path}` : path };
  }
  if (url.startsWith('https://')) return 'an https:// target must be tunnelled with CONNECT, which the mesh does not carry; send plain http://';
  if (url === '*') return 'OPTIONS * cannot be proxied to a mesh service';
  return `request target "${url.slice(0, 200)}" is neither origin-form nor absolute http:// form`;
}

// Returns the pipeline request, or a 400 error if the target cannot be read. transparent: where an intercepted connection was dialled.
export function toOutboundRequest(head: RequestHead, body: Readable | null, upgrade: 'websocket' | null, transparent?: TransparentTarget): OutboundRequest | BadRequestError {
  const headers = headerBag<OutgoingHttpHeaders>();
  const host = h1RequestToH2(head.rawHeaders, headers);
  delete headers[APP_PORT_HEADER];
  delete headers[APP_PROTOCOL_HEADER];
  const target = requestTarget(head.target, host ?? transparent?.address);
  if (typeof target === 'string') return new BadRequestError(`outbound/target: ${target}`);
  const request = createOutboundRequest({ method: head.method, authority: target.authority, path: target.path, headers, body, upgrade });
  if (transparent) {
    request.service = transparent.service;
    request.appPort = transparent.port;
    request.pinnedNodeId = transparent.nodeId;
  }
  return request;
}

export function proxyHttp1(handler: OutboundHandler, exchange: H1Exchange, logger: Logger, transparent?: TransparentTarget): void {
  const answer = exchange.answer;
  const request = toOutboundRequest(exchange.head, exchange.body, null, transparent);
  if (request instanceof BadRequestError) {
    exchange.body?.destroy();
    answer.fail(request);
    return;
  }
  // The app hung up before the whole answer went out: stop the peer's work as well.
  answer.whenAborted(() => request.cancel(new BadRequestError('outbound/listener: the app closed the connection before the response completed')));
  handler(request).then(
    (upstream) => writeUpstream(answer, upstream),
    (error: unknown) => {
      const meshError = toMeshError(error, 'outbound');
      if (meshError.status >= 500) logger.debug('outbound request failed', { code: meshError.code, reason: meshError.message });
      answer.fail(meshError);
    },
  );
}

function writeUpstream(answer: H1Answer, upstream: UpstreamResponse): void {
  if (answer.aborted) {
    upstream.body.destroy();
    return;
  }
  // Nearly every small answer has all come with its head: written at once, without a flowing stream.
  const whole = upstream.body instanceof MuxStream ? upstream.body.readWhole() : null;
  if (whole !== null) return answer.writeWhole(upstream.status, upstream.headers, isHopByHop, whole);
  const body = streamBody(upstream.body);
  answer.writeHead(upstream.status, upstream.headers, isHopByHop);
  const resume = (): void => {
    body.resume();
  };
  body.on('data', (chunk: Buffer) => {
    if (!answer.write(chunk)) {
      body.pause();
      answer.whenDrained(resume);
    }
  });
  // 'end' and 'close' come once each: on() without once()'s wrapper per request.
  body.on('end', () => answer.end());
  body.on('close', () => {
    // The peer's stream ended without END_STREAM (reset, timeout): a truncated body must look truncated.
    if (!body.readableEnded) answer.destroy();
  });
}
