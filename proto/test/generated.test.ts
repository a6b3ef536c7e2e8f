// The committed generated TypeScript must be what the .proto files generate today.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { meshProtos } from '@tsmesh/proto';

const protoRoot = join(import.meta.dirname, '..');
const fresh = mkdtempSync(join(tmpdir(), 'tsmesh-proto-gen-'));
afterAll(() => rmSync(fresh, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

describe('generated proto types', () => {
  it('are not stale (run `npm run proto:gen` after editing proto/protos)', () => {
    execFileSync(process.execPath, [join(protoRoot, 'scripts', 'generate.mjs'), '--out', fresh], { stdio: 'pipe' });
    const committed = join(protoRoot, 'src', 'generated');
    expect(files(committed)).toEqual(files(fresh));
    for (const file of files(fresh)) {
      expect(readFileSync(join(committed, file), 'utf8'), `${file} is stale`).toBe(readFileSync(join(fresh, file), 'utf8'));
    }
  });

  it('load at run time into the three services', () => {
    const protos = meshProtos();
    expect(Object.keys(protos.identity.tsmesh.identity.v1.Identity.service)).toEqual(['CreateCertificate']);
    expect(Object.keys(protos.discovery.tsmesh.discovery.v1.AggregatedDiscovery.service)).toEqual(['StreamResources']);
    expect(Object.keys(protos.admin.tsmesh.admin.v1.Admin.service).sort()).toEqual(['Apply', 'CreateJoinToken', 'Delete', 'GetProxyConfig', 'GetResources', 'History', 'ListProxies', 'Rollback']);
  });
});
