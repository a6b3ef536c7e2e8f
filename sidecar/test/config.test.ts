// mesh-sidecar's flags: defaults, environment fallbacks, and a clear error for each bad input.
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSidecarConfig } from '../src/config.js';
import { tempDir } from '../../test-support/control-plane.js';

const dir = tempDir('config');
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = ['--service', 'orders', '--namespace', 'shop', '--ca-file', caFile, '--token', 't'];

describe('parseSidecarConfig', () => {
  it('fills defaults and derives the SPIFFE ID', () => {
    const result = parseSidecarConfig(base, {});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      serviceAccount: 'orders',
      trustDomain: 'cluster.local',
      spiffeId: 'spiffe://cluster.local/ns/shop/sa/orders',
      controlPlaneIdentity: 'spiffe://cluster.local/ns/mesh-system/sa/mesh-control-plane',
      controlPlaneAddress: '127.0.0.1:15012',
      appPort: undefined,
      inboundPort: 15006,
      outboundPort: 15001,
      adminPort: 15000,
      defaultTimeoutMs: 15_000,
      peerTransport: 'auto',
    });
  });

  it('takes --peer-transport h2 (HTTP/2 only between sidecars), also from MESH_PEER_TRANSPORT', () => {
    expect(parseSidecarConfig([...base, '--peer-transport', 'h2'], {})).toMatchObject({ ok: true, value: { peerTransport: 'h2' } });
    expect(parseSidecarConfig(base, { MESH_PEER_TRANSPORT: 'h2' })).toMatchObject({ ok: true, value: { peerTransport: 'h2' } });
  });

  it('exports traces to the control plane on this host by default, never across hosts unasked', () => {
    const local = parseSidecarConfig(base, {});
    expect(local.ok && local.value.otlp).toEqual({ protocol: 'http/protobuf', endpoint: 'http://127.0.0.1:15014/v1/traces' });
    const remote = parseSidecarConfig([...base, '--control-plane', 'cp.mesh-system.svc:15012'], {});
    expect(remote.ok && remote.value.otlp).toBeUndefined();
    const off = parseSidecarConfig([...base, '--otlp-endpoint', 'off'], {});
    expect(off.ok && off.value.otlp).toBeUndefined();
  });

  it('reads MESH_* environment variables when a flag is absent', () => {
    const result = parseSidecarConfig(['--ca-file', caFile], { MESH_SERVICE: 'web', MESH_TOKEN: 'x', MESH_APP_PORT: '8080' });
    expect(result).toMatchObject({ ok: true, value: { service: 'web', namespace: 'default', appPort: 8080, joinToken: 'x' } });
  });

  it.each([
    [[], '--service is required'],
    [['--service', 'Orders', '--ca-file', caFile, '--token', 't'], '--service: "Orders" is not a DNS-1123 label'],
    [['--service', 'orders', '--token', 't'], '--ca-file is required'],
    [['--service', 'orders', '--ca-file', join(dir, 'missing.pem'), '--token', 't'], '--ca-file: cannot read'],
    [['--service', 'orders', '--ca-file', caFile], "--token (or --token-file) is required: mint one with 'meshctl token create"],
    [[...base, '--app-port', '70000'], '--app-port: "70000" is not a port number'],
    [[...base, '--default-timeout', 'soon'], '--default-timeout: "soon" is not a duration'],
    [[...base, '--advertise-address', 'nope'], '--advertise-address: "nope" must be host:port'],
    [[...base, '--peer-transport', 'tsmesh/2'], '--peer-transport: "tsmesh/2" must be auto or h2'],
    [[...base, '--bogus', '1'], "Unknown option '--bogus'"],
  ])('refuses %j with a message naming the flag', (argv, message) => {
    const result = parseSidecarConfig(argv, {});
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(message);
  });
});
