/** HTTP server plumbing shared by the three ports: bounded timeouts, listening, graceful close. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { HeadResponse } from "./head-response.ts";

/** `res` is a HeadResponse: it writes rendered header lines (head-response.ts). */
export type Handler = (req: IncomingMessage, res: HeadResponse) => void | Promise<void>;

/**
 * A server that cannot be held open by a slow client: headers must arrive within 10 s and the
 * whole request within 15 s, checked every second (Node's default check runs every 30 s, which
 * would let a slowloris socket live 40 s). Keep-alive outlives a typical proxy idle timeout (60 s)
 * so the proxy, not Portcullis, closes idle connections (avoiding reset races on reuse).
 *
 * `bodylessEnded`: a request without Content-Length or Transfer-Encoding (which has no body, RFC
 * 9112 §6.3) arrives already ended (Node's `optimizeEmptyRequests`): none of its stream's end and
 * close events is emitted, about 1.3 KiB of heap and two ticks less per request (issue 17). Only for
 * handlers that never wait for such a request's 'end' or 'close'.
 */
export function createHttpServer(handler: Handler, logger: Logger, bodylessEnded = false): Server {
  const options = {
    headersTimeout: 10_000,
    requestTimeout: 15_000,
    keepAliveTimeout: 75_000,
    maxHeaderSize: 64 * 1024,
    connectionsCheckingInterval: 1000,
    ServerResponse: HeadResponse,
    optimizeEmptyRequests: bodylessEnded,
  };
  const fail = (res: ServerResponse, err: unknown) => {
    logger.error({ err }, "request handler failed");
    if (!res.headersSent) {
      res.writeHead(403, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "internal_error", message: "the request could not be handled" }));
    } else {
      res.destroy();
    }
  };
  // A handler that must wait is caught apart, so that the usual synchronous one allocates no closure context.
  const failWhenRejected = (res: ServerResponse, pending: Promise<void>) => pending.catch((err: unknown) => fail(res, err));
  const server = createServer(options, (req, res) => {
    try {
      const pending = handler(req, res);
      if (pending !== undefined) void failWhenRejected(res, pending);
    } catch (err) {
      fail(res, err);
    }
  });
  // A request Node cannot parse is refused before any decision, with a status that says why.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const [status, message] = CLIENT_ERRORS[err.code ?? ""] ?? CLIENT_ERRORS.default!;
    const body = JSON.stringify({ code: "request_invalid", message });
    socket.end(
      `HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  return server;
}

const CLIENT_ERRORS: Readonly<Record<string, readonly [string, string]>> = {
  HPE_HEADER_OVERFLOW: ["431 Request Header Fields Too Large", "the request headers are too large or too many"],
  ERR_HTTP_REQUEST_TIMEOUT: ["408 Request Timeout", "the request did not arrive in time"],
  default: ["400 Bad Request", "the request is not valid HTTP/1.1"],
};

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

/**
 * Reads a request body (Envoy's ext_authz sends the client's with `with_request_body`), bounded:
 * undefined when it is larger than `maxBytes` or cut short (the connection is then closed).
 */
export function readBody(req: IncomingMessage, maxBytes = 1024 * 1024): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let seen = 0;
    req.on("data", (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) req.destroy();
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("close", () => resolve(undefined));
    req.on("error", () => resolve(undefined));
  });
}
