/**
 * The apiKeyAuth phase. The first source present in the request supplies the key; it is looked
 * up by SHA-256 digest, so the comparison never depends on how many leading characters match.
 */
import { apiKeyDigest } from "../compile/apikey.ts";
import type { CompiledApiKey, CredentialSource } from "../snapshot/types.ts";
import type { CheckMemo } from "./check-memo.ts";
import { cookieHeaderWithout, readCredential } from "./credentials.ts";
import { deny } from "./decision.ts";
import type { PhaseOutcome } from "./identity.ts";
import type { NormalizedRequest } from "./request.ts";

export function checkApiKey(config: CompiledApiKey, request: NormalizedRequest, where: { route: string; policy: string }, memo: CheckMemo): PhaseOutcome {
  for (let i = 0; i < config.sources.length; i++) {
    const source = config.sources[i]!;
    const values = readCredential(request, source);
    if (values.length === 0) continue;
    const value = values.length === 1 ? values[0]! : undefined;
    const client = value === undefined ? undefined : lookup(config, value, source.in === "header");
    if (client === undefined) {
      const why = value === undefined ? `more than one ${source.in} ${source.name} was sent` : "the API key is not valid";
      return { ok: false, deny: deny(401, "apikey_invalid", `Client authentication failed: ${why}`, where) };
    }
    // A sanitized cookie leaves the request's other cookies to forward: that outcome is the request's own.
    if (config.sanitize && source.in === "cookie") return passed(config, source, client, request);
    return memo.apiKey(config, i, client) ?? memo.rememberApiKey(config, i, client, passed(config, source, client, request));
  }
  return { ok: false, deny: deny(401, "apikey_missing", "Client authentication failed: no API key in the request", where) };
}

function passed(config: CompiledApiKey, source: CredentialSource, client: string, request: NormalizedRequest): PhaseOutcome {
  const described = config.clients[client]!;
  const headers: Record<string, string> = { ...described.headers };
  if (config.forwardClientIDHeader !== undefined) headers[config.forwardClientIDHeader] = client;
  const strip: string[] = [];
  if (config.sanitize) {
    if (source.in === "header") strip.push(source.name);
    if (source.in === "cookie") {
      const rest = cookieHeaderWithout(request.header("cookie"), new Set([source.name]));
      if (rest === undefined) strip.push("cookie");
      else headers.cookie = rest;
    }
  }
  return { ok: true, value: { principal: `apiKey ${client}`, headers, strip, attributes: { apiKey: { client, metadata: described.metadata } } } };
}

/**
 * The client whose key is `value`. A header value is also tried without a leading "Bearer "
 * scheme: Envoy Gateway users store keys both with and without it.
 */
function lookup(config: CompiledApiKey, value: string, fromHeader: boolean): string | undefined {
  const exact = config.clientByDigest.get(apiKeyDigest(value));
  if (exact !== undefined || !fromHeader || !/^bearer /i.test(value)) return exact;
  return config.clientByDigest.get(apiKeyDigest(value.slice(7).trim()));
}
