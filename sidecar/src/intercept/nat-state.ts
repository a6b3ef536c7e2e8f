// The nat table as `iptables-save -t nat` prints it: which chains exist and their rules, to plan changes against.
import { ok, err, type Result } from '@tsmesh/proto';

export const OWN_CHAINS = ['TSMESH_INBOUND', 'TSMESH_REDIRECT', 'TSMESH_IN_REDIRECT', 'TSMESH_OUTPUT'] as const;

export interface NatState {
  // Chain name -> rule specs in order, each without its leading "-A CHAIN ".
  chains: Map<string, string[]>;
}

export const BUILTIN_NAT_CHAINS = ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'] as const;

export function emptyNatState(): NatState {
  return { chains: new Map(BUILTIN_NAT_CHAINS.map((chain) => [chain, []])) };
}

// Reads the `*nat` section of iptables-save output; other tables are skipped.
export function parseNatSave(text: string): Result<NatState, string> {
  const state: NatState = { chains: new Map() };
  let inNat = false;
  let sawNat = false;
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      inNat = line === '*nat';
      sawNat ||= inNat;
      continue;
    }
    if (!inNat) continue;
    if (line === 'COMMIT') {
      inNat = false;
      continue;
    }
    const declared = /^:(\S+)\s/.exec(line);
    if (declared?.[1] !== undefined) {
      state.chains.set(declared[1], []);
      continue;
    }
    const rule = /^-A (\S+) (.+)$/.exec(line);
    const rules = rule?.[1] === undefined ? undefined : state.chains.get(rule[1]);
    if (rule?.[2] === undefined || rules === undefined) return err(`iptables-save line ${index + 1}: cannot read "${line}"`);
    rules.push(rule[2]);
  }
  // A namespace where nothing touched the nat table yet prints no *nat section: it has the built-in chains, empty.
  return ok(sawNat ? state : emptyNatState());
}

// Rules outside our chains whose target is one of our chains: the hooks that install added (or someone copied).
export function jumpsToOwnChains(state: NatState): { chain: string; rule: string }[] {
  const own = new Set<string>(OWN_CHAINS);
  const found: { chain: string; rule: string }[] = [];
  for (const [chain, rules] of state.chains) {
    if (own.has(chain)) continue;
    for (const rule of rules) {
      const target = /(?:^|\s)-[jg] (\S+)/.exec(rule)?.[1];
      if (target !== undefined && own.has(target)) found.push({ chain, rule });
    }
  }
  return found;
}
