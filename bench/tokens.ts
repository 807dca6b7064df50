/**
 * The benchmark IdP: an ES256 key pair made for this run (no key is stored in the repository) and
 * fast token minting with node:crypto directly (no JOSE library), spread over worker threads.
 * Every token is distinct (its own sub and jti) and valid for an hour.
 */
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { availableParallelism } from "node:os";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { AUDIENCE, ISSUER } from "./world.ts";

export const ALG = "ES256";
const KID = "bench-es256";

export interface BenchIdp {
  /** Public JWK with kid, alg and use, for localJWKS. */
  readonly jwk: Readonly<Record<string, unknown>>;
  /** PKCS#8 PEM of the private key (handed to minting workers). */
  readonly privatePem: string;
  readonly publicKey: KeyObject;
}

export function createIdp(): BenchIdp {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return {
    jwk: { ...publicKey.export({ format: "jwk" }), kid: KID, alg: ALG, use: "sig" },
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey,
  };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function mintRange(privatePem: string, from: number, to: number, nowSeconds: number): string[] {
  const key = createPrivateKey(privatePem);
  const header = b64({ alg: ALG, kid: KID, typ: "JWT" });
  const out: string[] = [];
  for (let i = from; i < to; i++) {
    const payload = b64({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: `user-${i}`,
      email: `user-${i}@bench.example.com`,
      department: "research",
      iat: nowSeconds,
      exp: nowSeconds + 3600,
      jti: `bench-${nowSeconds}-${i}`,
    });
    const input = `${header}.${payload}`;
    const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }).toString("base64url");
    out.push(`${input}.${signature}`);
  }
  return out;
}

/** Mints `count` distinct tokens on every core. */
export async function mintTokens(idp: BenchIdp, count: number): Promise<string[]> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const workers = Math.max(1, Math.min(availableParallelism(), 4));
  const per = Math.ceil(count / workers);
  const parts = await Promise.all(
    Array.from(
      { length: workers },
      (_, w) =>
        new Promise<string[]>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), {
            workerData: { privatePem: idp.privatePem, from: w * per, to: Math.min(count, (w + 1) * per), nowSeconds },
          });
          worker.once("message", resolve);
          worker.once("error", reject);
        }),
    ),
  );
  return parts.flat();
}

if (!isMainThread && parentPort !== null) {
  const { privatePem, from, to, nowSeconds } = workerData as { privatePem: string; from: number; to: number; nowSeconds: number };
  parentPort.postMessage(mintRange(privatePem, from, to, nowSeconds));
}
