// Scenario N: one half of a sidecar pair built from the `http-proxy` library, the way a Node team would.
//   --role client  plain HTTP in on --listen, out over mTLS (TLS 1.3, keep-alive pool) to --target-port
//   --role server  mTLS in on --listen (client certificate required), out over plain keep-alive HTTP to --target-port
import http from 'node:http';
import https from 'node:https';
import httpProxy from 'http-proxy';
import { CLIENT_ID, SERVER_ID, TLS_VERSIONS as tlsVersions, hasUri, proxyHalfArgs } from './proxy-half.mjs';

const { role, listenPort, targetPort, ca, keyPair } = proxyHalfArgs();

function onProxyError(error, _req, res) {
  if (res && 'writeHead' in res && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`proxy error: ${error.message}\n`);
  } else {
    res?.destroy?.();
  }
}

let server;
if (role === 'client') {
  const tls = { ca, ...keyPair('client'), ...tlsVersions };
  // Same identity rule as the mesh: the peer must present the expected SPIFFE ID; hostnames mean nothing.
  const checkServerIdentity = (_host, cert) => (hasUri(cert, SERVER_ID) ? undefined : new Error(`peer is not ${SERVER_ID}`));
  const agent = new https.Agent({ keepAlive: true, maxSockets: Infinity, ...tls, checkServerIdentity });
  const proxy = httpProxy.createProxyServer({ target: { protocol: 'https:', host: '127.0.0.1', port: targetPort, ...tls }, agent, secure: true, xfwd: false });
  proxy.on('error', onProxyError);
  server = http.createServer((req, res) => proxy.web(req, res));
} else if (role === 'server') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${targetPort}`, agent, xfwd: false });
  proxy.on('error', onProxyError);
  server = https.createServer({ ca, ...keyPair('server'), requestCert: true, rejectUnauthorized: true, ...tlsVersions }, (req, res) => proxy.web(req, res));
  server.on('secureConnection', (socket) => {
    if (!hasUri(socket.getPeerCertificate(), CLIENT_ID)) socket.destroy();
  });
} else {
  process.stderr.write('node-proxy: --role client|server\n');
  process.exit(2);
}
// Idle pooled connections must outlive the gaps between requests, as in the other pairs.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(listenPort, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ event: 'listening', role, port: listenPort })}\n`));
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
