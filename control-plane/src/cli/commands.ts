// meshctl's commands: each takes parsed options and the admin client, writes to out/err, returns an exit code.
import YAML from 'yaml';
import { X509Certificate } from 'node:crypto';
import { findKind, KINDS, isValidName, parseDuration, type ChangeResponse__Output } from '@tsmesh/proto';
import type { AdminClient } from './admin-client.js';
import type { MeshctlConfig } from './client-config.js';
import { readManifests } from './manifests.js';
import { lineDiff } from './diff.js';
import { formatTable, age } from './table.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

export interface Options {
  output?: string;
  namespace?: string;
  allNamespaces?: boolean;
  filename?: string[];
  dryRun?: boolean;
  serviceAccount?: string;
  ttl?: string;
  uses?: string;
  limit?: string;
  validate?: string;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export class UsageError extends Error {}

type Resource = { kind: string; metadata: { name: string; namespace?: string; resourceVersion?: string; creationTimestamp?: string; generation?: number }; spec?: Record<string, unknown> };

function format(options: Options, allowed: string[]): string {
  const chosen = options.output ?? allowed[0] ?? 'table';
  if (!allowed.includes(chosen)) throw new UsageError(`-o ${chosen}: choose one of ${allowed.join(', ')}`);
  return chosen;
}

function kindOf(name: string | undefined): { kind: string; namespaced: boolean } {
  if (!name) throw new UsageError(`name a kind: ${KINDS.map((k) => k.kind).join(', ')}`);
  const kind = findKind(name);
  if (!kind) throw new UsageError(`unknown kind "${name}"; expected one of ${KINDS.map((k) => `${k.kind} (${k.plural})`).join(', ')}`);
  return kind;
}

function printChanges(io: Io, response: ChangeResponse__Output, dryRun: boolean): void {
  for (const change of response.changes) {
    const [kind = '', namespace = '', name = ''] = change.key.split('/');
    io.out(`${kind.toLowerCase()}/${name}${namespace ? ` (${namespace})` : ''} ${change.action}${dryRun ? ' (dry run)' : ''}\n`);
  }
  if (!dryRun) io.out(`revision ${response.revision}\n`);
}

function summary(resource: Resource): string {
  const spec = resource.spec ?? {};
  const field = (name: string, fallback: string): string => (typeof spec[name] === 'string' ? spec[name] : fallback);
  switch (resource.kind) {
    case 'HTTPRoute':
      return `service=${field('service', '-')} rules=${(spec['rules'] as unknown[] | undefined)?.length ?? 0}`;
    case 'AuthorizationPolicy':
      return `${field('action', '-')} service=${field('service', '*')} rules=${(spec['rules'] as unknown[] | undefined)?.length ?? 0}`;
    case 'MeshConfig':
      return `mtls=${String((spec['mtls'] as { mode?: string } | undefined)?.mode ?? 'STRICT')} default=${field('defaultPolicy', 'allow-authenticated')}`;
    default:
      return `service=${field('service', '-')}`;
  }
}

export const commands = {
  async apply(client: AdminClient, io: Io, options: Options, dryRunLabel = 'apply'): Promise<number> {
    if (!options.filename?.length) throw new UsageError('apply needs -f FILE, -f DIR or -f - (stdin)');
    if (options.validate !== undefined && !['true', 'false'].includes(options.validate)) throw new UsageError(`--validate=${options.validate}: use true or false`);
    const semantic = options.validate !== 'false';
    const parsed = readManifests(options.filename, options.namespace ?? 'default', { semantic });
    if (!parsed.ok) {
      io.err(`${parsed.error.join('\n')}\nnothing was applied\n`);
      return EXIT.failed;
    }
    const response = await client.apply(parsed.value.map((p) => p.resource), { dryRun: options.dryRun ?? false, skipSemanticChecks: !semantic, message: `meshctl ${dryRunLabel} -f ${options.filename.join(' -f ')}` });
    printChanges(io, response, options.dryRun ?? false);
    return EXIT.ok;
  },

  async diff(client: AdminClient, io: Io, options: Options): Promise<number> {
    if (!options.filename?.length) throw new UsageError('diff needs -f FILE, -f DIR or -f -');
    const parsed = readManifests(options.filename, options.namespace ?? 'default');
    if (!parsed.ok) {
      io.err(`${parsed.error.join('\n')}\n`);
      return EXIT.failed;
    }
    const response = await client.apply(parsed.value.map((p) => p.resource), { dryRun: true });
    let changed = false;
    for (const change of response.changes) {
      if (change.action === 'unchanged') continue;
      changed = true;
      const show = (text: string): string => (text ? YAML.stringify({ ...(JSON.parse(text) as Resource), metadata: { ...(JSON.parse(text) as Resource).metadata, resourceVersion: undefined, generation: undefined, creationTimestamp: undefined } }) : '');
      io.out(`--- ${change.key} (${change.action === 'created' ? 'new' : 'live'})\n+++ ${change.key} (file)\n`);
      io.out(`${lineDiff(show(change.before_json), show(change.after_json)).join('\n')}\n`);
    }
    if (!changed) io.out('no differences\n');
    // As kubectl diff: 1 means "there are differences", so scripts can gate on it.
    return changed ? EXIT.failed : EXIT.ok;
  },

  async get(client: AdminClient, io: Io, options: Options, kindName?: string, name?: string): Promise<number> {
    const kind = kindOf(kindName);
    const fmt = format(options, ['table', 'yaml', 'json']);
    const namespace = options.allNamespaces || !kind.namespaced ? '' : (options.namespace ?? 'default');
    const response = await client.get({ kind: kind.kind, namespace, name });
    const resources = response.resources_json.map((r) => JSON.parse(r) as Resource);
    if (fmt === 'json') io.out(`${JSON.stringify(name ? resources[0] : { kind: 'List', revision: response.revision, items: resources }, null, 2)}\n`);
    else if (fmt === 'yaml') io.out(name ? YAML.stringify(resources[0]) : resources.map((r) => YAML.stringify(r)).join('---\n'));
    else if (resources.length === 0) io.err(`no ${kind.kind} resources${namespace ? ` in namespace ${namespace}` : ''}\n`);
    else io.out(formatTable(['NAMESPACE', 'NAME', 'SUMMARY', 'REVISION', 'AGE'], resources.map((r) => [r.metadata.namespace || '-', r.metadata.name, summary(r), r.metadata.resourceVersion ?? '-', age(r.metadata.creationTimestamp)])));
    return EXIT.ok;
  },

  async describe(client: AdminClient, io: Io, options: Options, kindName?: string, name?: string): Promise<number> {
    const kind = kindOf(kindName);
    if (!name) throw new UsageError('describe needs KIND NAME');
    const namespace = kind.namespaced ? (options.namespace ?? 'default') : '';
    const [response, history] = await Promise.all([client.get({ kind: kind.kind, namespace, name }), client.history(200)]);
    const resource = JSON.parse(response.resources_json[0] ?? '{}') as Resource;
    io.out(YAML.stringify(resource));
    const key = `${kind.kind}/${namespace}/${name}`;
    const touching = history.entries.filter((e) => e.changes.some((c) => c.key === key));
    io.out(`\nHistory:\n${formatTable(['REVISION', 'WHEN', 'ACTION', 'BY', 'MESSAGE'], touching.map((e) => [String(e.revision), new Date(Number(e.time_unix_ms)).toISOString(), e.changes.find((c) => c.key === key)?.action ?? '', e.actor, e.message]))}`);
    return EXIT.ok;
  },

  async delete(client: AdminClient, io: Io, options: Options, kindName?: string, name?: string): Promise<number> {
    let refs: Array<{ kind: string; namespace: string; name: string }>;
    if (options.filename?.length) {
      const parsed = readManifests(options.filename, options.namespace ?? 'default');
      if (!parsed.ok) {
        io.err(`${parsed.error.join('\n')}\nnothing was deleted\n`);
        return EXIT.failed;
      }
      refs = parsed.value.map((p) => ({ kind: p.resource.kind, namespace: p.resource.metadata.namespace, name: p.resource.metadata.name }));
    } else {
      const kind = kindOf(kindName);
      if (!name) throw new UsageError('delete needs KIND NAME or -f FILE');
      refs = [{ kind: kind.kind, namespace: kind.namespaced ? (options.namespace ?? 'default') : '', name }];
    }
    printChanges(io, await client.delete(refs, { dryRun: options.dryRun ?? false, message: 'meshctl delete' }), options.dryRun ?? false);
    return EXIT.ok;
  },

  async history(client: AdminClient, io: Io, options: Options): Promise<number> {
    const fmt = format(options, ['table', 'json']);
    const limit = Number(options.limit ?? '20');
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: "${options.limit}" must be a whole number >= 1`);
    const { entries } = await client.history(limit);
    if (fmt === 'json') io.out(`${JSON.stringify(entries.map((e) => ({ revision: Number(e.revision), time: new Date(Number(e.time_unix_ms)).toISOString(), actor: e.actor, op: e.op, rollbackTo: e.op === 'rollback' ? Number(e.rollback_to) : undefined, message: e.message, changes: e.changes.map((c) => ({ key: c.key, action: c.action })) })), null, 2)}\n`);
    else io.out(formatTable(['REVISION', 'WHEN', 'BY', 'MESSAGE', 'CHANGES'], entries.map((e) => [String(e.revision), new Date(Number(e.time_unix_ms)).toISOString(), e.actor, e.op === 'rollback' ? `rollback to ${e.rollback_to}` : e.message, e.changes.map((c) => `${c.action} ${c.key}`).join(', ')])));
    return EXIT.ok;
  },

  async rollback(client: AdminClient, io: Io, _options: Options, revisionText?: string): Promise<number> {
    const revision = Number(revisionText);
    if (!revisionText || !Number.isInteger(revision) || revision < 0) throw new UsageError('rollback needs a revision number (see meshctl history)');
    const response = await client.rollback(revision, `meshctl rollback ${revision}`);
    printChanges(io, response, false);
    return EXIT.ok;
  },

  async token(client: AdminClient, io: Io, options: Options, sub?: string): Promise<number> {
    if (sub !== 'create') throw new UsageError('usage: meshctl token create --namespace NS --service-account SA [--ttl 10m] [--uses 1]');
    const fmt = format(options, ['text', 'json']);
    if (!options.namespace) throw new UsageError('token create needs --namespace');
    if (!options.serviceAccount) throw new UsageError('token create needs --service-account');
    for (const [flag, value] of [['--namespace', options.namespace], ['--service-account', options.serviceAccount]] as const) {
      if (!isValidName(value)) throw new UsageError(`${flag}: "${value}" is not a DNS-1123 label`);
    }
    const ttl = parseDuration(options.ttl ?? '10m', '--ttl');
    if (!ttl.ok) throw new UsageError(ttl.error);
    const uses = Number(options.uses ?? '1');
    if (!Number.isInteger(uses) || uses < 1) throw new UsageError(`--uses: "${options.uses}" must be a whole number >= 1`);
    const token = await client.createJoinToken({ namespace: options.namespace, serviceAccount: options.serviceAccount, ttlSeconds: Math.ceil(ttl.value / 1000), maxUses: uses });
    if (fmt === 'json') io.out(`${JSON.stringify({ token: token.token, tokenId: token.token_id, spiffeId: token.spiffe_id, expires: new Date(Number(token.expires_unix_ms)).toISOString() })}\n`);
    else {
      io.out(`${token.token}\n`);
      io.err(`token ${token.token_id} for ${token.spiffe_id}, valid until ${new Date(Number(token.expires_unix_ms)).toISOString()}\n`);
    }
    return EXIT.ok;
  },

  async proxyStatus(client: AdminClient, io: Io, options: Options): Promise<number> {
    const fmt = format(options, ['table', 'json', 'yaml']);
    const { proxies } = await client.listProxies();
    const rows = proxies.map((p) => ({
      node: p.node_id,
      identity: p.spiffe_id,
      service: p.service ? `${p.service}.${p.namespace}` : `(client) ${p.namespace}`,
      inbound: p.inbound_address,
      types: Object.fromEntries(p.types.map((t) => [t.type_url.split('.').pop() ?? t.type_url, { state: t.state, versionSent: t.version_sent, versionAcked: t.version_acked, error: t.error, since: new Date(Number(t.since_unix_ms)).toISOString() }])),
    }));
    if (fmt === 'json') io.out(`${JSON.stringify(rows, null, 2)}\n`);
    else if (fmt === 'yaml') io.out(YAML.stringify(rows));
    else {
      const table = rows.map((r) => {
        const states = Object.entries(r.types);
        const worst = states.find(([, t]) => t.state === 'NACKED') ?? states.find(([, t]) => t.state === 'STALE') ?? states[0];
        return [r.node, r.service, r.identity, worst?.[1].state ?? '-', states.map(([name, t]) => `${name}=${t.versionAcked || '-'}`).join(' '), worst?.[1].error ?? ''];
      });
      io.out(formatTable(['NODE', 'SERVICE', 'IDENTITY', 'STATUS', 'ACKED VERSIONS', 'ERROR'], table));
      if (rows.length === 0) io.out('no sidecars connected\n');
    }
    return EXIT.ok;
  },

  async check(client: AdminClient, io: Io, _options: Options, config: MeshctlConfig): Promise<number> {
    const problems: string[] = [];
    const line = (ok: boolean, text: string): void => {
      io.out(`${ok ? 'ok  ' : 'FAIL'}  ${text}\n`);
      if (!ok) problems.push(text);
    };
    const soon = Date.now() + 30 * 86_400_000;
    for (const [what, pem] of [['CA root', config.certificateAuthorityData], ['admin certificate', config.clientCertificateData]] as const) {
      const cert = new X509Certificate(pem);
      const notAfter = Date.parse(cert.validTo);
      line(notAfter > soon, `${what} valid until ${new Date(notAfter).toISOString()}${notAfter <= Date.now() ? ' (EXPIRED)' : notAfter <= soon ? ' (expires within 30 days)' : ''}`);
    }
    const { proxies } = await client.listProxies();
    line(true, `control plane ${config.server} reachable, ${proxies.length} sidecar(s) connected`);
    for (const p of proxies) {
      const bad = p.types.filter((t) => t.state !== 'SYNCED');
      line(bad.length === 0, `${p.node_id} (${p.spiffe_id}) ${bad.length === 0 ? 'SYNCED' : bad.map((t) => `${t.type_url.split('.').pop()} ${t.state}${t.error ? `: ${t.error}` : ''}`).join('; ')}`);
    }
    return problems.length === 0 ? EXIT.ok : EXIT.failed;
  },
};
