// The sidecar's bundle runs on its own, as the sidecar image ships it: no node_modules, no tsc output beside it.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startControlPlane, startSidecarProcess, type ControlPlaneHandle } from '../src/launcher.js';
import type { ManagedProcess } from '../src/processes.js';
import { callThroughProxy } from '../src/mesh-http.js';
import { tempDir } from '../../test-support/control-plane.js';

// What the Dockerfile's sidecar stage copies out of the build (the addon aside: only transparent mode loads it).
const SIDECAR_IMAGE_FILES = ['sidecar/package.json', 'sidecar/bin', 'sidecar/dist/bundle', 'sidecar/dist/protos'];

let dataDir: string;
let cp: ControlPlaneHandle;
let app: Server;
const sidecars: ManagedProcess[] = [];
let proxy = '';

beforeAll(async () => {
  dataDir = tempDir('bundle');
  // Outside the checkout, so that nothing the bundle forgot can be found in a node_modules above it.
  const image = join(dataDir, 'image');
  for (const path of SIDECAR_IMAGE_FILES) {
    mkdirSync(join(image, path, '..'), { recursive: true });
    cpSync(join(REPO_ROOT, path), join(image, path), { recursive: true });
  }
  const sidecarBin = join(image, 'sidecar', 'bin', 'mesh-sidecar.js');
  app = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, traceparent: req.headers['traceparent'] ?? null }));
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  cp = await startControlPlane(dataDir);
  const server = await startSidecarProcess({ controlPlane: cp, dataDir, service: 'bundled', appPort: (app.address() as AddressInfo).port, sidecarBin });
  const client = await startSidecarProcess({ controlPlane: cp, dataDir, service: 'caller', sidecarBin });
  sidecars.push(server.process, client.process);
  proxy = `http://127.0.0.1:${client.outboundPort}`;
}, 60_000);

afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.stop()));
  await cp?.stop();
  await new Promise((resolve) => app?.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

describe('the sidecar bundle', () => {
  it('proxies over mTLS and exports its spans with nothing but the bundle', async () => {
    const res = await callThroughProxy(proxy, 'http://bundled.demo/hello');
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body) as { path: string; traceparent: string | null };
    expect(seen.path).toBe('/hello');
    const traceId = /^00-([0-9a-f]{32})-/.exec(seen.traceparent ?? '')?.[1];
    expect(traceId).toBeDefined();
    // Both sidecars export through the OTLP exporter chunk to the control plane's trace store.
    const deadline = Date.now() + 15_000;
    let services: string[] = [];
    while (Date.now() < deadline) {
      const list = (await (await fetch(`http://${cp.httpAddress}/api/traces?limit=50`)).json()) as { traces: Array<{ traceId: string; services: string[] }> };
      services = list.traces.find((t) => t.traceId === traceId)?.services ?? [];
      if (services.includes('bundled') && services.includes('caller')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(services).toEqual(expect.arrayContaining(['bundled', 'caller']));
  });
});
