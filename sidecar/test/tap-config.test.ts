// --control-plane-stream: derived from --control-plane by default, settable, "off", and a derivation that cannot work turns tap off instead of failing start-up.
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSidecarConfig } from '../src/config.js';
import { tempDir } from '../../test-support/control-plane.js';

const dir = tempDir('tap-config');
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = ['--service', 'orders', '--ca-file', caFile, '--token', 't'];

describe('--control-plane-stream', () => {
  it.each([
    [[], '127.0.0.1:15015'],
    [['--control-plane', 'mesh-cp.mesh-system.svc:15012'], 'mesh-cp.mesh-system.svc:15015'],
    [['--control-plane', 'dns:///mesh-cp:15012'], 'mesh-cp:15015'],
    [['--control-plane', 'unix:/run/cp.sock'], undefined],
    [['--control-plane-stream', '10.0.0.7:9000'], '10.0.0.7:9000'],
    [['--control-plane-stream', 'off'], undefined],
  ])('%j gives %s', (flags, expected) => {
    const result = parseSidecarConfig([...base, ...flags], {});
    expect(result).toMatchObject({ ok: true, value: { controlPlaneStreamAddress: expected } });
  });

  it('refuses a value that is neither host:port nor off', () => {
    expect(parseSidecarConfig([...base, '--control-plane-stream', 'cp'], {})).toEqual({ ok: false, error: '--control-plane-stream: "cp" must be host:port or off' });
  });
});
