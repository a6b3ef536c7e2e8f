// The sidecar's WebSocket to the control plane's stream server: says who it is, runs taps, answers stats requests; never blocks traffic.
import type { RequestOptions } from 'node:https';
import { WebSocket } from 'ws';
import { expectControlPlane, type Logger } from '@tsmesh/proto';
import type { TlsMaterialSource } from '../identity/tls-material.js';
import { Backoff } from '../discovery/backoff.js';
import { frameText, parseControlPlaneMessage, type SidecarMessage } from './protocol.js';
import type { TapSink } from './sink.js';
import type { RequestSeriesSnapshot } from '../telemetry/metrics.js';

export interface StreamClientOptions {
  address: string;
  // The SPIFFE ID the control plane must present.
  controlPlaneIdentity: string;
  tls: TlsMaterialSource;
  node: { nodeId: string; service: string; namespace: string };
  sink: TapSink;
  stats: () => { bounds: readonly number[]; series: RequestSeriesSnapshot[] };
  logger: Logger;
  backoff?: { baseMs: number; maxMs: number };
}

// connecting: dialling. connected: hello sent. backoff: waiting to redial. stopped: stop() was called.
export type StreamClientState = 'connecting' | 'connected' | 'backoff' | 'stopped';

// Past this much unsent data the control plane is not keeping up; tap batches are dropped rather than queued.
const MAX_BUFFERED_BYTES = 1 << 20;

export class ControlPlaneStream {
  private state: StreamClientState = 'connecting';
  private socket: WebSocket | undefined;
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: StreamClientOptions) {
    this.backoff = new Backoff(options.backoff ?? { baseMs: 500, maxMs: 15_000 });
  }

  get connectionState(): StreamClientState {
    return this.state;
  }

  start(): void {
    this.connect();
  }

  stop(): void {
    this.state = 'stopped';
    clearTimeout(this.timer);
    this.options.sink.stopAll();
    this.socket?.terminate();
  }

  private connect(): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    // Read on every dial, so a rotated certificate or trust bundle is used from the next connection on.
    const material = this.options.tls.current();
    // Typed as https options: ws hands them to https.request, and its own typing of checkServerIdentity is not Node's.
    const options: RequestOptions & { handshakeTimeout: number; perMessageDeflate: boolean } = {
      ca: material.trustBundlePem,
      cert: material.certChainPem,
      key: material.keyPem,
      // SNI carries a name, not the dialled IP (RFC 6066); identity is checked by SPIFFE ID below.
      servername: 'mesh-control-plane',
      checkServerIdentity: expectControlPlane(this.options.controlPlaneIdentity, 'the stream server'),
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
    };
    const socket = new WebSocket(`wss://${this.options.address}/v1/sidecar`, options);
    this.socket = socket;
    const send = (message: SidecarMessage): boolean => {
      if (socket.readyState !== WebSocket.OPEN || socket.bufferedAmount > MAX_BUFFERED_BYTES) return false;
      socket.send(JSON.stringify(message));
      return true;
    };
    socket.on('open', () => {
      this.state = 'connected';
      this.backoff.reset();
      send({ type: 'hello', ...this.options.node });
      this.options.sink.attach(send);
      this.options.logger.debug('connected to the control plane stream', { address: this.options.address });
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = parseControlPlaneMessage(frameText(data));
      if (message === undefined) return;
      switch (message.type) {
        case 'tap-start':
          this.options.sink.start(message.tapId, message.filter);
          send({ type: 'tap-started', tapId: message.tapId });
          return;
        case 'tap-stop':
          this.options.sink.stop(message.tapId);
          return;
        case 'stats-request':
          send({ type: 'stats', requestId: message.requestId, ...this.options.stats() });
          return;
      }
    });
    socket.on('error', (error) => this.options.logger.debug('control plane stream error', { error: error.message }));
    socket.on('close', (code, reason) => {
      if (this.socket !== socket) return;
      this.options.sink.stopAll();
      if (this.state === 'stopped') return;
      const delay = this.backoff.next();
      this.state = 'backoff';
      this.options.logger.debug('control plane stream closed; redialling', { code, reason: reason.toString(), retryInMs: delay });
      this.timer = setTimeout(() => this.connect(), delay);
      this.timer.unref();
    });
  }
}
