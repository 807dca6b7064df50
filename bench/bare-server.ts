/**
 * The baseline: a bare node:http server answering 200 with an empty body, on the same Node and
 * with the same server options as Portcullis's ports (keep-alive, timeouts). Prints its port.
 *   node bench/bare-server.ts [port]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const server = createServer({ headersTimeout: 10_000, requestTimeout: 15_000, keepAliveTimeout: 75_000, maxHeaderSize: 64 * 1024, connectionsCheckingInterval: 1000 }, (_req, res) => {
  res.writeHead(200);
  res.end();
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
