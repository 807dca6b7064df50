/**
 * jwt's token search: every token the providers' locations hold in a request, on each reading of it
 * (Envoy's filters', other upstreams'), with the providers that read each. Never the verification.
 */
import { readCredential } from "../../authz/credentials.ts";
import type { NormalizedRequest } from "../../authz/request.ts";
import { MAX_JWT_PROVIDERS, type CompiledJwt } from "./compile.ts";

/**
 * Whether Envoy, reading the query and cookies as its filters do (asEnvoyReads), finds no token where
 * `request` found some. Where every reading reads them alike, the tokens are not looked for again.
 */
export function envoyFindsNone(config: CompiledJwt, request: NormalizedRequest): boolean {
  const envoy = request.asEnvoyReads();
  return envoy !== request && tokensIn(config, envoy, readCredential).length === 0;
}

/**
 * `found` without the empty token when only another reading of the query or the Cookie header finds
 * it (`?a=1;access_token=` split at ";" too, `session =` trimmed): Envoy finds no token there (an
 * optional jwt passes), and an upstream reading it that way finds no credential to act on either,
 * so every reading allows. An empty token Envoy finds too stays, and is refused as malformed.
 */
export function withoutEmptyOnlyOthersFind(
  found: readonly FoundToken[],
  config: CompiledJwt,
  request: NormalizedRequest,
): readonly FoundToken[] {
  if (foundToken(found, "") === undefined || !readsParamOrCookie(config)) return found;
  const envoy = request.asEnvoyReads();
  if (envoy === request || foundToken(tokensIn(config, envoy, readCredential), "") !== undefined) return found;
  return found.filter(([token]) => token !== "");
}

/** Whether a provider reads a query parameter or a cookie (loops: this runs on every request). */
export function readsParamOrCookie(config: CompiledJwt): boolean {
  for (let p = 0; p < config.providers.length; p++) {
    const sources = config.providers[p]!.sources;
    for (let s = 0; s < sources.length; s++) if (sources[s]!.in !== "header") return true;
  }
  return false;
}

/** A token found in the request, with the indexes of the providers that read it from where it was found. */
export type FoundToken = [token: string, readers: readonly number[]];

/** The readers of a token only provider `i` read (the usual case), built once per index rather than per request. */
const ONLY_READER: readonly (readonly number[])[] = Array.from({ length: MAX_JWT_PROVIDERS }, (_, i) => Object.freeze([i]));

export const NO_TOKENS: readonly FoundToken[] = Object.freeze([]);

/** For check --explain: which providers read each token, never the token itself. */
export const describeTokens = (tokens: readonly FoundToken[], config: CompiledJwt): string[] =>
  tokens.map(([, readers]) => `a token read by ${readers.map((i) => config.providers[i]!.name).join(", ")}`);

/** Each token `read` finds, once, with the indexes of the providers that read it from where it was found. */
export function tokensIn(config: CompiledJwt, request: NormalizedRequest, read: typeof readCredential): readonly FoundToken[] {
  // Usually one token: an array of one, not an empty array grown by push (which reserves 17 slots).
  let found: FoundToken[] | undefined;
  for (let index = 0; index < config.providers.length; index++) {
    // Index loops: an iterator would be allocated on every request.
    const sources = config.providers[index]!.sources;
    for (let s = 0; s < sources.length; s++) {
      const tokens = read(request, sources[s]!);
      for (let t = 0; t < tokens.length; t++) {
        const token = tokens[t]!;
        const seen = found === undefined ? undefined : foundToken(found, token);
        if (seen !== undefined) {
          // A copy, never a push: the list may be a shared ONLY_READER one.
          if (!seen[1].includes(index)) seen[1] = [...seen[1], index];
        } else if (found === undefined) found = [[token, ONLY_READER[index]!]];
        else found.push([token, ONLY_READER[index]!]);
      }
    }
  }
  return found ?? NO_TOKENS;
}

/** The entry of `token` in `found` (an index loop: for…of allocated an iterator on every request). */
function foundToken(found: readonly FoundToken[], token: string): FoundToken | undefined {
  for (let i = 0; i < found.length; i++) if (found[i]![0] === token) return found[i];
  return undefined;
}
