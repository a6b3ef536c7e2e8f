// meshctl's config file (like a kubeconfig): where the control plane is and the admin credentials.
import { readFileSync, writeFileSync, mkdirSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { ok, err, type Result } from '@tsmesh/proto';

export interface MeshctlConfig {
  server: string;
  trustDomain: string;
  controlPlaneIdentity: string;
  certificateAuthorityData: string;
  clientCertificateData: string;
  clientKeyData: string;
}

export const CONFIG_KIND = 'MeshctlConfig';

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env['MESHCTL_CONFIG'] ?? join(homedir(), '.meshctl', 'config');
}

export function writeMeshctlConfig(path: string, config: MeshctlConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const text = YAML.stringify({ apiVersion: 'meshctl.tsmesh.dev/v1', kind: CONFIG_KIND, ...config });
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, text, { mode: 0o600 });
  const fd = openSync(temp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temp, path);
}

export function readMeshctlConfig(path: string): Result<MeshctlConfig, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return err(`cannot read meshctl config ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}; run 'mesh-control-plane init' (it writes one) or pass --config`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (error) {
    return err(`${path}: not valid YAML: ${(error as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || (doc as { kind?: unknown }).kind !== CONFIG_KIND) return err(`${path}: expected a document of kind ${CONFIG_KIND}`);
  const record = doc as Record<string, unknown>;
  const fields = ['server', 'trustDomain', 'controlPlaneIdentity', 'certificateAuthorityData', 'clientCertificateData', 'clientKeyData'] as const;
  for (const field of fields) {
    if (typeof record[field] !== 'string' || record[field] === '') return err(`${path}: field "${field}" is missing or not a string`);
  }
  return ok(Object.fromEntries(fields.map((f) => [f, record[f] as string])) as unknown as MeshctlConfig);
}
