/**
 * The floor's server: a bare node:http server answering every request with an empty 200, in a
 * process of its own (as each Concord node is), so that its round trip is what Node's HTTP
 * stack costs with nothing behind it. Prints `{"port":N}` once listening on 127.0.0.1; exits
 * when its parent goes away (the IPC channel closes) or on SIGTERM.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const server = http.createServer((_request, response) => {
  response.end();
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
const stop = (): void => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
