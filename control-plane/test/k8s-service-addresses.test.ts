// Services to virtual addresses: the pure mapping (ClusterIPs, ports, target ports, protocols, what is skipped) and its sync.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { V1EndpointSlice, V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { createLogger, parseHostPort } from '@tsmesh/proto';
import { EndpointRegistry } from '../src/discovery/registry.js';
import { portNameProtocol, portProtocol } from '../src/k8s/app-protocol.js';
import { sliceFacts, type SliceFacts } from '../src/k8s/endpoint-model.js';
import { EndpointSliceSync } from '../src/k8s/endpoint-sync.js';
import { serviceAddresses } from '../src/k8s/service-address-model.js';
import { ServiceAddressSync } from '../src/k8s/service-address-sync.js';

const service = (ports: V1ServicePort[], spec: V1Service['spec'] = { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] }): V1Service => ({ metadata: { name: 'web', namespace: 'shop' }, spec: { ...spec, ports } });
const slice = (ports: Array<{ name: string; port: number }>, pod = 'web-0', name = 'web-abcde'): V1EndpointSlice => ({
  metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.244.0.4'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: pod, namespace: 'shop' } }],
  ports: ports.map((p) => ({ ...p, protocol: 'TCP' })),
});
const facts = (...slices: V1EndpointSlice[]): SliceFacts[] => slices.map((s) => sliceFacts(s)).filter((f) => f !== undefined);
const mesh = (nodeId: string): boolean => nodeId.startsWith('web-');
const HTTP: V1ServicePort = { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' };

describe('service address model', () => {
  it('maps every ClusterIP and TCP port, IPv6 in brackets, numeric and missing targetPorts as given', () => {
    const dual = service([HTTP, { name: 'tcp-db', port: 5432, protocol: 'TCP' }, { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }], { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00:10:96::a'] });
    expect(serviceAddresses(dual, facts(slice([{ name: 'http', port: 8080 }])), mesh)).toEqual({
      serviceKey: 'web.shop',
      addresses: [
        { address: '10.96.0.10:80', protocol: 'http', targetPort: 8080 },
        { address: '[fd00:10:96::a]:80', protocol: 'http', targetPort: 8080 },
        { address: '10.96.0.10:5432', protocol: 'tcp', targetPort: 5432 },
        { address: '[fd00:10:96::a]:5432', protocol: 'tcp', targetPort: 5432 },
      ],
      problems: [],
    });
    // Before dual stack, clusterIPs may be absent: clusterIP alone says it.
    expect(serviceAddresses(service([HTTP], { clusterIP: '10.96.0.11' }), facts(slice([])), mesh).addresses).toEqual([{ address: '10.96.0.11:80', protocol: 'http', targetPort: 8080 }]);
  });

  it('resolves a named targetPort through the slices of mesh pods, and leaves it out while none gives it or they disagree', () => {
    const grpc: V1ServicePort = { name: 'grpc', port: 9000, targetPort: 'grpc-api', appProtocol: 'grpc' };
    expect(serviceAddresses(service([grpc]), facts(slice([{ name: 'grpc', port: 9090 }])), mesh).addresses).toEqual([{ address: '10.96.0.10:9000', protocol: 'grpc', targetPort: 9090 }]);
    expect(serviceAddresses(service([grpc, HTTP]), facts(slice([{ name: 'http', port: 8080 }])), mesh)).toMatchObject({
      addresses: [{ address: '10.96.0.10:80' }],
      problems: ['spec.ports[0] (grpc).targetPort "grpc-api" names a container port, and no EndpointSlice of a mesh pod gives it a number yet; left out until one does'],
    });
    const split = facts(slice([{ name: 'grpc', port: 9090 }]), slice([{ name: 'grpc', port: 9091 }], 'web-1', 'web-fghij'));
    expect(serviceAddresses(service([grpc]), split, mesh).problems).toEqual(['spec.ports[0] (grpc).targetPort "grpc-api" is port 9090 and 9091 in different pods; one virtual address leads to one target port, so it is left out']);
    // A pod without the sidecar numbering it otherwise is not where the mesh sends the call.
    const mixed = facts(slice([{ name: 'grpc', port: 9090 }]), slice([{ name: 'grpc', port: 7000 }], 'legacy-0', 'web-legacy'));
    expect(serviceAddresses(service([grpc]), mixed, mesh).addresses).toEqual([{ address: '10.96.0.10:9000', protocol: 'grpc', targetPort: 9090 }]);
  });

  it('skips headless Services, Services without a ClusterIP and Services whose slices name no mesh pod, without complaint', () => {
    const withPods = facts(slice([{ name: 'http', port: 8080 }]));
    expect(serviceAddresses(service([HTTP], { clusterIP: 'None', clusterIPs: ['None'] }), withPods, mesh)).toEqual({ serviceKey: 'web.shop', addresses: [], skipped: 'headless', problems: [] });
    expect(serviceAddresses(service([HTTP], { type: 'ExternalName', externalName: 'db.example.com' }), withPods, mesh).skipped).toBe('no-cluster-ip');
    expect(serviceAddresses(service([HTTP], { clusterIP: '' }), withPods, mesh).skipped).toBe('no-cluster-ip');
    expect(serviceAddresses(service([HTTP]), facts(slice([{ name: 'http', port: 8080 }], 'legacy-0')), mesh).skipped).toBe('no-mesh-pods');
    expect(serviceAddresses(service([HTTP]), [], mesh).skipped).toBe('no-mesh-pods');
  });

  it('names the field of each bad value and keeps the rest', () => {
    const plan = serviceAddresses(service([{ name: 'a', port: 70000, targetPort: 8080 }, { name: 'b', port: 81, targetPort: 0 }, HTTP], { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00::zz'] }), facts(slice([])), mesh);
    expect(plan.addresses).toEqual([{ address: '10.96.0.10:80', protocol: 'http', targetPort: 8080 }]);
    expect(plan.problems).toEqual(['spec.clusterIPs[1] "fd00::zz" is not an IP address', 'spec.ports[0] (a).port 70000 is not a port number (1-65535)', 'spec.ports[1] (b).targetPort 0 is not a port number (1-65535)']);
  });

  it.each([
    [{ appProtocol: 'kubernetes.io/h2c', name: 'tcp' }, 'http2'],
    [{ appProtocol: 'kubernetes.io/ws', name: 'http' }, ''],
    [{ name: 'http' }, 'http'],
    [{ name: 'http-admin' }, 'http'],
    [{ name: 'HTTP2' }, 'http2'],
    [{ name: 'grpc-web' }, 'http'],
    [{ name: 'grpc-api' }, 'grpc'],
    [{ name: 'tcp-metrics' }, 'tcp'],
    [{ name: 'redis' }, 'tcp'],
    [{ name: 'metrics' }, ''],
    [{ name: 'constructor' }, ''],
    [{}, ''],
  ])('port %j speaks %j: appProtocol when set, else the port name', (port, expected) => {
    expect(portProtocol(port)).toBe(expected);
  });

  it('writes every address as host:port of a ClusterIP, whatever the ports', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), fc.string({ maxLength: 12 }), (ip, port, target, name) => {
        const [address] = serviceAddresses(service([{ name, port, targetPort: target }], { clusterIP: ip, clusterIPs: [ip] }), facts(slice([])), mesh).addresses;
        const parsed = address ? parseHostPort(address.address) : undefined;
        return parsed?.port === port && address?.targetPort === target && address.protocol === portNameProtocol(name);
      }),
    );
  });
});

describe('service address sync', () => {
  const pod = (name: string): V1Pod => ({ metadata: { name, namespace: 'shop' }, spec: { serviceAccountName: 'web', initContainers: [{ name: 'tsmesh-sidecar' }], containers: [{ name: 'app' }] } });
  const start = () => {
    const registry = new EndpointRegistry();
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger('test', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const endpoints = new EndpointSliceSync(registry, 'cluster.local', logger);
    return { registry, lines, endpoints, services: new ServiceAddressSync(registry, endpoints, logger) };
  };

  it('indexes a Service once its slices name a mesh pod, in whatever order they come, and drops it when that pod goes', () => {
    const { registry, endpoints, services } = start();
    services.upsert(service([HTTP]));
    endpoints.upsertSlice(slice([{ name: 'http', port: 8080 }]));
    expect(registry.byAddress('10.96.0.10:80')).toBeUndefined();
    endpoints.upsertPod(pod('web-0'));
    expect(registry.byAddress('10.96.0.10:80')).toEqual({ serviceKey: 'web.shop', protocol: 'http', targetPort: 8080 });
    endpoints.removePod(pod('web-0'));
    expect(registry.byAddress('10.96.0.10:80')).toBeUndefined();
  });

  it('logs a left-out port once, not on every slice update, and a bad Service object too', () => {
    const { lines, endpoints, services } = start();
    endpoints.upsertPod(pod('web-0'));
    services.upsert(service([{ name: 'grpc', port: 9000, targetPort: 'grpc-api' }]));
    endpoints.upsertSlice(slice([{ name: 'http', port: 8080 }]));
    endpoints.upsertSlice(slice([{ name: 'http', port: 8081 }]));
    expect(lines.filter((l) => l['msg'] === 'Service port left out')).toHaveLength(1);
    services.upsert({ metadata: { name: 'nameless' }, spec: { clusterIP: '10.96.0.12' } });
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'skipped a Service without metadata.name and metadata.namespace', name: 'nameless' }));
  });
});
