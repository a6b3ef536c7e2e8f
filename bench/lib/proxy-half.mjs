// What both Node proxy pairs (N and F) share: their flags, the bench identities and TLS, and the SPIFFE-ID check.
// Kept free of the mesh's packages, so that a peer process loads nothing of ours.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export const CLIENT_ID = 'spiffe://cluster.local/ns/bench/sa/client';
export const SERVER_ID = 'spiffe://cluster.local/ns/bench/sa/backend';
export const TLS_VERSIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };

// --role client|server --listen PORT --target-port PORT --certs DIR (ca.pem, {client,server}.{crt,key}).
export function proxyHalfArgs() {
  const { values } = parseArgs({ options: { role: { type: 'string' }, listen: { type: 'string' }, 'target-port': { type: 'string' }, certs: { type: 'string' } } });
  const dir = values.certs ?? '';
  return {
    role: values.role,
    listenPort: Number(values.listen),
    targetPort: Number(values['target-port']),
    ca: readFileSync(join(dir, 'ca.pem')),
    keyPair: (who) => ({ cert: readFileSync(join(dir, `${who}.crt`)), key: readFileSync(join(dir, `${who}.key`)) }),
  };
}

// The same identity rule as the mesh: the peer's certificate must carry the expected SPIFFE ID as a URI SAN.
export const hasUri = (cert, id) => typeof cert?.subjectaltname === 'string' && cert.subjectaltname.split(', ').includes(`URI:${id}`);
