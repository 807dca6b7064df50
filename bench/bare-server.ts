/**
 * The baselines: a bare node:http server answering 200 with an empty body, on the same Node and
 * with the same server options as Portcullis's ports (keep-alive, timeouts). With --verify-jwk,
 * it also checks each request's `Authorization: Bearer` token's ES256 signature with
 * crypto.verify (on the DER form of the signature, Node's cheapest path, as Portcullis does) and
 * answers 401 when it does not hold: the least an HTTP service verifying every new token must do (no claims, no decoding beyond the signature), so the ceiling for all-new
 * tokens over HTTP. Prints its port.
 *   node bench/bare-server.ts [port] [--verify-jwk JWK_FILE]
 */
import { createPublicKey, verify, type JsonWebKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { derSignature } from "../controller/features/jwt/verify.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { "verify-jwk": { type: "string" } } });
const jwkFile = values["verify-jwk"];
const key =
  jwkFile === undefined ? undefined : createPublicKey({ key: JSON.parse(readFileSync(jwkFile, "utf8")) as JsonWebKey, format: "jwk" });

function signatureHolds(req: IncomingMessage): boolean {
  const token = req.headers.authorization?.slice("Bearer ".length) ?? "";
  const dot = token.lastIndexOf(".");
  return dot > 0 && verify("sha256", Buffer.from(token.slice(0, dot)), key!, derSignature(Buffer.from(token.slice(dot + 1), "base64url")));
}

const server = createServer(
  { headersTimeout: 10_000, requestTimeout: 15_000, keepAliveTimeout: 75_000, maxHeaderSize: 64 * 1024, connectionsCheckingInterval: 1000 },
  (req, res) => {
    res.writeHead(key === undefined || signatureHolds(req) ? 200 : 401);
    res.end();
  },
);
server.listen(Number(positionals[0] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
