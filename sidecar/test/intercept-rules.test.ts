// The interception rules: golden text, flag validation, and properties checked on a model of the nat table.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chainRules, installScript, normaliseCidr, uninstallScript, validateInterceptOptions, CHAIN, type InterceptOptions } from '../src/intercept/rules.js';
import { emptyNatState, parseNatSave, jumpsToOwnChains, OWN_CHAINS, type NatState } from '../src/intercept/nat-state.js';
import { parseIptablesArgs } from '../src/intercept/flags.js';

// What `iptables-restore --noflush` does with the lines our scripts use; a fake only for this pure algorithm.
function applyScript(state: NatState, script: string): NatState {
  const chains = new Map([...state.chains].map(([name, rules]) => [name, [...rules]]));
  const need = (name: string): string[] => {
    const rules = chains.get(name);
    if (rules === undefined) throw new Error(`no chain ${name}`);
    return rules;
  };
  for (const line of script.split('\n')) {
    if (line === '' || line === '*nat' || line === 'COMMIT') continue;
    const declared = /^:(\S+) /.exec(line);
    if (declared?.[1] !== undefined) {
      chains.set(declared[1], []);
      continue;
    }
    const [, op, chain, spec] = /^(-[ADFX]) (\S+)(?: (.+))?$/.exec(line) ?? [];
    if (op === undefined || chain === undefined) throw new Error(`cannot apply "${line}"`);
    const rules = need(chain);
    if (op === '-A') rules.push(spec ?? '');
    else if (op === '-D') {
      const index = rules.indexOf(spec ?? '');
      if (index < 0) throw new Error(`-D of a missing rule: ${line}`);
      rules.splice(index, 1);
    } else if (op === '-F') rules.length = 0;
    else {
      if (rules.length > 0) throw new Error(`-X of a non-empty chain ${chain}`);
      const referenced = [...chains.values()].some((other) => other.some((rule) => rule.endsWith(`-j ${chain}`)));
      if (referenced) throw new Error(`-X of referenced chain ${chain}`);
      chains.delete(chain);
    }
  }
  return { chains };
}

function asObject(state: NatState): Record<string, string[]> {
  return Object.fromEntries([...state.chains].sort(([a], [b]) => a.localeCompare(b)));
}

// Where a new TCP connection ends up after our nat rules: 'direct', or redirected to a local port.
interface Packet {
  dport: number;
  daddr: string;
  uid: number;
  gid: number;
  loopbackOut: boolean;
}

function inCidr(address: string, cidr: string): boolean {
  const [base, prefix] = cidr.split('/');
  const toNumber = (text: string): number => text.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(prefix));
  return Math.floor(toNumber(address) / size) === Math.floor(toNumber(base ?? '') / size);
}

function matches(rule: string, packet: Packet): boolean {
  const tokens = rule.split(' ');
  for (let i = 0; i < tokens.length; i += 1) {
    const negate = tokens[i] === '!';
    if (negate) i += 1;
    const [flag, value] = [tokens[i], tokens[i + 1] ?? ''];
    let hit: boolean;
    if (flag === '-p' || flag === '-m') hit = true;
    else if (flag === '--dport') hit = packet.dport === Number(value);
    else if (flag === '-d') hit = inCidr(packet.daddr, value);
    else if (flag === '-o') hit = packet.loopbackOut === (value === 'lo');
    else if (flag === '--uid-owner') hit = packet.uid === Number(value);
    else if (flag === '--gid-owner') hit = packet.gid === Number(value);
    else if (flag === '-j') return true;
    else throw new Error(`evaluator does not know ${flag} in "${rule}"`);
    if (hit === negate) return false;
    i += 1;
  }
  return true;
}

function verdict(options: InterceptOptions, chain: string, packet: Packet): 'direct' | number {
  const rules = new Map(chainRules(options).map(({ chain: name, rules: list }) => [name, list]));
  for (const rule of rules.get(chain) ?? []) {
    if (!matches(rule, packet)) continue;
    const target = ` ${rule}`.split(' -j ')[1] ?? '';
    if (target === 'RETURN') return 'direct';
    if (target.startsWith('REDIRECT --to-ports ')) return Number(target.split(' ').pop());
    return verdict(options, target, packet);
  }
  return 'direct';
}

const base: InterceptOptions = { proxyUid: 1337, outboundPort: 15001, inboundPort: 15006, excludeInboundPorts: [15000], excludeOutboundPorts: [], excludeOutboundCidrs: [] };

const port = fc.integer({ min: 1, max: 65535 });
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((octets) => octets.join('.'));
const cidr = fc.tuple(ipv4, fc.integer({ min: 8, max: 32 })).map(([address, prefix]) => `${address}/${prefix}`);
const optionsArb: fc.Arbitrary<InterceptOptions> = fc
  .record({
    proxyUid: fc.integer({ min: 0, max: 65534 }),
    proxyGid: fc.option(fc.integer({ min: 0, max: 65534 }), { nil: undefined }),
    outboundPort: port,
    inboundPort: port,
    excludeInboundPorts: fc.array(port, { maxLength: 5 }),
    excludeOutboundPorts: fc.array(port, { maxLength: 5 }),
    excludeOutboundCidrs: fc.array(cidr, { maxLength: 5 }),
    includeInboundPorts: fc.oneof(fc.constant('*' as const), fc.array(port, { maxLength: 5 })),
  })
  .filter((options) => options.outboundPort !== options.inboundPort)
  .map((options) => {
    const { proxyGid, ...rest } = options;
    const validated = validateInterceptOptions(proxyGid === undefined ? rest : { ...rest, proxyGid });
    if (!validated.ok) throw new Error(validated.error);
    return validated.value;
  });

// Someone else's rules already in the table: install and uninstall must leave them exactly as they were.
const foreignState: fc.Arbitrary<NatState> = fc
  .record({
    prerouting: fc.array(port.map((p) => `-p tcp -m tcp --dport ${p} -j RETURN`), { maxLength: 3 }),
    output: fc.array(ipv4.map((address) => `-d ${address}/32 -j RETURN`), { maxLength: 3 }),
    otherChain: fc.boolean(),
  })
  .map(({ prerouting, output, otherChain }) => {
    const state = emptyNatState();
    state.chains.set('PREROUTING', prerouting);
    state.chains.set('OUTPUT', output);
    if (otherChain) state.chains.set('KUBE_SOMETHING', ['-j RETURN']);
    return state;
  });

describe('installScript', () => {
  it('matches the golden script for the injector defaults', () => {
    const options = validateInterceptOptions({ ...base, proxyGid: 1337, excludeOutboundPorts: [53], excludeOutboundCidrs: ['10.96.7.1/12'] });
    expect(options.ok).toBe(true);
    if (!options.ok) return;
    expect(installScript(options.value, emptyNatState())).toBe(
      [
        '*nat',
        ':TSMESH_INBOUND - [0:0]',
        ':TSMESH_REDIRECT - [0:0]',
        ':TSMESH_IN_REDIRECT - [0:0]',
        ':TSMESH_OUTPUT - [0:0]',
        '-A TSMESH_INBOUND -p tcp -m tcp --dport 15000 -j RETURN',
        '-A TSMESH_INBOUND -p tcp -j TSMESH_IN_REDIRECT',
        '-A TSMESH_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
        '-A TSMESH_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
        '-A TSMESH_OUTPUT -p tcp -m tcp --dport 53 -j RETURN',
        '-A TSMESH_OUTPUT -d 10.96.0.0/12 -j RETURN',
        '-A TSMESH_OUTPUT ! -d 127.0.0.0/8 -o lo -m owner --uid-owner 1337 -j TSMESH_IN_REDIRECT',
        '-A TSMESH_OUTPUT -m owner --uid-owner 1337 -j RETURN',
        '-A TSMESH_OUTPUT ! -d 127.0.0.0/8 -o lo -m owner --gid-owner 1337 -j TSMESH_IN_REDIRECT',
        '-A TSMESH_OUTPUT -m owner --gid-owner 1337 -j RETURN',
        '-A TSMESH_OUTPUT -d 127.0.0.0/8 -j RETURN',
        '-A TSMESH_OUTPUT -j TSMESH_REDIRECT',
        '-A PREROUTING -p tcp -j TSMESH_INBOUND',
        '-A OUTPUT -p tcp -j TSMESH_OUTPUT',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('redirects only the listed inbound ports when --include-inbound-ports is given', () => {
    const inbound = chainRules({ ...base, excludeInboundPorts: [], includeInboundPorts: [8080, 9090] }).find(({ chain }) => chain === CHAIN.inbound);
    expect(inbound?.rules).toEqual(['-p tcp -m tcp --dport 8080 -j TSMESH_IN_REDIRECT', '-p tcp -m tcp --dport 9090 -j TSMESH_IN_REDIRECT']);
  });

  it('does not add the hooks again when they are already there, and removes duplicated ones', () => {
    const state = emptyNatState();
    state.chains.set('PREROUTING', ['-p tcp -j TSMESH_INBOUND', '-p tcp -j TSMESH_INBOUND']);
    state.chains.set('OUTPUT', ['-p tcp -j TSMESH_OUTPUT']);
    const script = installScript(base, state);
    expect(script).toContain('-D PREROUTING -p tcp -j TSMESH_INBOUND\n');
    expect(script).not.toContain('-A PREROUTING');
    expect(script).not.toContain('-A OUTPUT');
  });
});

describe('properties on a model of the nat table', () => {
  it('uninstall removes exactly what install added, whatever else is in the table', () => {
    fc.assert(
      fc.property(optionsArb, foreignState, (options, before) => {
        const installed = applyScript(before, installScript(options, before));
        expect(jumpsToOwnChains(installed)).toHaveLength(2);
        const script = uninstallScript(installed);
        expect(script).toBeDefined();
        expect(asObject(applyScript(installed, script ?? ''))).toEqual(asObject(before));
      }),
    );
  });

  it('install is idempotent, and a second install with other options leaves only the new rules', () => {
    fc.assert(
      fc.property(optionsArb, optionsArb, foreignState, (first, second, before) => {
        const once = applyScript(before, installScript(first, before));
        expect(asObject(applyScript(once, installScript(first, once)))).toEqual(asObject(once));
        const replaced = applyScript(once, installScript(second, once));
        expect(asObject(replaced)).toEqual(asObject(applyScript(before, installScript(second, before))));
      }),
    );
  });

  it('uninstall on a table without our rules changes nothing', () => {
    fc.assert(
      fc.property(foreignState, (state) => {
        expect(uninstallScript(state)).toBeUndefined();
      }),
    );
  });

  it('every excluded port and CIDR comes before any redirect in its chain', () => {
    fc.assert(
      fc.property(optionsArb, (options) => {
        for (const { chain, rules } of chainRules(options)) {
          const firstRedirect = rules.findIndex((rule) => / -j (TSMESH_REDIRECT|TSMESH_IN_REDIRECT|REDIRECT)\b/.test(` ${rule}`));
          const exclusions = chain === CHAIN.inbound ? options.excludeInboundPorts.map((p) => `--dport ${p} -j RETURN`) : chain === CHAIN.output ? [...options.excludeOutboundPorts.map((p) => `--dport ${p} -j RETURN`), ...options.excludeOutboundCidrs.map((c) => `-d ${c} -j RETURN`)] : [];
          for (const exclusion of exclusions) {
            const index = rules.findIndex((rule) => rule.includes(exclusion));
            expect(index).toBeGreaterThanOrEqual(0);
            if (firstRedirect >= 0) expect(index).toBeLessThan(firstRedirect);
          }
        }
      }),
    );
  });

  it('sends app traffic to the outbound port, and never redirects excluded or proxy-owned traffic outward', () => {
    const packet = fc.record({ dport: port, daddr: ipv4, uid: fc.integer({ min: 0, max: 65534 }), gid: fc.integer({ min: 0, max: 65534 }), loopbackOut: fc.boolean() });
    fc.assert(
      fc.property(optionsArb, packet, (options, p) => {
        const result = verdict(options, CHAIN.output, p);
        const fromProxy = p.uid === options.proxyUid || p.gid === options.proxyGid;
        const excluded = options.excludeOutboundPorts.includes(p.dport) || options.excludeOutboundCidrs.some((c) => inCidr(p.daddr, c));
        const loopbackDestination = inCidr(p.daddr, '127.0.0.0/8');
        if (excluded || loopbackDestination) expect(result).toBe('direct');
        else if (fromProxy) expect(result).toBe(p.loopbackOut ? options.inboundPort : 'direct');
        else expect(result).toBe(options.outboundPort);
      }),
    );
  });

  it('sends inbound traffic to the inbound port except on excluded ports', () => {
    const packet = fc.record({ dport: port, daddr: ipv4, uid: fc.constant(0), gid: fc.constant(0), loopbackOut: fc.constant(false) });
    fc.assert(
      fc.property(optionsArb, packet, (options, p) => {
        const included = options.includeInboundPorts === '*' || options.includeInboundPorts?.includes(p.dport) === true;
        const expected = options.excludeInboundPorts.includes(p.dport) || !included ? 'direct' : options.inboundPort;
        expect(verdict(options, CHAIN.inbound, p)).toBe(expected);
      }),
    );
  });
});

describe('parseNatSave', () => {
  it('reads iptables-save output and treats a missing *nat section as the empty built-in chains', () => {
    const saved = parseNatSave('# Generated\n*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:TSMESH_OUTPUT - [0:0]\n-A OUTPUT -p tcp -j TSMESH_OUTPUT\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DROP\nCOMMIT\n');
    expect(saved.ok && asObject(saved.value)).toEqual({ OUTPUT: ['-p tcp -j TSMESH_OUTPUT'], PREROUTING: [], TSMESH_OUTPUT: [] });
    const empty = parseNatSave('');
    expect(empty.ok && [...empty.value.chains.keys()]).toEqual(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']);
  });

  it('names the line it cannot read', () => {
    expect(parseNatSave('*nat\n:OUTPUT ACCEPT [0:0]\n-A MISSING -j RETURN\nCOMMIT\n')).toEqual({ ok: false, error: 'iptables-save line 3: cannot read "-A MISSING -j RETURN"' });
  });

  it('knows our four chains', () => {
    expect([...OWN_CHAINS].sort()).toEqual(Object.values(CHAIN).sort());
  });
});

describe('validation and flags', () => {
  it('normalises CIDRs as iptables-save prints them', () => {
    expect(normaliseCidr('10.1.2.3/8')).toEqual({ ok: true, value: '10.0.0.0/8' });
    expect(normaliseCidr('192.168.1.7')).toEqual({ ok: true, value: '192.168.1.7/32' });
    expect(normaliseCidr('0.0.0.0/0')).toEqual({ ok: true, value: '0.0.0.0/0' });
  });

  it('parses the init container arguments of the injector', () => {
    const parsed = parseIptablesArgs(['install', '--proxy-uid', '1337', '--outbound-port', '15001', '--inbound-port', '15006', '--exclude-inbound-ports', '15000', '--exclude-outbound-cidrs', '10.96.0.0/12,169.254.169.254/32']);
    expect(parsed).toEqual({ ok: true, value: { action: 'install', options: { ...base, excludeOutboundCidrs: ['10.96.0.0/12', '169.254.169.254/32'], includeInboundPorts: '*' } } });
  });

  it.each([
    [['install', '--proxy-uid', 'root'], '--proxy-uid: "root" is not a whole number'],
    [['install', '--outbound-port', '70000'], '--outbound-port: "70000" is not a port number (1-65535)'],
    [['install', '--inbound-port', '15001'], '--outbound-port and --inbound-port are both 15001; they must differ'],
    [['install', '--exclude-inbound-ports', '15000,x'], '--exclude-inbound-ports: "x" is not a whole number'],
    [['install', '--exclude-outbound-cidrs', '10.0.0.0/33'], '--exclude-outbound-cidrs: "10.0.0.0/33" has a prefix longer than 32'],
    [['install', '--exclude-outbound-cidrs', '256.0.0.0/8'], '--exclude-outbound-cidrs: "256.0.0.0/8" has an octet above 255'],
    [['install', '--exclude-outbound-cidrs', 'fd00::/8'], '--exclude-outbound-cidrs: "fd00::/8" is IPv6; only IPv4 is intercepted (no ip6tables rules are installed)'],
    [['install', '--include-inbound-ports', '0'], '--include-inbound-ports: "0" is not a port number (1-65535)'],
    [['reinstall'], 'iptables: expected install, uninstall or print, got "reinstall"'],
    [['install', 'now'], 'iptables install: unexpected argument "now"'],
  ])('rejects %j with a message naming the flag', (argv, message) => {
    expect(parseIptablesArgs(argv)).toEqual({ ok: false, error: message });
  });

  it('rejects unknown flags and points at the help', () => {
    const parsed = parseIptablesArgs(['install', '--proxy-user', '1']);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/--proxy-user.*see mesh-sidecar iptables --help/);
  });
});
