// An opaque TCP connection to the local app: the tunnel a peer's plain CONNECT asked for.
import { connect } from 'node:net';
import { AppUnavailableError, InternalError } from '../../errors.js';
import type { AppResponse, InboundRequest } from './types.js';

export function connectApp(req: InboundRequest, host: string, port: number): Promise<AppResponse> {
  return new Promise<AppResponse>((resolve, reject) => {
    if (req.peerId === null) {
      reject(new InternalError('inbound/app: an opaque connection reached the app without an authenticated peer'));
      return;
    }
    const socket = connect({ host, port, allowHalfOpen: true });
    const onAbort = (): void => void socket.destroy();
    req.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      req.signal.removeEventListener('abort', onAbort);
      const what = error.code === 'ECONNREFUSED' ? 'connection refused by the app' : `cannot connect to the app (${error.message})`;
      reject(new AppUnavailableError(`inbound/app: ${what} at ${host}:${port} (opaque TCP)`, { cause: error }));
    });
    socket.once('connect', () => {
      req.signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.on('error', () => socket.destroy());
      resolve({ headers: { ':status': 200 }, body: socket, tunnel: socket, head: null });
    });
  });
}
