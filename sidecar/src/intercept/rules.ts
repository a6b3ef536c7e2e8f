// The nat-table rules that send a pod's TCP through the sidecar (as Istio's istio-iptables), as iptables-restore text.
import { ok, err, type Result } from '@tsmesh/proto';
import { OWN_CHAINS, jumpsToOwnChains, type NatState } from './nat-state.js';

export interface InterceptOptions {
  // The sidecar's own uid (and gid): its connections are never redirected, or they would loop back into it.
  proxyUid: number;
  proxyGid?: number;
  outboundPort: number;
  inboundPort: number;
  excludeInboundPorts: number[];
  excludeOutboundPorts: number[];
  // IPv4 CIDRs (a bare address means /32); normalised to their network address by validation.
  excludeOutboundCidrs: string[];
  // Inbound ports to intercept; '*' (the default) means every port but the excluded ones, [] means none.
  includeInboundPorts?: number[] | '*';
}

export const CHAIN = {
  inbound: 'TSMESH_INBOUND',
  redirect: 'TSMESH_REDIRECT',
  inRedirect: 'TSMESH_IN_REDIRECT',
  output: 'TSMESH_OUTPUT',
} as const;

// The two rules that hook our chains into the built-in ones; everything else lives in chains we own.
export const JUMPS: readonly { chain: 'PREROUTING' | 'OUTPUT'; spec: string }[] = [
  { chain: 'PREROUTING', spec: `-p tcp -j ${CHAIN.inbound}` },
  { chain: 'OUTPUT', spec: `-p tcp -j ${CHAIN.output}` },
];

const MAX_ID = 4_294_967_294;

function checkPort(value: number, field: string): string | undefined {
  return Number.isInteger(value) && value >= 1 && value <= 65535 ? undefined : `${field}: "${value}" is not a port number (1-65535)`;
}

function checkId(value: number, field: string): string | undefined {
  return Number.isInteger(value) && value >= 0 && value <= MAX_ID ? undefined : `${field}: "${value}" is not a uid/gid (0-${MAX_ID})`;
}

// Returns the CIDR with host bits cleared, as iptables-save prints it, so that saved rules compare equal.
export function normaliseCidr(text: string): Result<string, string> {
  if (text.includes(':')) return err(`"${text}" is IPv6; only IPv4 is intercepted (no ip6tables rules are installed)`);
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text);
  if (!match) return err(`"${text}" is not an IPv4 address or CIDR (a.b.c.d/n)`);
  const octets = match.slice(1, 5).map(Number);
  if (octets.some((octet) => octet > 255)) return err(`"${text}" has an octet above 255`);
  const prefix = match[5] === undefined ? 32 : Number(match[5]);
  if (prefix > 32) return err(`"${text}" has a prefix longer than 32`);
  const value = octets.reduce((acc, octet) => acc * 256 + octet, 0);
  const mask = prefix === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefix);
  const network = Number((BigInt(value) & BigInt(mask)).toString());
  const parts = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return ok(`${parts.join('.')}/${prefix}`);
}

export function validateInterceptOptions(options: InterceptOptions): Result<InterceptOptions, string> {
  const problems = [
    checkId(options.proxyUid, '--proxy-uid'),
    options.proxyGid === undefined ? undefined : checkId(options.proxyGid, '--proxy-gid'),
    checkPort(options.outboundPort, '--outbound-port'),
    checkPort(options.inboundPort, '--inbound-port'),
    ...options.excludeInboundPorts.map((port) => checkPort(port, '--exclude-inbound-ports')),
    ...options.excludeOutboundPorts.map((port) => checkPort(port, '--exclude-outbound-ports')),
    ...(Array.isArray(options.includeInboundPorts) ? options.includeInboundPorts.map((port) => checkPort(port, '--include-inbound-ports')) : []),
  ].filter((problem) => problem !== undefined);
  if (problems[0] !== undefined) return err(problems[0]);
  if (options.outboundPort === options.inboundPort) return err(`--outbound-port and --inbound-port are both ${options.inboundPort}; they must differ`);
  const cidrs: string[] = [];
  for (const cidr of options.excludeOutboundCidrs) {
    const normalised = normaliseCidr(cidr);
    if (!normalised.ok) return err(`--exclude-outbound-cidrs: ${normalised.error}`);
    cidrs.push(normalised.value);
  }
  const unique = (values: number[]): number[] => [...new Set(values)];
  return ok({
    ...options,
    excludeInboundPorts: unique(options.excludeInboundPorts),
    excludeOutboundPorts: unique(options.excludeOutboundPorts),
    excludeOutboundCidrs: [...new Set(cidrs)],
    includeInboundPorts: Array.isArray(options.includeInboundPorts) ? unique(options.includeInboundPorts) : '*',
  });
}

// The content of each chain we own, in order. Options must have been validated.
export function chainRules(options: InterceptOptions): { chain: string; rules: string[] }[] {
  const inbound: string[] = [];
  // Exclusions first: a port listed as excluded must never reach a redirect, whatever else matches.
  for (const port of options.excludeInboundPorts) inbound.push(`-p tcp -m tcp --dport ${port} -j RETURN`);
  const include = options.includeInboundPorts ?? '*';
  if (include === '*') inbound.push(`-p tcp -j ${CHAIN.inRedirect}`);
  else for (const port of include) inbound.push(`-p tcp -m tcp --dport ${port} -j ${CHAIN.inRedirect}`);

  const owners = [`--uid-owner ${options.proxyUid}`, ...(options.proxyGid === undefined ? [] : [`--gid-owner ${options.proxyGid}`])];
  const output: string[] = [];
  for (const port of options.excludeOutboundPorts) output.push(`-p tcp -m tcp --dport ${port} -j RETURN`);
  for (const cidr of options.excludeOutboundCidrs) output.push(`-d ${cidr} -j RETURN`);
  for (const owner of owners) {
    // The sidecar dialling its own pod IP (an app calling itself through the mesh) lands on its inbound listener.
    output.push(`! -d 127.0.0.0/8 -o lo -m owner ${owner} -j ${CHAIN.inRedirect}`);
    // Anything else the sidecar sends goes out as is: redirecting it would loop back into the sidecar.
    output.push(`-m owner ${owner} -j RETURN`);
  }
  // Loopback destinations are the app talking to localhost, or to the sidecar in explicit mode; the app calling
  // its own pod IP is not a loopback destination and is redirected below like any other call.
  output.push('-d 127.0.0.0/8 -j RETURN');
  output.push(`-j ${CHAIN.redirect}`);

  return [
    { chain: CHAIN.inbound, rules: inbound },
    { chain: CHAIN.redirect, rules: [`-p tcp -j REDIRECT --to-ports ${options.outboundPort}`] },
    { chain: CHAIN.inRedirect, rules: [`-p tcp -j REDIRECT --to-ports ${options.inboundPort}`] },
    { chain: CHAIN.output, rules: output },
  ];
}

// Input for `iptables-restore --noflush`: declaring our chains creates or flushes them, so running it again
// replaces their content; the jumps are added only when `current` (the table now) lacks them, and duplicates go.
export function installScript(options: InterceptOptions, current: NatState): string {
  const lines = ['*nat', ...OWN_CHAINS.map((chain) => `:${chain} - [0:0]`)];
  for (const { chain, rules } of chainRules(options)) for (const rule of rules) lines.push(`-A ${chain} ${rule}`);
  for (const jump of JUMPS) {
    const existing = (current.chains.get(jump.chain) ?? []).filter((rule) => rule === jump.spec);
    for (let extra = 1; extra < existing.length; extra += 1) lines.push(`-D ${jump.chain} ${jump.spec}`);
    if (existing.length === 0) lines.push(`-A ${jump.chain} ${jump.spec}`);
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

// Input for `iptables-restore --noflush` that removes every jump into our chains, then the chains themselves;
// undefined when nothing of ours is installed.
export function uninstallScript(current: NatState): string | undefined {
  const present = OWN_CHAINS.filter((chain) => current.chains.has(chain));
  const jumps = jumpsToOwnChains(current);
  if (present.length === 0 && jumps.length === 0) return undefined;
  const lines = ['*nat', ...jumps.map(({ chain, rule }) => `-D ${chain} ${rule}`)];
  // Flush all before deleting any: our chains jump into each other, and a referenced chain cannot be deleted.
  for (const chain of present) lines.push(`-F ${chain}`);
  for (const chain of present) lines.push(`-X ${chain}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}
