/**
 * External authorization services over real loopback sockets for the extAuth tests: an HTTP
 * service that records what it was asked and answers as told, a gRPC one, and deliberately broken
 * ones (slow, failing, resetting, refusing, answering garbage).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { Server as GrpcServer, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { AUTHORIZATION_SERVICE } from "../../controller/api/ext-authz.ts";

export interface Asked {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: Buffer;
  /** The client socket's remote port: equal ports mean one kept-alive connection. */
  readonly remotePort: number;
}

export interface TestService {
  readonly port: number;
  /** Every request received, in order. */
  readonly asked: Asked[];
  close(): Promise<void>;
}

/** An HTTP service answering each request with `answer(asked)`: status, header lines, body. */
export async function httpService(
  answer: (asked: Asked) => { status: number; headers?: [string, string][]; body?: string | Buffer } | "hang",
): Promise<TestService> {
  const asked: Asked[] = [];
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const a = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
        remotePort: req.socket.remotePort ?? 0,
      };
      asked.push(a);
      const reply = answer(a);
      if (reply === "hang") return;
      res.writeHead(reply.status, (reply.headers ?? []).flat());
      res.end(reply.body ?? "");
    });
  });
  return listening(server, asked);
}

/** A gRPC Authorization service answering each CheckRequest with `answer(request)` (a CheckResponse object). */
export async function grpcService(
  answer: (request: Record<string, unknown>) => object | "hang",
): Promise<TestService & { requests: Record<string, unknown>[] }> {
  const requests: Record<string, unknown>[] = [];
  const server = new GrpcServer();
  server.addService(AUTHORIZATION_SERVICE, {
    Check(call: ServerUnaryCall<Record<string, unknown>, object>, callback: sendUnaryData<object>) {
      requests.push(call.request);
      const reply = answer(call.request);
      if (reply !== "hang") callback(null, reply);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    asked: [],
    requests,
    close: async () => server.forceShutdown(),
  };
}

/** A TCP server that does `onConnection` with each socket: write garbage, reset, or say nothing. */
export async function rawService(onConnection: (socket: Socket) => void): Promise<TestService> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onConnection(socket);
  });
  const service = await listening(server, []);
  return {
    ...service,
    close: () => {
      for (const s of sockets) s.destroy();
      return service.close();
    },
  };
}

/** A loopback port nothing listens on (bound, then closed). */
export async function refusingPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function listening(server: TcpServer, asked: Asked[]): Promise<TestService> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    asked,
    close: () =>
      new Promise<void>((r) => {
        (server as TcpServer & { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => r());
      }),
  };
}
