// Protocol detection: properties of the first-bytes classifier, and detection over real sockets (timeouts, bytes put back).
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { classify, detectProtocol, H2_PREFACE } from '../src/outbound/detect.js';

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const target = fc.stringMatching(/^\/[\x21-\x7e]{0,40}$/);
const requestLine = fc.tuple(token, target, fc.constantFrom('HTTP/1.0', 'HTTP/1.1')).map(([m, t, v]) => `${m} ${t} ${v}\r\n`);

describe('classify', () => {
  it('reads a whole request line as HTTP/1, and any prefix of one as "not yet"', () => {
    fc.assert(
      fc.property(requestLine, fc.string({ maxLength: 40 }), (line, rest) => {
        expect(classify(Buffer.from(line + rest, 'latin1'))).toBe('http1');
        for (let cut = 1; cut < line.length - 1; cut++) expect(classify(Buffer.from(line.slice(0, cut), 'latin1'))).toBeUndefined();
      }),
    );
  });

  it('reads the HTTP/2 preface as h2 whatever follows it, and waits on any prefix of it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (rest) => {
        expect(classify(Buffer.concat([H2_PREFACE, rest]))).toBe('h2');
      }),
    );
    for (let cut = 1; cut < H2_PREFACE.length; cut++) expect(classify(H2_PREFACE.subarray(0, cut))).toBeUndefined();
  });

  it('calls a TLS ClientHello, a binary protocol and a line that is not a request line opaque', () => {
    expect(classify(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]))).toBe('opaque');
    expect(classify(Buffer.from('*1\r\n$4\r\nPING\r\n'))).toBe('opaque');
    expect(classify(Buffer.from('SET key value\r\n'))).toBe('opaque');
    expect(classify(Buffer.from('GET / HTTP/2.0\r\n'))).toBe('opaque');
    expect(classify(Buffer.alloc(9000, 0x41))).toBe('opaque');
  });

  it('never calls bytes HTTP unless they hold a whole well-formed request line', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = classify(Buffer.from(bytes));
        if (result === 'http1') {
          const text = Buffer.from(bytes).toString('latin1');
          expect(text.slice(0, text.indexOf('\r\n'))).toMatch(/^\S+ \S+ HTTP\/1\.[01]$/);
        }
      }),
    );
  });
});

describe('detectProtocol over a socket', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const server of servers.splice(0)) server.close();
  });

  async function accepted(): Promise<{ client: Socket; server: Socket }> {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const serverSide = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    sockets.push(client);
    const socket = await serverSide;
    sockets.push(socket);
    return { client, server: socket };
  }

  it('detects HTTP/1 sent in pieces and leaves every byte for the next reader', async () => {
    const { client, server } = await accepted();
    const detection = detectProtocol(server, 5_000);
    client.write('GE');
    setTimeout(() => client.write('T /x HTTP/1.1\r\nHost: a\r\n\r\n'), 20);
    expect(await detection).toEqual({ protocol: 'http1', timedOut: false });
    const rest = await new Promise<string>((resolve) => {
      server.once('data', (chunk: Buffer) => resolve(chunk.toString()));
      server.resume();
    });
    expect(rest).toBe('GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
  });

  it('reads a socket that was paused before detection began (as during an address lookup)', async () => {
    const { client, server } = await accepted();
    server.pause();
    client.write('GET / HTTP/1.1\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await detectProtocol(server, 1_000)).toEqual({ protocol: 'http1', timedOut: false });
  });

  it('calls a silent client (server speaks first) opaque after the timeout, with nothing consumed', async () => {
    const { server } = await accepted();
    const started = Date.now();
    expect(await detectProtocol(server, 150)).toEqual({ protocol: 'opaque', timedOut: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(server.readableLength).toBe(0);
  });

  it('calls a client that sends half a request line and half-closes opaque, and hands back what it read', async () => {
    const { client, server } = await accepted();
    client.end('GET /x');
    const detection = await detectProtocol(server, 5_000);
    expect(detection.protocol).toBe('opaque');
    expect(detection.leftover?.toString()).toBe('GET /x');
  });
});
