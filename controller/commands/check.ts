/** `portcullis check`: decides one request against a manifest folder, as serve would, and prints it as JSON. */
import pino from "pino";
import { Passwords } from "../features/basicAuth/check.ts";
import { BcryptPool } from "../features/basicAuth/bcrypt-pool.ts";
import { createExtAuthTransport } from "../features/extAuth/client.ts";
import { checkExplained } from "../authz/check.ts";
import { withDecision, type Explained } from "../authz/trace-steps.ts";
import { clientAddressDetection, clientAddressOptionsOf } from "../authz/client-address.ts";
import { createOidcProviders } from "../features/oidc/provider.ts";
import { CheckMemo } from "../authz/check-memo.ts";
import { reasonOf } from "../authz/decision.ts";
import { linesUpstreamMayRead } from "../authz/header-values.ts";
import type { AuthzRequest } from "../authz/request.ts";
import { Trace } from "../authz/trace.ts";
import { UsageError, type CheckConfig } from "../config.ts";
import { createKeyStore } from "../keys/store.ts";
import { NOT_READY } from "../authz/authorizer.ts";
import { envoyResponse } from "../server/envoy-response.ts";
import type { Snapshot } from "../snapshot/types.ts";
import { compileOptionsOf } from "../runtime/compile-options.ts";
import { compileFolder, folderWarnings } from "./load.ts";

/**
 * Returns the exit code: 0 allow, 1 deny. A folder with a file that does not parse is denied with
 * not_ready, as serve denies every check until each file has parsed once. Throws
 * UnreadableInputError when the folder cannot be read.
 */
export async function runCheck(config: CheckConfig, out: (text: string) => void, report: (line: string) => void): Promise<number> {
  const { decision, trace } = await checkFolder(config, report);
  const wire = envoyResponse(decision);
  const reason = decision.allowed ? decision.message : `${decision.code}: ${reasonOf(decision)}`;
  const printed = { status: wire.status, headers: wire.headers, reason, route: decision.route ?? null, policy: decision.policy ?? null };
  out(`${JSON.stringify(config.explain ? { ...printed, trace: trace.steps } : printed, null, 2)}\n`);
  return decision.allowed ? 0 : 1;
}

/** What a folder check refuses means to serve, said beside each problem: check decides as a serve starting on the folder, not as one running on it. */
const NOT_SERVED =
  "a serve started on this folder is not ready and denies every check, and a running one keeps enforcing the folder's last good contents";
/** Beside a broken file. */
const UNTIL_FIXED = `until it is fixed, ${NOT_SERVED}`;

/** What a ClientTrafficPolicy the flags contradict means to serve (runtime/standalone.ts). */
const UNTIL_FLAGS_AGREE = `until then, ${NOT_SERVED}`;

/** The decision serve would make on `config.manifests` for the request in `config`, with its trace; problems go to `report`. */
export async function checkFolder(config: CheckConfig, report: (line: string) => void): Promise<Explained> {
  const folder = compileFolder(
    config.manifests,
    compileOptionsOf(config, (line) => {
      if (!line.ok) report(`warning: ${line.message}`);
    }),
    clientAddressOptionsOf(config),
  );
  for (const line of folder.brokenFiles) report(`error: ${line} (${UNTIL_FIXED})`);
  for (const line of folder.clientIPDetection) report(`error: ${line} (${UNTIL_FLAGS_AGREE})`);
  for (const line of folderWarnings(folder, "errors")) report(`warning: ${line}`);
  if (folder.brokenFiles.length > 0 || folder.clientIPDetection.length > 0) {
    const trace = new Trace();
    trace.step("manifests", { brokenFiles: folder.brokenFiles, clientIPDetection: folder.clientIPDetection });
    return withDecision(trace, NOT_READY);
  }
  return decide(config, folder.snapshot, report);
}

async function decide(config: CheckConfig, snapshot: Snapshot, report: (line: string) => void): Promise<Explained> {
  const keys = createKeyStore({
    logger: pino({ level: "silent" }),
    fetchTimeoutMs: config.jwksFetchTimeoutMs,
    onFetch: (e) => e.outcome === "error" && report(`warning: JWKS ${e.uri}: ${e.reason}`),
  });
  const passwords = new Passwords({ pool: new BcryptPool({ size: 1, queueLimit: 1 }) });
  const extAuth = createExtAuthTransport();
  try {
    await keys.sync(snapshot.remoteJwks);
    const url = new URL(config.url);
    const headers = headersOf(config.header, url.host);
    return await checkExplained(
      snapshot,
      {
        method: config.method.toUpperCase(),
        scheme: url.protocol.slice(0, -1),
        host: headers.host as string,
        path: `${url.pathname}${url.search}`,
        headers,
        gateway: config.gateway,
      },
      {
        keys,
        memo: new CheckMemo(),
        passwords,
        extAuth,
        now: Date.now,
        onNoRoute: config.onNoRoute,
        onNoPolicy: config.onNoPolicy,
        clientAddress: clientAddressDetection(clientAddressOptionsOf(config)),
        oidc: createOidcProviders({ logger: pino({ level: "silent" }), timeoutMs: config.jwksFetchTimeoutMs }),
      },
    );
  } finally {
    keys.close();
    await Promise.all([passwords.pool.close(), extAuth.close()]);
  }
}

/**
 * The request's headers from `-H 'Name: value'` lines, as Envoy's HTTP ext_authz check hands them to
 * serve's port and the port to check() (server/authz.ts): lower-case names; a name given several
 * times joined with "," as Envoy joins the lines of a repeated header, Cookie lines with "; " as Node
 * joins them; then every value holding "," read as the lines between its commas, as every port reads it
 * (linesUpstreamMayRead), so `-H 'x-role: user,admin'` and `-H 'x-role: user' -H 'x-role: admin'`
 * are decided alike, as the port decides them. Host is the URL's unless given; given twice it is
 * ambiguous (serve refuses such a request), a UsageError.
 */
export function headersOf(lines: readonly string[], urlHost: string): AuthzRequest["headers"] {
  const joined: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = Object.hasOwn(joined, name) ? joined[name] : undefined;
    if (before === undefined) joined[name] = value;
    else if (name === "host") throw new UsageError("-H Host is given twice; a request has one Host", "check");
    else joined[name] = `${before}${name === "cookie" ? "; " : ","}${value}`;
  }
  if (!Object.hasOwn(joined, "host")) joined.host = urlHost;
  return linesUpstreamMayRead(joined);
}
