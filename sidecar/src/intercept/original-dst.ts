// Where a redirected connection was headed (SO_ORIGINAL_DST), through the optional native addon in sidecar/native.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { ok, err, type Result } from '@tsmesh/proto';

export interface OriginalDestination {
  address: string;
  port: number;
}

export interface OriginalDstReader {
  // A connection that conntrack saw but no rule redirected reports the address it dialled, i.e. the listener's own
  // (compare with socket.localAddress/localPort to tell explicit from transparent); ENOENT only comes without a
  // conntrack entry. Errors are expected failures: no conntrack entry, or a socket without an fd.
  read: (socket: Socket) => Result<OriginalDestination, string>;
}

interface Addon {
  originalDst: (fd: number) => OriginalDestination;
}

// Built at npm install (best effort) or by `npm run build:native -w sidecar`; MESH_ORIGINAL_DST_ADDON points elsewhere.
export const DEFAULT_ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/original_dst.node', import.meta.url));

// The fd behind a net.Socket. `_handle.fd` is Node-internal (TCPWrap on Unix), not a public API: it is -1 or
// absent on Windows and for sockets not backed by a TCP handle, and could change in a future Node release.
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function isAddon(value: unknown): value is Addon {
  return typeof value === 'object' && value !== null && typeof (value as { originalDst?: unknown }).originalDst === 'function';
}

// Loads the addon once per call; a failure says why transparent mode is unavailable, for the sidecar to log.
export function loadOriginalDst(path: string = process.env.MESH_ORIGINAL_DST_ADDON ?? DEFAULT_ADDON_PATH): Result<OriginalDstReader, string> {
  if (process.platform !== 'linux') return err(`transparent mode unavailable: SO_ORIGINAL_DST is Linux-only (this is ${process.platform})`);
  if (!existsSync(path)) return err(`transparent mode unavailable: the SO_ORIGINAL_DST addon is not built (${path} is missing; run node sidecar/native/build.mjs)`);
  let addon: unknown;
  try {
    addon = createRequire(import.meta.url)(path);
  } catch (error) {
    return err(`transparent mode unavailable: cannot load ${path}: ${(error as Error).message}`);
  }
  if (!isAddon(addon)) return err(`transparent mode unavailable: ${path} does not export originalDst(fd)`);
  const native = addon;
  return ok({
    read: (socket) => {
      const fd = socketFd(socket);
      if (fd === undefined) return err('original destination unknown: the socket exposes no file descriptor');
      try {
        return ok(native.originalDst(fd));
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'ENOENT') return err('original destination unknown: conntrack has no entry for this connection (not redirected)');
        return err(`original destination unknown: ${(error as Error).message}`);
      }
    },
  });
}
