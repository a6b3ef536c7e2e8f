// Scenario R, the raw floor: one half of a pair that uses neither node:http nor node:http2, to show what a Node
// sidecar can reach when it frames the bytes itself. HTTP/1.1 is parsed by hand at both edges (only as far as
// framing needs: where the head ends, Content-Length, chunked, HEAD/204/304), and every request and answer
// crosses ONE mTLS connection between the halves as frames [u32 stream id][u32 length, top bit END][bytes],
// their writes coalesced per tick. No routing, retries, timeouts, policy, metrics or tracing, and no per-stream
// flow control (a slow reader would buffer without bound): an optimistic floor, not a design to ship as is.
//   --role client  plain HTTP/1.1 in on --listen, frames over one mTLS connection to --target-port
//   --role server  frames over mTLS in on --listen (client certificate required), keep-alive HTTP/1.1 to --target-port
import net from 'node:net';
import tls from 'node:tls';
import { CLIENT_ID, SERVER_ID, TLS_VERSIONS, hasUri, proxyHalfArgs } from './proxy-half.mjs';

const { role, listenPort, targetPort, ca, keyPair } = proxyHalfArgs();
const HEAD_END = Buffer.from('\r\n\r\n');
const END = 0x80000000;
const EMPTY = Buffer.alloc(0);

// Splits a byte stream into HTTP/1.1 messages: h.onHead(head, info), h.onBody(bytes)..., h.onEnd(). For answers,
// h.noBody() says whether the request was HEAD. Set paused to hold the next message (requests wait for answers).
class MessageFramer {
  constructor(isAnswer, h) {
    this.isAnswer = isAnswer;
    this.h = h;
    this.pending = null;
    this.paused = false;
    this.state = 'head';
    this.left = 0;
  }

  push(chunk) {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let pos = 0;
    while (pos < buf.length) {
      if (this.paused) break;
      if (this.state === 'head') {
        const end = buf.indexOf(HEAD_END, pos);
        if (end < 0) break;
        const info = readHead(buf.latin1Slice(pos, end));
        this.h.onHead(buf.subarray(pos, end + 4), info);
        pos = end + 4;
        const bodiless = this.isAnswer ? this.h.noBody() || info.status === 204 || info.status === 304 || info.status < 200 : !info.chunked && info.length <= 0;
        if (bodiless || (!info.chunked && info.length === 0)) this.h.onEnd();
        else if (info.chunked) [this.state, this.left] = ['chunked', 0];
        else if (info.length > 0) [this.state, this.left] = ['length', info.length];
        else this.state = 'until-close';
      } else if (this.state === 'length' || (this.state === 'chunked' && this.left > 0)) {
        const n = Math.min(this.left, buf.length - pos);
        this.h.onBody(buf.subarray(pos, pos + n));
        pos += n;
        this.left -= n;
        if (this.left === 0 && this.state === 'length') {
          this.state = 'head';
          this.h.onEnd();
        }
      } else if (this.state === 'until-close') {
        this.h.onBody(buf.subarray(pos));
        pos = buf.length;
      } else {
        // chunked, at a size line: pass it and its data (and the data's CRLF); size 0 ends at the blank line after trailers.
        const eol = buf.indexOf('\r\n', pos);
        if (eol < 0) break;
        const size = parseInt(buf.latin1Slice(pos, eol), 16);
        if (size > 0) {
          this.h.onBody(buf.subarray(pos, eol + 2));
          pos = eol + 2;
          this.left = size + 2;
          continue;
        }
        const last = buf.indexOf(HEAD_END, eol - 2);
        if (last < 0) break;
        this.h.onBody(buf.subarray(pos, last + 4));
        pos = last + 4;
        this.state = 'head';
        this.h.onEnd();
      }
    }
    if (pos < buf.length) this.pending = buf.subarray(pos);
  }

  resume() {
    this.paused = false;
    if (this.pending) {
      const rest = this.pending;
      this.pending = null;
      this.push(rest);
    }
  }
}

function readHead(text) {
  const info = { status: 0, length: -1, chunked: false, close: false, head: false };
  let i = text.indexOf('\r\n');
  const first = i < 0 ? text : text.slice(0, i);
  if (first.startsWith('HTTP/')) info.status = Number(first.slice(9, 12));
  else info.head = first.startsWith('HEAD ');
  while (i >= 0) {
    const next = text.indexOf('\r\n', i + 2);
    const line = next < 0 ? text.slice(i + 2) : text.slice(i + 2, next);
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (name === 'content-length') info.length = Number(line.slice(colon + 1).trim());
    else if (name === 'transfer-encoding') info.chunked = /chunked/i.test(line);
    else if (name === 'connection') info.close = /close/i.test(line);
    i = next;
  }
  return info;
}

function frameHeader(id, length, end) {
  const h = Buffer.allocUnsafe(8);
  h.writeUInt32BE(id, 0);
  h.writeUInt32BE((length | (end ? END : 0)) >>> 0, 4);
  return h;
}

// Returns cork(): the socket stays corked until the end of the tick, so one write carries all of it.
function tickCorker(socket) {
  let corked = false;
  return () => {
    if (corked) return;
    corked = true;
    socket.cork();
    process.nextTick(() => {
      corked = false;
      socket.uncork();
    });
  };
}

// Frames out on the shared connection, coalesced per tick.
function frameWriter(socket) {
  const cork = tickCorker(socket);
  return (id, payload, end) => {
    cork();
    socket.write(frameHeader(id, payload.length, end));
    if (payload.length > 0) socket.write(payload);
  };
}

function frameReader(onFrame) {
  let pending = null;
  return (chunk) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    let pos = 0;
    while (buf.length - pos >= 8) {
      const id = buf.readUInt32BE(pos);
      const word = buf.readUInt32BE(pos + 4);
      const length = word & 0x7fffffff;
      if (buf.length - pos - 8 < length) break;
      onFrame(id, buf.subarray(pos + 8, pos + 8 + length), (word & END) !== 0);
      pos += 8 + length;
    }
    if (pos < buf.length) pending = buf.subarray(pos);
  };
}

let server;
if (role === 'client') {
  const options = { ca, ...keyPair('client'), ...TLS_VERSIONS, host: '127.0.0.1', port: targetPort, checkServerIdentity: (_host, cert) => (hasUri(cert, SERVER_ID) ? undefined : new Error(`peer is not ${SERVER_ID}`)) };
  const streams = new Map();
  let nextId = 1;
  let peer;
  let send;
  // One connection, replaced when it goes away; the requests it carried fail with it.
  const peerConnection = () => {
    if (peer && !peer.destroyed) return;
    peer = tls.connect(options);
    peer.setNoDelay(true);
    send = frameWriter(peer);
    peer.on('data', frameReader((id, payload, end) => streams.get(id)?.onFrame(payload, end)));
    peer.on('error', () => undefined);
    peer.on('close', () => {
      for (const stream of streams.values()) stream.fail();
      streams.clear();
    });
  };
  server = net.createServer((app) => {
    app.setNoDelay(true);
    app.on('error', () => undefined);
    let id = 0;
    const cork = tickCorker(app);
    const stream = {
      onFrame(payload, end) {
        cork();
        if (payload.length > 0) app.write(payload);
        if (end) {
          streams.delete(id);
          requests.resume();
        }
      },
      fail: () => app.destroy(),
    };
    const requests = new MessageFramer(false, {
      onHead(head) {
        peerConnection();
        id = nextId;
        nextId += 2;
        streams.set(id, stream);
        send(id, head, false);
      },
      onBody: (bytes) => send(id, bytes, false),
      onEnd() {
        send(id, EMPTY, true);
        requests.paused = true;
      },
    });
    app.on('data', (chunk) => requests.push(chunk));
  });
} else if (role === 'server') {
  const idle = [];
  // Keep-alive connections to the app, one answer at a time each; conn.current is the stream it answers.
  const appConnection = () => {
    const conn = idle.pop();
    if (conn) return conn;
    const fresh = net.connect(targetPort, '127.0.0.1');
    fresh.setNoDelay(true);
    const answers = new MessageFramer(true, {
      noBody: () => fresh.current.head,
      onHead: (head, info) => fresh.current.onHead(head, info),
      onBody: (bytes) => fresh.current.onBody(bytes),
      onEnd: () => fresh.current.onEnd(),
    });
    fresh.on('data', (chunk) => answers.push(chunk));
    fresh.on('error', () => undefined);
    fresh.on('close', () => {
      const at = idle.indexOf(fresh);
      if (at >= 0) idle.splice(at, 1);
      fresh.current?.fail();
    });
    return fresh;
  };
  server = tls.createServer({ ca, ...keyPair('server'), requestCert: true, rejectUnauthorized: true, ...TLS_VERSIONS }, (peer) => {
    if (!hasUri(peer.getPeerCertificate(), CLIENT_ID)) return peer.destroy();
    peer.setNoDelay(true);
    peer.on('error', () => undefined);
    const send = frameWriter(peer);
    const open = new Map();
    peer.on('data', frameReader((id, payload) => {
      let conn = open.get(id);
      if (!conn) {
        conn = appConnection();
        open.set(id, conn);
        let close = false;
        let answered = false;
        conn.current = {
          head: payload.latin1Slice(0, 5) === 'HEAD ',
          onHead(head, info) {
            close = info.close;
            answered = true;
            send(id, head, false);
          },
          onBody: (bytes) => send(id, bytes, false),
          onEnd() {
            send(id, EMPTY, true);
            open.delete(id);
            conn.current = null;
            if (close) conn.destroy();
            else idle.push(conn);
          },
          // The app closed: the end of an answer without a length, or a 502 if it never answered.
          fail() {
            open.delete(id);
            send(id, answered ? EMPTY : Buffer.from('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n'), true);
          },
        };
      }
      if (payload.length > 0) conn.write(payload);
    }));
  });
} else {
  process.stderr.write('raw-floor-proxy: --role client|server\n');
  process.exit(2);
}
server.listen(listenPort, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ event: 'listening', role, port: listenPort })}\n`));
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
