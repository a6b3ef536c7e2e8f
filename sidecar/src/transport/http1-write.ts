// Writing HTTP/1.1 by hand: header lines from a header map, and one chunk of a chunked body.
import type { OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

// "name: value\r\n" for each header; a list becomes one line per value. Pseudo-headers (":status") never appear in HTTP/1.1.
export function headerLines(headers: OutgoingHttpHeaders): string {
  let lines = '';
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) lines += `${name}: ${v}\r\n`;
    else lines += `${name}: ${value}\r\n`;
  }
  return lines;
}

// One chunk (RFC 9112 7.1) in one corked write; false when the socket asks the writer to wait for 'drain'.
export function writeChunk(socket: Socket, chunk: Buffer): boolean {
  socket.cork();
  socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
  socket.write(chunk);
  const more = socket.write('\r\n', 'latin1');
  socket.uncork();
  return more;
}
