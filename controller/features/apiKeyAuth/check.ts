/**
 * The apiKeyAuth phase, as Envoy's api_key_auth filter: the sources are read in order and the
 * first that holds a non-empty key supplies it (an empty one is passed over, as Envoy's
 * KeySources::getKey does; a header's value is trimmed of spaces and tabs only, as the proxy's codec
 * trims it, and a leading "Bearer " is not part of the key); the key is looked up by SHA-256 digest, so the comparison never depends on how many
 * leading characters match, and once it matched, by its own value in this snapshot's memo (a
 * hash-table read, as Envoy's filter reads its table of keys). Stricter than Envoy: a source sent
 * more than once (two header lines, a repeated parameter or cookie) is refused rather than read at
 * its first copy, so is a different key in a later source an upstream may read (unless `sanitize`
 * removes every source), and a key is read only where Envoy's filter reads it too (a query parameter read
 * as Envoy reads the query: not at a ";", under a name PHP renames or with "+" as a space; a cookie
 * as Envoy reads the Cookie header: not trimmed, double quotes removed): a key only another reading
 * finds is refused, as Envoy finds none there (DESIGN §0). With `sanitize`
 * (Envoy's hide_credentials) every configured source is removed, not only the one read.
 */
import { apiKeyDigest } from "./compile.ts";
import type { CredentialSource } from "../../snapshot/types.ts";
import type { CompiledApiKey } from "./compile.ts";
import type { CheckMemo } from "../../authz/check-memo.ts";
import { cookieHeaderWithout } from "../../authz/credentials.ts";
import { withoutOws } from "../../lib/field-values.ts";
import { deny } from "../../authz/decision.ts";
import type { PhaseResult } from "../feature.ts";
import type { NormalizedRequest } from "../../authz/request.ts";
import type { Trace } from "../../authz/trace.ts";
import { describeSource } from "../../snapshot/summary.ts";

export function checkApiKey(
  config: CompiledApiKey,
  request: NormalizedRequest,
  where: { route: string; policy: string },
  memo: CheckMemo,
  trace?: Trace,
): PhaseResult {
  for (let i = 0; i < config.sources.length; i++) {
    const source = config.sources[i]!;
    const copies = copyCount(request, source);
    if (copies !== 1) trace?.add("sources", `${describeSource(source)}: ${copies === 0 ? "absent" : `${copies} copies`}`);
    if (copies === 0) continue;
    if (copies > 1) {
      return {
        ok: false,
        error: deny(401, "apikey_invalid", `Client authentication failed: more than one ${source.in} ${source.name} was sent`, where),
      };
    }
    const key = keyIn(request, source);
    // Before the memo: a key that matched where Envoy reads it is no key where Envoy does not.
    if (key !== "" && !envoyReads(request, source, key)) {
      trace?.add("sources", `${describeSource(source)}: a key only where the proxy does not read it`);
      return {
        ok: false,
        error: deny(401, "apikey_missing", "Client authentication failed: the API key is not where the proxy reads it", where),
      };
    }
    // Sanitized key cookies leave the request's other cookies to forward: that outcome is the request's own.
    const ownOutcome = config.sanitize && readsCookies(config) && request.header("cookie") !== undefined;
    // A key that matched before (a trace says which client: it looks the key up again).
    const known = key === "" || ownOutcome || trace !== undefined ? undefined : memo.apiKey(config, key);
    if (known !== undefined) return laterSourceDiffers(config, i, request, key, trace) ? differentKeys(where) : known;
    const client = key === "" ? undefined : config.clientByDigest.get(apiKeyDigest(key));
    trace?.add(
      "sources",
      `${describeSource(source)}: ${key === "" ? "empty" : client === undefined ? "a key of no client" : `the key of client ${client}`}`,
    );
    if (key === "") continue;
    if (client === undefined)
      return { ok: false, error: deny(401, "apikey_invalid", "Client authentication failed: the API key is not valid", where) };
    if (laterSourceDiffers(config, i, request, key, trace)) return differentKeys(where);
    if (ownOutcome) return passed(config, client, request);
    return memo.rememberApiKey(config, key, passed(config, client, request));
  }
  return { ok: false, error: deny(401, "apikey_missing", "Client authentication failed: no API key in the request", where) };
}

/** The one copy of `source` as Envoy's filter takes it as a key (a header trimmed and without "Bearer "). */
function keyIn(request: NormalizedRequest, source: CredentialSource): string {
  return source.in === "header" ? withoutBearer(withoutOws(request.headerLineAt(source.name, 0))) : copiesIn(request, source)[0]!;
}

/**
 * Whether a source after the `used`th holds a key other than `key` (or several copies): Envoy never
 * reads it, an upstream that reads it does (a valid X-API-Key beside another client's `?api_key=`), so
 * the request reads two ways (DESIGN §0). Never with `sanitize`: every source is then removed before
 * the upstream (a parameter source with `sanitize` is Invalid).
 */
function laterSourceDiffers(config: CompiledApiKey, used: number, request: NormalizedRequest, key: string, trace?: Trace): boolean {
  if (config.sanitize) return false;
  for (let j = used + 1; j < config.sources.length; j++) {
    const later = config.sources[j]!;
    const copies = copyCount(request, later);
    if (copies > 1) {
      trace?.add("sources", `${describeSource(later)}: ${copies} copies`);
      return true;
    }
    if (copies === 1) {
      const other = keyIn(request, later);
      if (other !== "" && other !== key) {
        trace?.add("sources", `${describeSource(later)}: a different key`);
        return true;
      }
    }
  }
  return false;
}

const differentKeys = (where: { route: string; policy: string }): PhaseResult => ({
  ok: false,
  error: deny(401, "apikey_invalid", "Client authentication failed: a different API key was sent in another place", where),
});

/** Whether a source is a cookie (an index loop: no closure or iterator per request). */
function readsCookies(config: CompiledApiKey): boolean {
  for (let i = 0; i < config.sources.length; i++) if (config.sources[i]!.in === "cookie") return true;
  return false;
}

/** How many copies of the source the request holds (header lines, parameter or cookie values); a header's lines counted without a list of them. */
function copyCount(request: NormalizedRequest, source: CredentialSource): number {
  return source.in === "header" ? request.headerLineCount(source.name) : copiesIn(request, source).length;
}

/** Every value of a query parameter or cookie source in the request. */
function copiesIn(request: NormalizedRequest, source: CredentialSource & { in: "param" | "cookie" }): readonly string[] {
  return source.in === "param" ? request.params(source.name) : request.cookies(source.name);
}

/**
 * Whether Envoy's filter reads `copy`, the one copy of the source the request holds on every reading,
 * as the source's key. Only a query parameter or a cookie reads otherwise, and only on an unusual
 * query or Cookie header (else `asEnvoyReads` is the request itself, and nothing is parsed again).
 */
function envoyReads(request: NormalizedRequest, source: CredentialSource, copy: string): boolean {
  if (source.in === "header") return true;
  const envoy = request.asEnvoyReads();
  return envoy === request || (source.in === "param" ? envoy.params(source.name) : envoy.cookies(source.name))[0] === copy;
}

/** Envoy strips exactly "Bearer " (case-sensitive) from a header key before looking it up. */
const withoutBearer = (value: string) => (value.startsWith("Bearer ") ? value.slice(7) : value);

function passed(config: CompiledApiKey, client: string, request: NormalizedRequest): PhaseResult {
  const described = config.clients[client]!;
  const headers: Record<string, string> = { ...described.headers };
  if (config.forwardClientIDHeader !== undefined) headers[config.forwardClientIDHeader] = client;
  const strip: string[] = [];
  let perRequest = false;
  if (config.sanitize) {
    // Every configured source, as Envoy's hide_credentials: a second key elsewhere must not go upstream either.
    const cookies = new Set<string>();
    for (const source of config.sources) {
      if (source.in === "header") strip.push(source.name);
      if (source.in === "cookie") cookies.add(source.name);
    }
    const cookie = request.header("cookie");
    if (cookies.size > 0 && cookie !== undefined) {
      const rest = cookieHeaderWithout(cookie, cookies);
      if (rest === undefined) strip.push("cookie");
      else if (rest !== cookie) headers.cookie = rest;
      perRequest = true;
    }
  }
  const attributes = { apiKey: { client, metadata: described.metadata } };
  const pass = { principal: `apiKey ${client}`, headers, strip, attributes };
  return { ok: true, value: perRequest ? { ...pass, perRequest: true } : pass };
}
