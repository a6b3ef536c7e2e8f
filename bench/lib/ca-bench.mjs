// CA figure: workload CSRs signed per second, in process, one after another (CertificateAuthority.signWorkload).
// CSRs (RSA-2048, one SPIFFE ID each) are made up front from a few keys, so only signing is timed:
// parse and verify the CSR, check the identity, build and sign the leaf.
//   node ca-bench.mjs --data-dir DIR --seconds 3
import { parseArgs } from 'node:util';
import { createCsr, createLogger, formatSpiffeId, generateKeyPair } from '@tsmesh/proto';
import { initCertificateAuthority } from '@tsmesh/control-plane';

const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, seconds: { type: 'string', default: '3' } } });
const seconds = Number(values.seconds);

async function main() {
  const ca = await initCertificateAuthority(values['data-dir'], { trustDomain: 'cluster.local', logger: createLogger('ca', () => undefined) });
  const requests = [];
  const keys = await Promise.all(Array.from({ length: 8 }, () => generateKeyPair()));
  for (let i = 0; i < 64; i++) {
    const spiffeId = formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'bench', serviceAccount: `sa-${i}` });
    requests.push({ csr: createCsr({ ...keys[i % keys.length], spiffeId }), spiffeId });
  }
  // Warm up (JIT, cached issuer key), then measure.
  for (let i = 0; i < 50; i++) ca.signWorkload(requests[i % requests.length].csr, { expectedSpiffeId: requests[i % requests.length].spiffeId });
  const runs = [];
  for (let run = 0; run < 3; run++) {
    let signed = 0;
    const started = performance.now();
    const until = started + (seconds * 1000) / 3;
    while (performance.now() < until) {
      const r = requests[signed % requests.length];
      const result = ca.signWorkload(r.csr, { expectedSpiffeId: r.spiffeId });
      if (!result.ok) throw new Error(result.error.message);
      signed += 1;
    }
    runs.push(signed / ((performance.now() - started) / 1000));
  }
  runs.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ event: 'result', perSecondMedian: runs[1], perSecondMin: runs[0], perSecondMax: runs[2] })}\n`);
}

main().catch((error) => {
  process.stderr.write(`ca-bench: ${error.stack ?? error}\n`);
  process.exit(1);
});
