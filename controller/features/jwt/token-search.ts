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
  return envoy !== request && tokenCount(tokensIn(config, envoy, readCredential)) === 0;
}

/**
 * `found` with the tokens Envoy reads too (the query and cookies read as its filters read them,
 * asEnvoyReads) before those only another reading finds, each part in its order: the first token to
 * verify gives the identity, and it must be one Envoy finds, as Envoy forwards no claim of a token it
 * does not find. `found` itself where there is one token or every reading reads them alike.
 */
export function envoyReadFirst(found: FoundTokens, config: CompiledJwt, request: NormalizedRequest): FoundTokens {
  if (tokenCount(found) < 2 || !readsParamOrCookie(config)) return found;
  const envoy = request.asEnvoyReads();
  if (envoy === request) return found;
  const envoyFound = tokensIn(config, envoy, readCredential);
  const read: FoundToken[] = [];
  const others: FoundToken[] = [];
  for (let i = 0; i < tokenCount(found); i++) {
    const t = tokenAt(found, i);
    (foundToken(envoyFound, t.token) === undefined ? others : read).push(t);
  }
  return others.length === 0 ? found : [...read, ...others];
}

/**
 * `found` without the empty token when only another reading of the query or the Cookie header finds
 * it (`?a=1;access_token=` split at ";" too, `session =` trimmed): Envoy finds no token there (an
 * optional jwt passes), and an upstream reading it that way finds no credential to act on either,
 * so every reading allows. An empty token Envoy finds too stays, and is refused as malformed.
 */
export function withoutEmptyOnlyOthersFind(found: FoundTokens, config: CompiledJwt, request: NormalizedRequest): FoundTokens {
  if (foundToken(found, "") === undefined || !readsParamOrCookie(config)) return found;
  const envoy = request.asEnvoyReads();
  if (envoy === request || foundToken(tokensIn(config, envoy, readCredential), "") !== undefined) return found;
  const kept: FoundToken[] = [];
  for (let i = 0; i < tokenCount(found); i++) if (tokenAt(found, i).token !== "") kept.push(tokenAt(found, i));
  return kept;
}

/** Whether a provider reads a query parameter or a cookie (loops: this runs on every request). */
export function readsParamOrCookie(config: CompiledJwt): boolean {
  for (let p = 0; p < config.providers.length; p++) {
    const sources = config.providers[p]!.sources;
    for (let s = 0; s < sources.length; s++) if (sources[s]!.in !== "header") return true;
  }
  return false;
}

/**
 * A token found in the request, with the indexes of the providers that read it from where it was
 * found (ascending; a shared list of one, replaced by a copy when tokensIn finds another reader).
 */
export class FoundToken {
  readonly token: string;
  readers: readonly number[];

  constructor(token: string, readers: readonly number[]) {
    this.token = token;
    this.readers = readers;
  }
}

/**
 * What tokensIn finds, in order: the one token as itself (the usual request: no list of it is built
 * on every check), none or several as a list. Read it with tokenCount and tokenAt.
 */
export type FoundTokens = FoundToken | readonly FoundToken[];

/** The readers of a token only provider `i` read (the usual case), built once per index rather than per request. */
const ONLY_READER: readonly (readonly number[])[] = Array.from({ length: MAX_JWT_PROVIDERS }, (_, i) => Object.freeze([i]));

export const NO_TOKENS: readonly FoundToken[] = Object.freeze([]);

/** How many tokens `found` holds. */
export const tokenCount = (found: FoundTokens): number => (found instanceof FoundToken ? 1 : found.length);

/** Token `i` (below tokenCount) of `found`. */
export const tokenAt = (found: FoundTokens, i: number): FoundToken => (found instanceof FoundToken ? found : found[i]!);

/** Both lists' tokens, `found`'s first, as a list (a request with a token only another reader takes). */
export function bothFound(found: FoundTokens, more: FoundTokens): readonly FoundToken[] {
  const all: FoundToken[] = [];
  for (let i = 0; i < tokenCount(found); i++) all.push(tokenAt(found, i));
  for (let i = 0; i < tokenCount(more); i++) all.push(tokenAt(more, i));
  return all;
}

/** For check --explain: which providers read each token, never the token itself. */
export function describeTokens(found: FoundTokens, config: CompiledJwt): string[] {
  const described: string[] = [];
  for (let i = 0; i < tokenCount(found); i++) {
    described.push(
      `a token read by ${tokenAt(found, i)
        .readers.map((p) => config.providers[p]!.name)
        .join(", ")}`,
    );
  }
  return described;
}

/** Each token `read` finds, once, with the indexes of the providers that read it from where it was found. */
export function tokensIn(config: CompiledJwt, request: NormalizedRequest, read: typeof readCredential): FoundTokens {
  let found: FoundToken | FoundToken[] | undefined;
  for (let index = 0; index < config.providers.length; index++) {
    // Index loops: an iterator would be allocated on every request.
    const sources = config.providers[index]!.sources;
    for (let s = 0; s < sources.length; s++) {
      const tokens = read(request, sources[s]!);
      if (typeof tokens === "string") found = withToken(found, tokens, index);
      else for (let t = 0; t < tokens.length; t++) found = withToken(found, tokens[t]!, index);
    }
  }
  return found ?? NO_TOKENS;
}

/**
 * `found` with `token`, read by provider `index`: a reader more for a token already there, else the
 * token last. The first token is itself, the second makes a list of both (an empty list grown by push reserves 17 slots).
 */
function withToken(found: FoundToken | FoundToken[] | undefined, token: string, index: number): FoundToken | FoundToken[] {
  if (found === undefined) return new FoundToken(token, ONLY_READER[index]!);
  const seen = foundToken(found, token);
  if (seen !== undefined) {
    // A copy, never a push: the list may be a shared ONLY_READER one.
    if (!seen.readers.includes(index)) seen.readers = [...seen.readers, index];
    return found;
  }
  const another = new FoundToken(token, ONLY_READER[index]!);
  if (found instanceof FoundToken) return [found, another];
  found.push(another);
  return found;
}

/** The entry of `token` in `found` (an index loop: for…of allocated an iterator on every request). */
export function foundToken(found: FoundTokens, token: string): FoundToken | undefined {
  for (let i = 0; i < tokenCount(found); i++) if (tokenAt(found, i).token === token) return tokenAt(found, i);
  return undefined;
}
