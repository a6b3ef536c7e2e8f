// Listening helpers shared by the inbound and outbound listeners.
import type { AddressInfo, Server } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ListenerHandle {
  address: { host: string; port: number };
  // Stops listening and cuts open connections and tunnels.
  close(): Promise<void>;
  // Stops accepting, lets in-flight requests finish (at most graceMs), then closes.
  drain?(graceMs: number): Promise<void>;
}

export function listen(server: Server, host: string, port: number): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const info = server.address() as AddressInfo;
      resolve({ host: info.address, port: info.port });
    });
  });
}

// Sockets a server no longer manages itself (upgraded, tunnelled) but which still hold close() open.
export class SocketSet {
  private readonly sockets = new Set<Duplex>();

  add(socket: Duplex): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}
