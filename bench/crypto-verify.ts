/**
 * The ceiling for all-new tokens: a raw crypto.verify loop of the same algorithm (ES256, P-256,
 * signatures in DER, the form Portcullis hands OpenSSL) over the same pre-minted tokens, in a
 * process pinned to the server core. Signing inputs and signatures are decoded and converted before
 * the clock starts: this is the primitive alone.
 *   node bench/crypto-verify.ts TOKENS_FILE JWK_FILE DURATION_MS   → {"verifiesPerSecond": …}
 */
import { spawn } from "node:child_process";
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { derSignature } from "../controller/features/jwt/verify.ts";
import { NODE } from "./servers.ts";

export interface CryptoRate {
  readonly verifiesPerSecond: number;
  readonly verifiesPerCpuSecond: number;
}

/**
 * The ceiling's whole check of a request: whether the `Authorization: Bearer` token's ES256 signature
 * holds under `key` (crypto.verify over the signing input, the signature turned into DER), and
 * nothing else: no claims, no decoding beyond the signature. bench/bare-server.ts --verify-jwk and
 * the in-process ceiling (bench/in-process.ts) both answer with it.
 */
export function bearerSignatureHolds(authorization: string | undefined, key: KeyObject): boolean {
  const token = authorization?.slice("Bearer ".length) ?? "";
  const dot = token.lastIndexOf(".");
  return dot > 0 && verify("sha256", Buffer.from(token.slice(0, dot)), key, derSignature(Buffer.from(token.slice(dot + 1), "base64url")));
}

/** Runs this loop for `durationMs` in a fresh process pinned to `cpu`. */
export function cryptoVerifyRate(tokensFile: string, jwkFile: string, cpu: string, durationMs: number): Promise<CryptoRate> {
  return new Promise((resolve, reject) => {
    const child = spawn("taskset", ["-c", cpu, NODE, import.meta.filename, tokensFile, jwkFile, String(durationMs)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve(JSON.parse(out) as CryptoRate) : reject(new Error(`crypto-verify exited ${code}`)),
    );
  });
}

/** Verifies per second of wall time, and per second of this process's CPU time (immune to neighbours). */
function run(
  tokensFile: string,
  jwkFile: string,
  durationMs: number,
): { verifiesPerSecond: number; verifiesPerCpuSecond: number; verified: number; distinct: number } {
  const key = createPublicKey({ key: JSON.parse(readFileSync(jwkFile, "utf8")) as JsonWebKey, format: "jwk" });
  const lines = readFileSync(tokensFile, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .slice(0, 20_000);
  const inputs = lines.map((t) => Buffer.from(t.slice(0, t.lastIndexOf("."))));
  const signatures = lines.map((t) => derSignature(Buffer.from(t.slice(t.lastIndexOf(".") + 1), "base64url")));
  // Warm-up, and a check that the loop verifies what the server verifies.
  for (let i = 0; i < Math.min(500, inputs.length); i++) {
    if (!verify("sha256", inputs[i]!, key, signatures[i]!)) throw new Error(`token ${i} does not verify`);
  }
  let verified = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < durationMs) {
    for (let i = 0; i < 1000; i++) {
      const j = (verified + i) % inputs.length;
      verify("sha256", inputs[j]!, key, signatures[j]!);
    }
    verified += 1000;
    elapsed = performance.now() - started;
  }
  const used = process.cpuUsage(cpu);
  return {
    verifiesPerSecond: verified / (elapsed / 1000),
    verifiesPerCpuSecond: verified / ((used.user + used.system) / 1e6),
    verified,
    distinct: inputs.length,
  };
}

if (import.meta.main) {
  const [tokens, jwk, duration = "2000"] = process.argv.slice(2);
  if (tokens === undefined || jwk === undefined) throw new Error("usage: crypto-verify.ts TOKENS_FILE JWK_FILE [DURATION_MS]");
  process.stdout.write(`${JSON.stringify(run(tokens, jwk, Number(duration)))}\n`);
}
