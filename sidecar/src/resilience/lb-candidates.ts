// Which endpoints a balancer may choose from, in order of preference: fresh and healthy, then avoided, then ejected.
import type { ServiceEndpoint } from '../discovery/endpoint-resolver.js';
import type { PickOptions } from './lb-types.js';

export function candidates(endpoints: readonly ServiceEndpoint[], opts?: PickOptions): readonly ServiceEndpoint[] {
  const avoid = opts?.avoid;
  const exclude = opts?.exclude;
  if ((avoid === undefined || avoid.size === 0) && exclude === undefined) return endpoints;
  // Nearly always no endpoint is avoided or excluded: then the list is the answer, and no array is built.
  let first = 0;
  while (first < endpoints.length && isFresh(endpoints[first] as ServiceEndpoint, avoid, exclude)) first++;
  if (first === endpoints.length) return endpoints;
  const preferred: ServiceEndpoint[] = endpoints.slice(0, first);
  const avoided: ServiceEndpoint[] = [];
  const ejected: ServiceEndpoint[] = [];
  for (let i = first; i < endpoints.length; i++) {
    const endpoint = endpoints[i] as ServiceEndpoint;
    const isExcluded = exclude?.(endpoint) ?? false;
    const isAvoided = avoid?.has(endpoint.address) ?? false;
    if (!isExcluded && !isAvoided) preferred.push(endpoint);
    else if (!isExcluded) avoided.push(endpoint);
    else if (!isAvoided) ejected.push(endpoint);
  }
  if (preferred.length > 0) return preferred;
  if (avoided.length > 0) return avoided;
  if (ejected.length > 0) return ejected;
  return endpoints;
}

function isFresh(endpoint: ServiceEndpoint, avoid: PickOptions['avoid'], exclude: PickOptions['exclude']): boolean {
  return !(exclude?.(endpoint) ?? false) && !(avoid?.has(endpoint.address) ?? false);
}

export function checkNoFields(raw: unknown, known: readonly string[]): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) return `must be an object, got ${JSON.stringify(raw)}`;
  for (const key of Object.keys(raw)) if (!known.includes(key)) return `${key}: unknown field (known: ${known.length > 0 ? known.join(', ') : 'none'})`;
  return undefined;
}
