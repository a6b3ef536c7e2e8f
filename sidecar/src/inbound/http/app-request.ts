// What every request to the local app shares, whichever client carries it: its HTTP/1.1 headers, and how its failures read.
import { AppUnavailableError } from '../../errors.js';
import { h2ToH1, isHopByHop, PEER_IDENTITY_HEADER } from '../../pipeline/headers.js';
import type { FieldFilter } from '../../transport/http1-write.js';
import type { InboundRequest } from './types.js';
import { headerBag } from '../../transport/header-bag.js';

// The fields of the caller's request that the app never sees from it: hop-by-hop ones, and the peer
// identity, which the app trusts, so only this sidecar sets it. The HTTP/1.1 pool writes its head with
// the same filter (app-h1.ts), then host and the peer identity, as below.
export const notFromCaller: FieldFilter = (name) => isHopByHop(name) || name === PEER_IDENTITY_HEADER;

export function appH1Headers(req: InboundRequest): Record<string, string | string[]> {
  const headers = headerBag<Record<string, string | string[]>>();
  h2ToH1(req.headers, headers, notFromCaller);
  headers['host'] = req.authority;
  if (req.peerId !== null) headers[PEER_IDENTITY_HEADER] = req.peerId;
  return headers;
}

// where: "host:port", with " (h2c)" when the app speaks HTTP/2.
export function appUnavailable(error: Error & { code?: string }, where: string): AppUnavailableError {
  return new AppUnavailableError(`inbound/app: ${describe(error)} at ${where}`, { cause: error });
}

function describe(error: Error & { code?: string }): string {
  if (error.code === 'ECONNREFUSED') return 'connection refused by the app';
  if (error.code === 'ERR_MALFORMED_ANSWER') return error.message;
  return `the app failed before answering (${error.message})`;
}
