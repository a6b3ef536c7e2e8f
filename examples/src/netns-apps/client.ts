// The pod apps' client, with no mesh knowledge: one call by address and port, its result printed as one JSON line.
// node examples/dist/netns-apps/client.js http|wait-ready|grpc-unary|grpc-chat|grpc-refuse|tcp-echo|tcp-banner ARGS...
import { request } from 'node:http';
import { connect } from 'node:net';
import { Client, Metadata, credentials, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { ECHO_SERVICE, type ClientFailure, type EchoMessage, type GrpcResult, type HttpResult, type TcpResult } from './contract.js';

const CALL_TIMEOUT_MS = 15_000;

function httpCall(method: string, url: string, body: string | undefined): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, timeout: CALL_TIMEOUT_MS, headers: body === undefined ? {} : { 'content-type': 'text/plain' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${CALL_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function waitReady(url: string, timeoutMs: number): Promise<HttpResult> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
  while (Date.now() < deadline) {
    const result = await httpCall('GET', url, undefined).catch((error: Error) => error);
    if (!(result instanceof Error) && result.status === 200) return result;
    last = result instanceof Error ? result.message : `${result.status} ${result.body.trim()}`;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms: ${last}`);
}

const strings = (metadata: Metadata): Record<string, string> =>
  Object.fromEntries(Object.entries(metadata.getMap()).map(([key, value]) => [key, value.toString()]));

function grpcUnary(address: string, name: 'Unary' | 'Refuse', text: string): Promise<GrpcResult> {
  const client = new Client(address, credentials.createInsecure());
  const method = ECHO_SERVICE[name];
  return new Promise((resolve) => {
    const messages: EchoMessage[] = [];
    const call = client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, { text }, new Metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS }, (error: ServiceError | null, reply?: EchoMessage) => {
      if (!error && reply) messages.push(reply);
    });
    // 'status' comes after the callback and carries the trailers on success and on failure alike.
    call.on('status', (status: StatusObject) => {
      client.close();
      resolve({ code: status.code, details: status.details, trailers: strings(status.metadata), messages });
    });
  });
}

// Ping-pong: each message is sent only after the previous answer came back, so both directions stream at once.
function grpcChat(address: string, text: string, count: number): Promise<GrpcResult> {
  const client = new Client(address, credentials.createInsecure());
  const method = ECHO_SERVICE.Chat;
  return new Promise((resolve) => {
    const messages: EchoMessage[] = [];
    const call = client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, new Metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS });
    call.on('data', (message: EchoMessage) => {
      messages.push(message);
      if (messages.length < count) call.write({ text: `${text}-${messages.length + 1}` });
      else call.end();
    });
    call.on('error', () => undefined);
    call.on('status', (status: StatusObject) => {
      client.close();
      resolve({ code: status.code, details: status.details, trailers: strings(status.metadata), messages });
    });
    call.write({ text: `${text}-1` });
  });
}

// Reads until `done` says the bytes so far are complete; the banner variant sends nothing until the server has spoken.
function tcpCall(host: string, port: number, text: string, bannerFirst: boolean): Promise<TcpResult> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: CALL_TIMEOUT_MS });
    let data = '';
    let banner: string | undefined;
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      if (!bannerFirst) socket.write(text);
    });
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (bannerFirst && banner === undefined && data.includes('\n')) {
        banner = data.slice(0, data.indexOf('\n'));
        data = data.slice(data.indexOf('\n') + 1);
        socket.write(text);
      }
      if (data.includes(text)) {
        socket.end();
        resolve({ ...(banner === undefined ? {} : { banner }), reply: data });
      }
    });
    socket.on('timeout', () => socket.destroy(new Error(`no ${bannerFirst && banner === undefined ? 'banner' : 'echo'} from ${host}:${port} within ${CALL_TIMEOUT_MS} ms (got "${data}")`)));
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`${host}:${port} closed the connection (got "${data}")`)));
  });
}

async function main(args: string[]): Promise<unknown> {
  const [op, a = '', b = '', c = ''] = args;
  switch (op) {
    case 'http':
      return httpCall(a, b, c === '' ? undefined : c);
    case 'wait-ready':
      return waitReady(a, Number(b));
    case 'grpc-unary':
      return grpcUnary(a, 'Unary', b);
    case 'grpc-refuse':
      return grpcUnary(a, 'Refuse', b);
    case 'grpc-chat':
      return grpcChat(a, b, Number(c));
    case 'tcp-echo':
      return tcpCall(a, Number(b), c, false);
    case 'tcp-banner':
      return tcpCall(a, Number(b), c, true);
    default:
      throw new Error(`unknown operation ${op ?? '(none)'}`);
  }
}

try {
  process.stdout.write(`${JSON.stringify(await main(process.argv.slice(2)))}\n`);
  process.exit(0);
} catch (error) {
  const failure: ClientFailure = { error: (error as Error).message };
  process.stdout.write(`${JSON.stringify(failure)}\n`);
  process.exit(1);
}
