// The app's keep-alive connection to its outbound sidecar stays usable while the app's own pool keeps it idle.
import { connect, type Socket } from 'node:net';
import { afterEach, beforeAll, expect, it } from 'vitest';
import type { TlsMaterial } from '../src/identity/tls-material.js';
import { Cleanup, startApp } from './support/mesh.js';
import { startPair } from './support/pair.js';
import { callerAndServer } from './support/pki.js';

let tlsA: TlsMaterial;
let tlsB: TlsMaterial;
const cleanup = new Cleanup();

beforeAll(async () => {
  ({ caller: tlsA, server: tlsB } = await callerAndServer('spiffe://cluster.local/ns/shop/sa/frontend', 'spiffe://cluster.local/ns/shop/sa/orders'));
});

afterEach(() => cleanup.run());

// One GET on an open socket; resolves with the raw answer once its body ("ok") has arrived.
function getOn(socket: Socket): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let answer = '';
    const onData = (chunk: Buffer): void => {
      answer += chunk.toString('latin1');
      if (answer.endsWith('\r\n\r\nok')) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(answer);
      }
    };
    const onClose = (): void => reject(new Error(`the sidecar closed the connection; got: ${JSON.stringify(answer)}`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write('GET /orders HTTP/1.1\r\nHost: orders.shop\r\n\r\n');
  });
}

it("keeps an idle keep-alive connection from the app open past Node's 5 s default", async () => {
  const app = await startApp(cleanup, (_req, res) => res.end('ok'));
  const pair = await startPair({ cleanup, clientTls: tlsA, serverTls: tlsB, appPort: app.port });
  const socket = connect({ host: '127.0.0.1', port: pair.outboundPort });
  cleanup.add(() => {
    socket.destroy();
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));

  const first = await getOn(socket);
  expect(first).toMatch(/^HTTP\/1\.1 200 /);
  expect(first).not.toMatch(/\r\nconnection: close\r\n/i);
  // Idle longer than Node 20's default keepAliveTimeout (5 s, plus the 1 s Node adds): a pool such as Go's would reuse it now.
  await new Promise((resolve) => setTimeout(resolve, 7_000));
  expect(socket.destroyed).toBe(false);
  expect(await getOn(socket)).toMatch(/^HTTP\/1\.1 200 /);
});
