// Runs one example service: node examples/dist/service-main.js --name orders --port 8081 (HTTP_PROXY = its sidecar).
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import { createExampleServer, EXAMPLE_SERVICES, type ExampleService } from './services.js';

const { values } = parseArgs({ options: { name: { type: 'string' }, port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
const name = values.name as ExampleService | undefined;
if (!name || !EXAMPLE_SERVICES.includes(name)) {
  process.stderr.write(`service-main: --name must be one of ${EXAMPLE_SERVICES.join(', ')}\n`);
  process.exit(2);
}
const proxy = process.env['HTTP_PROXY'] ?? process.env['http_proxy'];
if (!proxy) {
  process.stderr.write('service-main: set HTTP_PROXY to the sidecar outbound listener, e.g. http://127.0.0.1:15001\n');
  process.exit(2);
}
const server = createExampleServer(name, proxy);
server.listen(Number(values.port), values.host, () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', service: name, port: (server.address() as AddressInfo).port })}\n`);
});
const stop = (): void => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
