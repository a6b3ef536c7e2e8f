// Scenario F, the floor: one half of a pair with M's hops in bare Node and nothing else, to show what node:http and
// node:http2 cost by themselves. No routing, retries, timeouts, balancing, policy, metrics or tracing.
//   --role client  plain HTTP/1.1 in on --listen, one HTTP/2 session over mTLS to --target-port, a stream per request
//   --role server  HTTP/2 over mTLS in on --listen (client certificate required), keep-alive HTTP/1.1 to --target-port
import http from 'node:http';
import http2 from 'node:http2';
import { CLIENT_ID, SERVER_ID, TLS_VERSIONS as tlsVersions, hasUri, proxyHalfArgs } from './proxy-half.mjs';

const { role, listenPort, targetPort, ca, keyPair } = proxyHalfArgs();
// What HTTP/2 forbids, and Host, which becomes :authority.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host']);

function fail(res, status, message) {
  if (res.headersSent) return res.destroy();
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(`${message}\n`);
}

let server;
if (role === 'client') {
  const tls = { ca, ...keyPair('client'), ...tlsVersions };
  let session;
  // One pooled session, replaced when it goes away: the same connection reuse M has.
  const sessionToPeer = () => {
    if (session && !session.closed && !session.destroyed) return session;
    session = http2.connect(`https://127.0.0.1:${targetPort}`, { ...tls, checkServerIdentity: (_host, cert) => (hasUri(cert, SERVER_ID) ? undefined : new Error(`peer is not ${SERVER_ID}`)) });
    session.on('error', () => undefined);
    return session;
  };
  server = http.createServer((req, res) => {
    const headers = { ':method': req.method, ':path': req.url, ':authority': req.headers.host ?? '', ':scheme': 'http' };
    for (const name in req.headers) if (!HOP.has(name)) headers[name] = req.headers[name];
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    let stream;
    try {
      stream = sessionToPeer().request(headers, { endStream: !hasBody });
    } catch (error) {
      return fail(res, 502, `floor: ${error.message}`);
    }
    stream.on('error', (error) => fail(res, 502, `floor: ${error.message}`));
    stream.once('response', (answer) => {
      const out = {};
      for (const name in answer) if (name.charCodeAt(0) !== 58) out[name] = answer[name];
      res.writeHead(answer[':status'], out);
      stream.pipe(res);
    });
    if (hasBody) req.pipe(stream);
  });
} else if (role === 'server') {
  const agent = new http.Agent({ keepAlive: true });
  server = http2.createSecureServer({ ca, ...keyPair('server'), requestCert: true, rejectUnauthorized: true, ...tlsVersions });
  server.on('secureConnection', (socket) => {
    if (!hasUri(socket.getPeerCertificate(), CLIENT_ID)) socket.destroy();
  });
  server.on('stream', (stream, h) => {
    stream.on('error', () => undefined);
    const headers = { host: h[':authority'] };
    for (const name in h) if (name.charCodeAt(0) !== 58) headers[name] = h[name];
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: h[':method'], path: h[':path'], headers, agent }, (answer) => {
      const out = { ':status': answer.statusCode };
      for (const name in answer.headers) if (!HOP.has(name)) out[name] = answer.headers[name];
      stream.respond(out);
      answer.pipe(stream);
    });
    upstream.on('error', (error) => {
      if (!stream.headersSent) stream.respond({ ':status': 502 });
      stream.end(`floor: ${error.message}\n`);
    });
    if (stream.endAfterHeaders) upstream.end();
    else stream.pipe(upstream);
  });
} else {
  process.stderr.write('floor-proxy: --role client|server\n');
  process.exit(2);
}
server.keepAliveTimeout = 65_000;
server.listen(listenPort, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ event: 'listening', role, port: listenPort })}\n`));
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
