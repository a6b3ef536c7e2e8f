// Checks a pushed response before anything of it is applied; a bad one is NACKed whole.
import { X509Certificate } from 'node:crypto';
import { TYPE_URLS, isAppProtocol, isValidName, parseHostPort, parseSpiffeId, decodeInboundPolicy, decodeServiceRoutes, ok, err, type Resource__Output, type Result, type InboundPolicy, type ServiceRoutes } from '@tsmesh/proto';
import type { AddressOwner, ServiceEndpoint } from './endpoint-resolver.js';

export interface ServiceEntry {
  known: boolean;
  endpoints: ServiceEndpoint[];
}

export type ValidatedResources =
  | { typeUrl: typeof TYPE_URLS.trustBundle; rootsPem: string[] }
  | { typeUrl: typeof TYPE_URLS.endpoints; services: Map<string, ServiceEntry> }
  | { typeUrl: typeof TYPE_URLS.inboundPolicy; policy: InboundPolicy | undefined }
  | { typeUrl: typeof TYPE_URLS.serviceRoutes; routes: Map<string, ServiceRoutes> }
  // null: no mesh workload serves the address.
  | { typeUrl: typeof TYPE_URLS.workloadAddresses; addresses: Map<string, AddressOwner | null> };

export function validateResponse(typeUrl: string, resources: Resource__Output[], trustDomain: string): Result<ValidatedResources, string> {
  if (typeUrl === TYPE_URLS.trustBundle) return validateTrustBundle(resources, trustDomain);
  if (typeUrl === TYPE_URLS.endpoints) return validateEndpoints(resources, trustDomain);
  if (typeUrl === TYPE_URLS.inboundPolicy) return validateInboundPolicy(resources);
  if (typeUrl === TYPE_URLS.serviceRoutes) return validateServiceRoutes(resources);
  if (typeUrl === TYPE_URLS.workloadAddresses) return validateWorkloadAddresses(resources);
  return err(`unknown type_url "${typeUrl}"`);
}

function validateInboundPolicy(resources: Resource__Output[]): Result<ValidatedResources, string> {
  if (resources.length > 1) return err(`expected at most one inbound policy, got ${resources.length}`);
  const resource = resources[0];
  if (!resource) return ok({ typeUrl: TYPE_URLS.inboundPolicy, policy: undefined });
  if (!resource.config_json) return err(`resource "${resource.name}" has no config_json`);
  const policy = decodeInboundPolicy(resource.config_json);
  if (!policy.ok) return err(`inbound policy ${resource.name}: ${policy.error}`);
  return ok({ typeUrl: TYPE_URLS.inboundPolicy, policy: policy.value });
}

function validateServiceRoutes(resources: Resource__Output[]): Result<ValidatedResources, string> {
  const routes = new Map<string, ServiceRoutes>();
  for (const resource of resources) {
    if (!resource.config_json) return err(`resource "${resource.name}" has no config_json`);
    const decoded = decodeServiceRoutes(resource.config_json);
    if (!decoded.ok) return err(`routes of ${resource.name}: ${decoded.error}`);
    if (`${decoded.value.service}.${decoded.value.namespace}` !== resource.name) return err(`resource "${resource.name}" carries routes of ${decoded.value.service}.${decoded.value.namespace}`);
    routes.set(resource.name, decoded.value);
  }
  return ok({ typeUrl: TYPE_URLS.serviceRoutes, routes });
}

function validateTrustBundle(resources: Resource__Output[], trustDomain: string): Result<ValidatedResources, string> {
  const bundle = resources[0]?.trust_bundle;
  if (resources.length !== 1 || !bundle) return err(`expected exactly one trust_bundle resource, got ${resources.length}`);
  if (bundle.trust_domain !== trustDomain) return err(`trust bundle is for trust domain "${bundle.trust_domain}", this sidecar is in "${trustDomain}"`);
  if (bundle.roots_pem.length === 0) return err('trust bundle has no roots');
  for (const [index, pem] of bundle.roots_pem.entries()) {
    try {
      const cert = new X509Certificate(pem);
      if (!cert.ca) return err(`trust bundle root ${index} is not a CA certificate`);
      if (new Date(cert.validTo).getTime() < Date.now()) return err(`trust bundle root ${index} expired at ${cert.validTo}`);
    } catch (error) {
      return err(`trust bundle root ${index} is not a PEM certificate: ${(error as Error).message}`);
    }
  }
  return ok({ typeUrl: TYPE_URLS.trustBundle, rootsPem: bundle.roots_pem });
}

function validateEndpoints(resources: Resource__Output[], trustDomain: string): Result<ValidatedResources, string> {
  const services = new Map<string, ServiceEntry>();
  for (const resource of resources) {
    const body = resource.endpoints;
    if (!body) return err(`resource "${resource.name}" is not a ServiceEndpoints`);
    if (resource.name !== `${body.service}.${body.namespace}`) return err(`resource "${resource.name}" carries endpoints of ${body.service}.${body.namespace}`);
    const endpoints: ServiceEndpoint[] = [];
    for (const [index, endpoint] of body.endpoints.entries()) {
      const where = `${resource.name} endpoint ${index}`;
      if (!parseHostPort(endpoint.address)) return err(`${where}: address "${endpoint.address}" is not host:port`);
      const identity = parseSpiffeId(endpoint.identity);
      if (!identity.ok) return err(`${where}: ${identity.error}`);
      if (identity.value.trustDomain !== trustDomain) return err(`${where}: identity ${endpoint.identity} is outside trust domain "${trustDomain}"`);
      endpoints.push({ address: endpoint.address, identity: endpoint.identity, nodeId: endpoint.node_id });
    }
    services.set(resource.name, { known: body.known, endpoints });
  }
  return ok({ typeUrl: TYPE_URLS.endpoints, services });
}

function validateWorkloadAddresses(resources: Resource__Output[]): Result<ValidatedResources, string> {
  const addresses = new Map<string, AddressOwner | null>();
  for (const resource of resources) {
    const body = resource.endpoints;
    if (!body) return err(`address resource "${resource.name}" is not a ServiceEndpoints`);
    if (!parseHostPort(resource.name)) return err(`address resource "${resource.name}" is not ip:port`);
    if (!body.known) {
      addresses.set(resource.name, null);
      continue;
    }
    if (!isValidName(body.service) || !isValidName(body.namespace)) return err(`address ${resource.name}: "${body.service}.${body.namespace}" is not <service>.<namespace>`);
    if (!isAppProtocol(body.app_protocol)) return err(`address ${resource.name}: app_protocol "${body.app_protocol}" is not http, http2, grpc, tcp or empty`);
    if (!Number.isInteger(body.target_port) || body.target_port < 0 || body.target_port > 65535) return err(`address ${resource.name}: target_port ${body.target_port} is not a port`);
    addresses.set(resource.name, { service: { name: body.service, namespace: body.namespace }, protocol: body.app_protocol, targetPort: body.target_port === 0 ? null : body.target_port, nodeId: body.endpoints[0]?.node_id || null });
  }
  return ok({ typeUrl: TYPE_URLS.workloadAddresses, addresses });
}
