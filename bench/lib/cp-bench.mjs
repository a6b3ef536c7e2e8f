// Control-plane figure: time from an Apply on the admin API to the ACK of every simulated sidecar.
// Many simulated sidecars live in this ONE process, each the sidecar's own DiscoveryClient with its
// own gRPC channel (its own TLS connection) to a real mesh-control-plane process. A sidecar ACKs a
// push in the same synchronous step in which it applies it (DiscoveryClient.onResponse), so the
// moment its inbound-policy listener sees the new policy is the moment it sends the ACK; that is
// what is timed here. The control plane's own view (ListProxies: every sim SYNCED on the new
// version) is polled too, as a check and an upper bound.
//   node cp-bench.mjs --address H:P --data-dir DIR --sims 100,1000 --trials 5
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createCsr, createLogger, formatSpiffeId, generateKeyPair, TYPE_URLS } from '@tsmesh/proto';
import { AdminClient, loadCertificateAuthority, readMeshctlConfig, controlPlaneSpiffeId } from '@tsmesh/control-plane';
import { DiscoveryClient } from '../../sidecar/dist/discovery/client.js';
import { MutableTlsMaterialSource } from '../../sidecar/dist/identity/tls-material.js';

const { values } = parseArgs({ options: { address: { type: 'string' }, 'data-dir': { type: 'string' }, sims: { type: 'string', default: '100,1000' }, trials: { type: 'string', default: '5' } } });
const address = values.address;
const dataDir = values['data-dir'];
const simCounts = values.sims.split(',').map(Number).filter((n) => n > 0);
const trials = Number(values.trials);
const NAMESPACE = 'bench';
const SERVICE = 'sim';
const silent = createLogger('sim', () => undefined);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function waitFor(what, check, timeoutMs, intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

async function main() {
  const ca = await loadCertificateAuthority(dataDir, { logger: silent });
  const config = readMeshctlConfig(join(dataDir, 'meshctl.yaml'));
  if (!config.ok) throw new Error(config.error);
  const admin = new AdminClient({ ...config.value, server: address });
  // One workload identity for all sims (a Deployment's replicas share one); node ids differ.
  const keys = await generateKeyPair();
  const spiffeId = formatSpiffeId({ trustDomain: ca.trustDomain, namespace: NAMESPACE, serviceAccount: SERVICE });
  const signed = ca.signWorkload(createCsr({ ...keys, spiffeId }), { expectedSpiffeId: spiffeId });
  if (!signed.ok) throw new Error(signed.error.message);
  const material = { keyPem: keys.privateKeyPem, certChainPem: signed.value.certChainPem.join(''), trustBundlePem: signed.value.trustBundlePem, spiffeId, notAfter: signed.value.notAfter };
  let trialCounter = 0;

  for (const n of simCounts) {
    const sims = [];
    const connectStarted = Date.now();
    for (let i = 0; i < n; i++) {
      const sim = { id: `sim-${n}-${i}`, marker: '', seenAt: 0, t0: 0 };
      sim.client = new DiscoveryClient({
        controlPlaneAddress: address,
        controlPlaneIdentity: controlPlaneSpiffeId(ca.trustDomain),
        trustDomain: ca.trustDomain,
        node: { id: sim.id, service: SERVICE, namespace: NAMESPACE },
        tls: new MutableTlsMaterialSource(material),
        logger: silent,
        onTrustBundle: () => undefined,
        backoff: { baseMs: 200, maxMs: 2_000 },
      });
      sim.client.onInboundPolicy((policy) => {
        if (sim.marker && sim.seenAt === 0 && JSON.stringify(policy).includes(sim.marker)) sim.seenAt = performance.now();
      });
      sim.client.start();
      sims.push(sim);
      // Connect in batches: the point is the push, not a thundering herd of handshakes.
      if (i % 50 === 49) await sleep(20);
    }
    await waitFor(`${n} sims to receive their first inbound policy`, () => sims.every((s) => s.client.hasApplied(TYPE_URLS.inboundPolicy)), 120_000, 50);
    const ids = new Set(sims.map((s) => s.id));
    const allSynced = async () => {
      const { proxies } = await admin.listProxies();
      let synced = 0;
      for (const p of proxies) {
        if (!ids.has(p.node_id)) continue;
        const t = p.types.find((x) => x.type_url === TYPE_URLS.inboundPolicy);
        if (t && t.state === 'SYNCED' && t.version_acked === t.version_sent) synced += 1;
      }
      return synced === n;
    };
    await waitFor(`${n} sims SYNCED in ListProxies`, allSynced, 60_000, 100);
    emit({ event: 'connected', sims: n, seconds: (Date.now() - connectStarted) / 1000 });
    const perTrial = [];
    const all = [];
    for (let k = 0; k < trials; k++) {
      await sleep(300);
      const marker = `/bench-trial-${++trialCounter}-${Date.now()}*`;
      for (const s of sims) {
        s.marker = marker;
        s.seenAt = 0;
      }
      const t0 = performance.now();
      await admin.apply([
        {
          apiVersion: 'mesh.tsmesh.dev/v1alpha1',
          kind: 'AuthorizationPolicy',
          metadata: { name: 'bench-trial', namespace: NAMESPACE },
          spec: { service: SERVICE, action: 'DENY', rules: [{ to: [{ paths: [marker] }] }] },
        },
      ], { message: `bench trial ${trialCounter}` });
      const applied = performance.now() - t0;
      await waitFor(`${n} sims to receive trial ${k}`, () => sims.every((s) => s.seenAt > 0), 60_000, 5);
      const clientAllMs = Math.max(...sims.map((s) => s.seenAt - t0));
      await waitFor(`${n} sims to show SYNCED after trial ${k}`, allSynced, 60_000, 50);
      const serverAllMs = performance.now() - t0;
      const latencies = sims.map((s) => s.seenAt - t0).sort((a, b) => a - b);
      all.push(...latencies);
      const trial = { applyRpcMs: applied, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: clientAllMs, listProxiesAllSyncedMs: serverAllMs };
      perTrial.push(trial);
      emit({ event: 'trial', sims: n, trial: k, ...trial });
    }
    all.sort((a, b) => a - b);
    emit({
      event: 'result',
      sims: n,
      trials,
      samples: all.length,
      p50Ms: percentile(all, 50),
      p99Ms: percentile(all, 99),
      maxMs: all[all.length - 1],
      applyRpcMsMedian: median(perTrial.map((t) => t.applyRpcMs)),
      listProxiesAllSyncedMsMedian: median(perTrial.map((t) => t.listProxiesAllSyncedMs)),
      listProxiesAllSyncedMsMax: Math.max(...perTrial.map((t) => t.listProxiesAllSyncedMs)),
      perTrial,
    });
    for (const s of sims) s.client.stop();
    await sleep(1_000);
  }
  admin.close();
  process.exit(0);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

main().catch((error) => {
  process.stderr.write(`cp-bench: ${error.stack ?? error}\n`);
  process.exit(1);
});
