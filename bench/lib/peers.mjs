// The backend (nginx) and the peer pairs (HAProxy, http-proxy), each started in the foreground from a temp dir.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, freePort, waitForPort } from './procs.mjs';

export const BACKEND_BODY = 'hello from nginx\n';

export async function startNginx(dir) {
  const port = await freePort();
  const root = join(dir, 'nginx');
  mkdirSync(join(root, 'tmp'), { recursive: true });
  // One process, no master, one event loop: the backend must not be what limits the proxies.
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${root}/nginx.pid;
error_log ${root}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${root}/tmp/body;
  proxy_temp_path ${root}/tmp/proxy;
  fastcgi_temp_path ${root}/tmp/fastcgi;
  uwsgi_temp_path ${root}/tmp/uwsgi;
  scgi_temp_path ${root}/tmp/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      default_type text/plain;
      return 200 ${JSON.stringify(BACKEND_BODY)};
    }
  }
}
`;
  const file = join(root, 'nginx.conf');
  writeFileSync(file, conf);
  const proc = startProcess('nginx', 'nginx', ['-p', root, '-c', file, '-e', join(root, 'error.log')]);
  await waitForPort(port, proc);
  return { proc, port };
}

// Scenario H: HAProxy client-side (plain HTTP in) -> TLS 1.3 mTLS, h2 -> HAProxy server-side -> nginx.
// One thread each: a tsmesh sidecar is one event loop, so is each proxy here.
export async function startHaproxyPair(dir, certs, backendPort, threads = 1) {
  const root = join(dir, 'haproxy');
  mkdirSync(root, { recursive: true });
  const [inPort, meshPort] = [await freePort(), await freePort()];
  const common = `global
  nbthread ${threads}
  maxconn 4000
  ssl-default-bind-options ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  http-reuse always
`;
  const serverSide = `${common}
frontend mesh_in
  bind 127.0.0.1:${meshPort} ssl crt ${certs.serverCombined} ca-file ${certs.ca} verify required alpn h2,http/1.1
  default_backend app
backend app
  server nginx 127.0.0.1:${backendPort}
`;
  const clientSide = `${common}
frontend app_out
  bind 127.0.0.1:${inPort}
  default_backend mesh
backend mesh
  server peer 127.0.0.1:${meshPort} ssl crt ${certs.clientCombined} ca-file ${certs.ca} verify required alpn h2
`;
  const serverFile = join(root, 'server.cfg');
  const clientFile = join(root, 'client.cfg');
  writeFileSync(serverFile, serverSide);
  writeFileSync(clientFile, clientSide);
  const server = startProcess('haproxy-server', 'haproxy', ['-db', '-f', serverFile]);
  await waitForPort(meshPort, server);
  const client = startProcess('haproxy-client', 'haproxy', ['-db', '-f', clientFile]);
  await waitForPort(inPort, client);
  return { client, server, entryPort: inPort, meshPort };
}

const NODE_PROXY = fileURLToPath(new URL('./node-proxy.mjs', import.meta.url));
const FLOOR_PROXY = fileURLToPath(new URL('./floor-proxy.mjs', import.meta.url));
const RAW_FLOOR_PROXY = fileURLToPath(new URL('./raw-floor-proxy.mjs', import.meta.url));

// A pair of one script's two roles: the server half on the mesh port, the client half in front of it.
async function startScriptPair(name, script, certDir, backendPort, nodeOptions = '') {
  const [inPort, meshPort] = [await freePort(), await freePort()];
  const env = { NODE_NO_WARNINGS: '1', NODE_OPTIONS: nodeOptions };
  const server = startProcess(`${name}-server`, process.execPath, [script, '--role', 'server', '--listen', String(meshPort), '--target-port', String(backendPort), '--certs', certDir], { env });
  await server.waitForEvent((e) => e.event === 'listening');
  const client = startProcess(`${name}-client`, process.execPath, [script, '--role', 'client', '--listen', String(inPort), '--target-port', String(meshPort), '--certs', certDir], { env });
  await client.waitForEvent((e) => e.event === 'listening');
  return { client, server, entryPort: inPort, meshPort };
}

// Scenario N: the same pair from http-proxy (HTTP/1.1 over TLS 1.3 between, keep-alive pools both sides).
export const startNodePair = (certDir, backendPort) => startScriptPair('node-proxy', NODE_PROXY, certDir, backendPort);

// Scenario F: M's hops (HTTP/1.1 -> h2 over mTLS -> HTTP/1.1) in bare Node, without any of the mesh's features.
// nodeOptions: M's V8 flags, so that F stays M's floor.
export const startFloorPair = (certDir, backendPort, nodeOptions) => startScriptPair('floor-proxy', FLOOR_PROXY, certDir, backendPort, nodeOptions);

// Scenario R: a pair with neither node:http nor node:http2 (hand-framed HTTP/1.1, one multiplexed mTLS connection).
export const startRawFloorPair = (certDir, backendPort, nodeOptions) => startScriptPair('raw-floor-proxy', RAW_FLOOR_PROXY, certDir, backendPort, nodeOptions);
