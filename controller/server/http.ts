/** HTTP server plumbing shared by the three ports: bounded timeouts, listening, graceful close. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * A server that cannot be held open by a slow client: headers must arrive within 10 s and the
 * whole request within 15 s. Keep-alive outlives a typical proxy idle timeout (60 s) so the
 * proxy, not Portcullis, closes idle connections (avoiding reset races on reuse).
 */
export function createHttpServer(handler: Handler, logger: Logger): Server {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 15_000, keepAliveTimeout: 75_000, maxHeaderSize: 64 * 1024 }, (req, res) => {
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      logger.error({ err }, "request handler failed");
      if (!res.headersSent) {
        res.writeHead(403, { "content-type": "application/json" });
        res.end(JSON.stringify({ code: "internal_error", message: "the request could not be handled" }));
      } else {
        res.destroy();
      }
    });
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });
  return server;
}

export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts what is left. */
export function closeGracefully(server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Reads and discards a request body (ext_authz may be configured to send one), bounded. */
export function drainBody(req: IncomingMessage, maxBytes = 1024 * 1024): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    req.on("data", (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) req.destroy();
    });
    req.on("end", resolve);
    req.on("close", resolve);
    req.on("error", resolve);
  });
}
