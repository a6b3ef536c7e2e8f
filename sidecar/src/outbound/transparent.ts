// Every connection on the outbound port: explicit (proxy/Host form) or redirected by iptables, then by protocol.
import { connect, type Socket } from 'node:net';
import type { Logger } from '@tsmesh/proto';
import type { AddressResolver, ServiceName } from '../discovery/endpoint-resolver.js';
import { DiscoveryUnavailableError, toMeshError } from '../errors.js';
import { respondRawSocket } from '../errors-respond.js';
import type { OriginalDstReader } from '../intercept/original-dst.js';
import { detectProtocol } from './detect.js';
import type { H2ProxyServer } from './h2-proxy.js';
import { createOutboundRequest, streamBody, type OutboundHandler } from './http/types.js';

// Where a transparently intercepted connection was dialled to, and the mesh service behind that address.
export interface TransparentTarget {
  service: ServiceName;
  // "ip:port" as dialled.
  address: string;
  // The app port on the workload: the dialled one, or a Service's target port.
  port: number;
  // A pod dialled by its own address is reached and no other endpoint (null: a Service's address, balanced).
  nodeId: string | null;
}

export interface ConnectionRouterOptions {
  // Absent: explicit mode only (no --transparent, or the addon could not be loaded).
  originalDst: OriginalDstReader | undefined;
  resolver: AddressResolver;
  http1: (socket: Socket, target: TransparentTarget | undefined) => void;
  h2: H2ProxyServer;
  handler: OutboundHandler;
  // Undeclared ports: how long a silent client may take before its connection is proxied as opaque TCP.
  detectTimeoutMs: number;
  logger: Logger;
  onPassthrough?: () => void;
}

// An app using us explicitly speaks first; one that says nothing for this long is dropped.
const EXPLICIT_FIRST_BYTES_MS = 60_000;
// A port declared HTTP is not guessed at: the client gets as long as an HTTP server would give it.
const DECLARED_HTTP_FIRST_BYTES_MS = 60_000;

export function routeConnection(socket: Socket, options: ConnectionRouterOptions): void {
  socket.on('error', (error: Error) => options.logger.debug('app connection error', { error: error.message }));
  const dst = options.originalDst?.read(socket);
  const redirected = dst?.ok === true && !(dst.value.address === socket.localAddress && dst.value.port === socket.localPort);
  if (!redirected) {
    void detectProtocol(socket, EXPLICIT_FIRST_BYTES_MS).then((detection) => {
      if (detection.timedOut) socket.destroy();
      else if (detection.protocol === 'h2') options.h2.accept(socket, undefined);
      else options.http1(socket, undefined);
      socket.resume();
    });
    return;
  }
  const { address: ip, port } = dst.value;
  const address = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
  void routeRedirected(socket, address, ip, port, options);
}

async function routeRedirected(socket: Socket, address: string, ip: string, port: number, options: ConnectionRouterOptions): Promise<void> {
  socket.pause();
  const owner = await options.resolver.resolveAddress(address);
  if (socket.destroyed) return;
  if (!owner.ok) {
    // Not knowing whether the address is in the mesh, sending it in the clear could leak what mTLS protects.
    const error = new DiscoveryUnavailableError(`outbound/transparent: cannot tell which service serves ${address}: ${owner.error.message}`);
    options.logger.warn('refused an intercepted connection', { address, reason: error.message });
    const detection = await detectProtocol(socket, options.detectTimeoutMs);
    if (detection.protocol === 'http1') respondRawSocket(socket, error);
    else socket.destroy();
    return;
  }
  if (owner.value === null) {
    passthrough(socket, ip, port, options);
    return;
  }
  const target: TransparentTarget = { service: owner.value.service, address, port: owner.value.targetPort ?? port, nodeId: owner.value.nodeId };
  const declared = owner.value.protocol;
  if (declared === 'tcp') {
    tunnel(socket, target, options);
    return;
  }
  const detection = await detectProtocol(socket, declared === '' ? options.detectTimeoutMs : DECLARED_HTTP_FIRST_BYTES_MS);
  if (socket.destroyed) return;
  if (detection.protocol === 'h2') options.h2.accept(socket, target);
  else if (detection.protocol === 'http1') options.http1(socket, target);
  else if (declared === '') tunnel(socket, target, options, detection.leftover);
  else {
    options.logger.warn('closed a connection that does not speak its declared protocol', { address, declared });
    socket.destroy();
    return;
  }
  socket.resume();
}

// Not a mesh workload: out as dialled (the sidecar's own uid is exempt from the redirect), bytes untouched.
function passthrough(socket: Socket, ip: string, port: number, options: ConnectionRouterOptions): void {
  options.onPassthrough?.();
  const upstream = connect({ host: ip, port, allowHalfOpen: true });
  upstream.on('error', (error: Error) => {
    options.logger.debug('passthrough connection failed', { address: `${ip}:${port}`, error: error.message });
    socket.destroy();
  });
  socket.once('close', () => upstream.destroy());
  upstream.once('close', () => socket.destroy());
  socket.pipe(upstream);
  upstream.pipe(socket);
  socket.resume();
}

// Opaque TCP: a CONNECT stream through the whole outbound pipeline, so it is balanced, mTLS'd, identity-checked and counted.
function tunnel(socket: Socket, target: TransparentTarget, options: ConnectionRouterOptions, leftover?: Buffer): void {
  // The peer reads the app port from the authority; a Service's virtual IP means nothing to it, the port does.
  const host = target.address.slice(0, target.address.lastIndexOf(':'));
  const request = createOutboundRequest({ method: 'CONNECT', authority: `${host}:${target.port}`, path: '', headers: {}, body: null, upgrade: 'tcp' });
  request.service = target.service;
  request.appPort = target.port;
  request.pinnedNodeId = target.nodeId;
  const onEarlyClose = (): void => request.cancel(toMeshError(new Error('the app closed the connection before the tunnel opened'), 'outbound'));
  socket.once('close', onEarlyClose);
  options.handler(request).then(
    (upstream) => {
      socket.off('close', onEarlyClose);
      const stream = streamBody(upstream.body);
      if (socket.destroyed || upstream.status !== 200) {
        if (!socket.destroyed) options.logger.warn('opaque tunnel refused by the peer', { address: target.address, status: upstream.status, reason: upstream.headers['x-mesh-reason'] });
        stream.destroy();
        socket.destroy();
        return;
      }
      // Half-closes pass through (pipe ends the other side); a reset on either side resets the other.
      if (leftover) stream.write(leftover);
      socket.pipe(stream);
      stream.pipe(socket);
      stream.once('close', () => {
        if (!stream.readableEnded) socket.destroy();
      });
      socket.once('close', () => {
        if (!stream.closed) stream.close();
      });
      socket.resume();
    },
    (error: unknown) => {
      socket.off('close', onEarlyClose);
      const meshError = toMeshError(error, 'outbound');
      options.logger.warn('opaque tunnel failed', { address: target.address, code: meshError.code, reason: meshError.message });
      socket.destroy();
    },
  );
}
