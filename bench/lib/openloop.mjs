// Open-loop fixed-rate HTTP/1.1 load (wrk2-style): requests are scheduled at a fixed rate whatever
// the server does, over a fixed set of keep-alive connections. A request that falls due while every
// connection is busy waits in a queue, and its latency counts from when it was due (no coordinated
// omission). A request sent on time counts from when it was written, so the client's own 1 ms timer
// granularity is not charged to the server. Latencies are kept exactly (microseconds, sorted at the
// end), no histogram bucketing. Prints one JSON line.
//   node openloop.mjs --port P [--host-header H] --rate R --duration S [--warmup S] [--connections C]
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'host-header': { type: 'string', default: 'localhost' },
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' },
    path: { type: 'string', default: '/' },
  },
});
const port = Number(values.port);
const rate = Number(values.rate);
const durationNs = BigInt(Math.round(Number(values.duration) * 1e9));
const warmupNs = BigInt(Math.round(Number(values.warmup) * 1e9));
const connectionCount = Number(values.connections);
const request = Buffer.from(`GET ${values.path} HTTP/1.1\r\nHost: ${values['host-header']}\r\nUser-Agent: tsmesh-bench-openloop\r\nAccept: */*\r\n\r\n`, 'latin1');
const intervalNs = BigInt(Math.round(1e9 / rate));
const CRLFCRLF = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

const now = () => process.hrtime.bigint();
let latencies = new Float64Array(Math.ceil(rate * (Number(values.duration) + 5)) + 1024);
let recorded = 0;
const stats = { sent: 0, completed: 0, completedMeasured: 0, non2xx: 0, errors: 0, reconnects: 0, queuedSends: 0, maxQueue: 0, non2xxByStatus: {} };
let recordFrom = 0n;
let stopping = false;
const queue = [];
const idle = [];
const all = new Set();

function record(startNs, endNs) {
  stats.completed += 1;
  if (startNs < recordFrom) return;
  stats.completedMeasured += 1;
  if (recorded === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[recorded++] = Number(endNs - startNs) / 1000;
}

function openConnection() {
  return new Promise((resolve, reject) => {
    const c = { socket: undefined, buf: undefined, state: 0, remaining: 0, start: 0n, busy: false, close: false, status: 0 };
    const socket = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(c));
    c.socket = socket;
    all.add(c);
    socket.on('data', (chunk) => onData(c, chunk));
    socket.on('error', (error) => {
      if (!c.socket.connecting) return;
      reject(error);
    });
    socket.on('close', () => onClose(c));
  });
}

function onClose(c) {
  all.delete(c);
  if (stopping) return;
  if (c.busy) stats.errors += 1;
  const i = idle.indexOf(c);
  if (i >= 0) idle.splice(i, 1);
  stats.reconnects += 1;
  openConnection().then(release, () => {
    stats.errors += 1;
    setTimeout(() => onClose(c), 100);
  });
}

function send(c, startNs) {
  c.busy = true;
  c.start = startNs;
  c.state = 0;
  stats.sent += 1;
  c.socket.write(request);
}

// A connection is free again: serve the oldest queued request (latency from when it fell due).
function release(c) {
  c.busy = false;
  if (c.close) {
    c.close = false;
    c.socket.destroy();
    return;
  }
  if (queue.length > 0 && !stopping) {
    stats.queuedSends += 1;
    send(c, queue.shift());
  } else {
    idle.push(c);
  }
}

function complete(c) {
  const end = now();
  if (c.status < 200 || c.status > 299) {
    stats.non2xx += 1;
    const key = c.meshError ? `${c.status} ${c.meshError.toUpperCase()}` : String(c.status);
    stats.non2xxByStatus[key] = (stats.non2xxByStatus[key] ?? 0) + 1;
  }
  record(c.start, end);
  release(c);
}

function onData(c, chunk) {
  let buf = c.buf ? Buffer.concat([c.buf, chunk]) : chunk;
  c.buf = undefined;
  for (;;) {
    if (c.state === 0) {
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) break;
      const head = buf.toString('latin1', 0, end).toLowerCase();
      c.status = Number(head.slice(9, 12));
      // A refusal by a sidecar names its cause: counted by status and x-mesh-error.
      c.meshError = c.status >= 200 && c.status <= 299 ? undefined : /\r\nx-mesh-error:\s*([^\r]*)/.exec(head)?.[1];
      buf = buf.subarray(end + 4);
      const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
      c.close = /\r\nconnection:\s*close/.test(head);
      if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
        c.state = 2;
      } else if (length && Number(length[1]) > 0) {
        c.state = 1;
        c.remaining = Number(length[1]);
      } else {
        complete(c);
        continue;
      }
    }
    if (c.state === 1) {
      if (buf.length < c.remaining) {
        c.remaining -= buf.length;
        buf = buf.subarray(buf.length);
        break;
      }
      buf = buf.subarray(c.remaining);
      c.state = 0;
      complete(c);
      continue;
    }
    if (c.state === 2) {
      const lineEnd = buf.indexOf(CRLF);
      if (lineEnd < 0) break;
      const size = parseInt(buf.toString('latin1', 0, lineEnd), 16);
      if (size === 0) {
        // Last chunk; no trailers expected: "0\r\n\r\n".
        if (buf.length < lineEnd + 4) break;
        buf = buf.subarray(lineEnd + 4);
        c.state = 0;
        complete(c);
        continue;
      }
      if (buf.length < lineEnd + 2 + size + 2) break;
      buf = buf.subarray(lineEnd + 2 + size + 2);
      continue;
    }
  }
  if (buf.length > 0) c.buf = buf;
}

function percentile(sorted, n, p) {
  if (n === 0) return NaN;
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank];
}

async function main() {
  const conns = await Promise.all(Array.from({ length: connectionCount }, openConnection));
  idle.push(...conns);
  const t0 = now();
  recordFrom = t0 + warmupNs;
  const endAt = recordFrom + durationNs;
  let i = 0n;
  setTimeout(() => process.stdout.write(`${JSON.stringify({ event: 'measuring' })}\n`), Number(warmupNs / 1000000n));
  await new Promise((resolve) => {
    const tick = () => {
      const t = now();
      for (;;) {
        const due = t0 + i * intervalNs;
        if (due > t || due >= endAt) break;
        i += 1n;
        const c = idle.pop();
        if (c) send(c, t);
        else {
          queue.push(due);
          if (queue.length > stats.maxQueue) stats.maxQueue = queue.length;
        }
      }
      const next = t0 + i * intervalNs;
      if (next >= endAt) {
        resolve();
        return;
      }
      setTimeout(tick, Math.max(0, Math.floor(Number(next - now()) / 1e6)));
    };
    tick();
  });
  // Let in-flight and queued requests finish (bounded).
  const drainUntil = Date.now() + 5_000;
  while ((queue.length > 0 || idle.length < connectionCount) && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 5));
  const unfinished = queue.length + (connectionCount - idle.length);
  stopping = true;
  for (const c of [...all]) c.socket.destroy();
  const sorted = latencies.subarray(0, recorded).sort();
  const measuredSeconds = Number(durationNs) / 1e9;
  const out = {
    rate,
    seconds: measuredSeconds,
    connections: connectionCount,
    ...stats,
    unfinished,
    samples: recorded,
    achievedRate: recorded / measuredSeconds,
    latencyUs: {
      p50: percentile(sorted, recorded, 50),
      p90: percentile(sorted, recorded, 90),
      p99: percentile(sorted, recorded, 99),
      p999: percentile(sorted, recorded, 99.9),
      max: recorded ? sorted[recorded - 1] : NaN,
      mean: recorded ? sorted.reduce((a, b) => a + b, 0) / recorded : NaN,
    },
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`openloop: ${error.stack ?? error}\n`);
  process.exit(1);
});
