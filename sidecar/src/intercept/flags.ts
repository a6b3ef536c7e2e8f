// Flags of `mesh-sidecar iptables install|uninstall|print`, validated into InterceptOptions.
import { parseArgs } from 'node:util';
import { ok, err, type Result } from '@tsmesh/proto';
import { validateInterceptOptions, type InterceptOptions } from './rules.js';

export type IptablesAction = 'install' | 'uninstall' | 'print';

export const IPTABLES_USAGE = `mesh-sidecar iptables: install the rules that send a pod's TCP through its sidecar.

Usage: mesh-sidecar iptables install|uninstall|print [options]

  install    add (or replace) the TSMESH_* chains in the nat table and hook them into PREROUTING/OUTPUT;
             running it again replaces the rules and never duplicates the hooks
  uninstall  remove the hooks and the TSMESH_* chains, leaving every other rule as it was
  print      print the iptables-restore script that install applies to a table without our rules

Options (install and print):
  --proxy-uid UID                  the sidecar's uid; its traffic is never redirected   [default: 1337]
  --proxy-gid GID                  also exempt this gid
  --outbound-port PORT             where the app's outbound TCP is redirected           [default: 15001]
  --inbound-port PORT              where inbound TCP is redirected                      [default: 15006]
  --exclude-inbound-ports P,P      inbound ports left alone (e.g. the admin port 15000)
  --include-inbound-ports P,P|*    inbound ports to redirect, * for all but excluded    [default: *]
  --exclude-outbound-ports P,P     outbound destination ports left alone
  --exclude-outbound-cidrs C,C     outbound IPv4 destinations left alone (a.b.c.d/n)

Needs root (or CAP_NET_ADMIN) and the iptables package (iptables-save, iptables-restore), except for print.
`;

const FLAGS = ['proxy-uid', 'proxy-gid', 'outbound-port', 'inbound-port', 'exclude-inbound-ports', 'include-inbound-ports', 'exclude-outbound-ports', 'exclude-outbound-cidrs'] as const;

function parseNumber(text: string, flag: string): Result<number, string> {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  return Number.isNaN(value) ? err(`--${flag}: "${text}" is not a whole number`) : ok(value);
}

function parseList(text: string | undefined, flag: string): Result<number[], string> {
  const values: number[] = [];
  for (const item of (text ?? '').split(',').filter((part) => part.trim() !== '')) {
    const value = parseNumber(item, flag);
    if (!value.ok) return value;
    values.push(value.value);
  }
  return ok(values);
}

export function parseIptablesArgs(argv: string[]): Result<{ action: IptablesAction; options: InterceptOptions }, string> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: Object.fromEntries(FLAGS.map((name) => [name, { type: 'string' as const }])) });
  } catch (error) {
    return err(`${(error as Error).message}; see mesh-sidecar iptables --help`);
  }
  const [action, ...extra] = parsed.positionals;
  if (action !== 'install' && action !== 'uninstall' && action !== 'print') {
    return err(`iptables: expected install, uninstall or print, got ${action === undefined ? 'nothing' : `"${action}"`}`);
  }
  if (extra.length > 0) return err(`iptables ${action}: unexpected argument "${extra.join(' ')}"`);
  const values = parsed.values as Partial<Record<(typeof FLAGS)[number], string>>;
  const single = (flag: (typeof FLAGS)[number], fallback: number | undefined): Result<number | undefined, string> => {
    const text = values[flag];
    return text === undefined ? ok(fallback) : parseNumber(text, flag);
  };
  const proxyUid = single('proxy-uid', 1337);
  if (!proxyUid.ok) return proxyUid;
  const proxyGid = single('proxy-gid', undefined);
  if (!proxyGid.ok) return proxyGid;
  const outboundPort = single('outbound-port', 15001);
  if (!outboundPort.ok) return outboundPort;
  const inboundPort = single('inbound-port', 15006);
  if (!inboundPort.ok) return inboundPort;
  const excludeInboundPorts = parseList(values['exclude-inbound-ports'], 'exclude-inbound-ports');
  if (!excludeInboundPorts.ok) return excludeInboundPorts;
  const excludeOutboundPorts = parseList(values['exclude-outbound-ports'], 'exclude-outbound-ports');
  if (!excludeOutboundPorts.ok) return excludeOutboundPorts;
  const includeText = values['include-inbound-ports'];
  const includeInboundPorts: Result<number[] | '*', string> = includeText === undefined || includeText.trim() === '*' ? ok('*') : parseList(includeText, 'include-inbound-ports');
  if (!includeInboundPorts.ok) return includeInboundPorts;
  const options = validateInterceptOptions({
    proxyUid: proxyUid.value ?? 1337,
    ...(proxyGid.value === undefined ? {} : { proxyGid: proxyGid.value }),
    outboundPort: outboundPort.value ?? 15001,
    inboundPort: inboundPort.value ?? 15006,
    excludeInboundPorts: excludeInboundPorts.value,
    excludeOutboundPorts: excludeOutboundPorts.value,
    excludeOutboundCidrs: (values['exclude-outbound-cidrs'] ?? '').split(',').map((cidr) => cidr.trim()).filter((cidr) => cidr !== ''),
    includeInboundPorts: includeInboundPorts.value,
  });
  return options.ok ? ok({ action, options: options.value }) : options;
}
