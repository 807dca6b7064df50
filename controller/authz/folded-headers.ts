/**
 * Phase 0 of check(): request header names that spell a managed header (one a policy sets
 * upstream), a header the decision reads (a route match's, an authorization rule's, a
 * credential's, a method override) or one naming another URL or host, with "_" or "." for "-",
 * which servers behind the proxy fold into that header.
 */
import { apiKeyAuth } from "../features/apiKeyAuth/index.ts";
import { compiledOf } from "../features/feature.ts";
import { jwt } from "../features/jwt/index.ts";
import type { Snapshot } from "../snapshot/types.ts";
import { headersDecisionsRead } from "./headers-read.ts";
import { OVERRIDE_HEADERS } from "./method-readings.ts";
import type { AuthzRequest } from "./request.ts";

/**
 * The first request header that is not a managed header but spells one with "_" or "." for "-"
 * (X_User_Id, X.User.Id for x-user-id), or undefined. CGI, WSGI and Rack servers, and many
 * frameworks on them, read X_User_Id as HTTP_X_USER_ID, and PHP turns the "." of HTTP_X.USER.ID
 * (Caddy's php_fastcgi passes it on) into "_" too; nginx drops such names while Envoy and Caddy
 * forward them: the upstream would take the client's copy for the identity Portcullis removed.
 */
export function foldedManagedHeader(
  headers: AuthzRequest["headers"],
  managed: readonly string[],
  namesFoldable = anyFoldableName(headers),
): string | undefined {
  if (managed.length === 0) return undefined;
  const spellings = foldedSpellings(managed);
  // No name with "_" or ".", none managed with one: no name can spell another.
  if (!namesFoldable && !spellings.anyFoldable) return undefined;
  for (const name in headers) {
    // A name without "_" or "." cannot spell a managed name without one: the usual request's names end here.
    if ((!spellings.anyFoldable && !isFoldable(name)) || !Object.hasOwn(headers, name)) continue;
    const spelled = spellings.byFolded.get(foldName(name));
    if (spelled !== undefined) for (const m of spelled) if (m !== name) return name;
  }
  return undefined;
}

/**
 * The first request header that spells, with "_" or "." for "-", a header the decision reads and
 * is not it, or undefined: one a route match or an authorization rule reads (headersDecisionsRead),
 * a credential header (a jwt provider's or apiKeyAuth's), a method override header
 * (methodReadings decides the methods it names: `X_HTTP_Method_Override` is Rack's too) or one
 * naming another URL or host (URL_HEADERS); where a rule's `cel` reads headers by
 * keys that cannot be known, the first name holding "_" or ".". Caddy and Envoy (without Envoy
 * Gateway's default `withUnderscoresAction: RejectRequest`) forward `X_Role: admin`, which a CGI,
 * WSGI, Rack or PHP upstream reads as its X-Role, while the route match and the rule read no
 * x-role: the request would be decided on the rule for a request without it (and `X_Token: <forged>`
 * on an optional jwt route as a request without a token, the upstream reading the forged one).
 */
export function foldedDecidedHeader(
  headers: AuthzRequest["headers"],
  snapshot: Snapshot,
  namesFoldable = anyFoldableName(headers),
): string | undefined {
  const read = decidedHeadersOf(snapshot);
  if (read !== ANY_HEADER) return foldedManagedHeader(headers, read, namesFoldable);
  return namesFoldable ? firstFoldableName(headers) : undefined;
}

/**
 * Whether some request header name holds "_" or "." (isFoldable): looked for once per request, for
 * foldedManagedHeader and foldedDecidedHeader both (check()), as the usual request has no such name.
 */
export const anyFoldableName = (headers: AuthzRequest["headers"]): boolean => firstFoldableName(headers) !== undefined;

/** The first request header name that holds "_" or ".", or undefined. */
function firstFoldableName(headers: AuthzRequest["headers"]): string | undefined {
  for (const name in headers) if (isFoldable(name) && Object.hasOwn(headers, name)) return name;
  return undefined;
}

/**
 * The headers through which older Symfony and Zend (X-Original-URL, X-Rewrite-URL) and IIS run
 * another URL than the request's, and Rack, Express (`trust proxy`) and Django
 * (USE_X_FORWARDED_HOST) serve another host (X-Forwarded-Host): the shipped proxy files remove or
 * set them, not their spellings with "_" or ".", which CGI servers and PHP register under the
 * same name.
 */
const URL_HEADERS = ["x-original-url", "x-rewrite-url", "x-forwarded-host"] as const;

/** What decidedHeadersOf answers where a rule's `cel` reads headers by keys that cannot be known. */
const ANY_HEADER: readonly string[] = Object.freeze([]);

/** Per snapshot (immutable): the headers foldedDecidedHeader protects, found once (prepareFoldedHeaders). */
const decidedBySnapshot = new WeakMap<Snapshot, readonly string[]>();

/** Finds the headers foldedDecidedHeader protects in `snapshot` before it answers checks (a walk of every route entry and policy). */
export function prepareFoldedHeaders(snapshot: Snapshot): void {
  decidedHeadersOf(snapshot);
}

/** The headers route matches, authorization rules and credential sources read in `snapshot`, the method override headers and URL_HEADERS; or ANY_HEADER. */
function decidedHeadersOf(snapshot: Snapshot): readonly string[] {
  let found = decidedBySnapshot.get(snapshot);
  if (found === undefined) {
    const { headersRead, anyHeaderRead } = headersDecisionsRead(snapshot);
    const names = new Set<string>([...headersRead, ...OVERRIDE_HEADERS, ...URL_HEADERS]);
    for (const policy of Object.values(snapshot.policies)) {
      const sources = [
        ...(compiledOf(policy.features, jwt)?.providers.flatMap((p) => p.sources) ?? []),
        ...(compiledOf(policy.features, apiKeyAuth)?.sources ?? []),
      ];
      for (const source of sources) if (source.in === "header") names.add(source.name);
    }
    found = anyHeaderRead === true ? ANY_HEADER : [...names];
    decidedBySnapshot.set(snapshot, found);
  }
  return found;
}

/**
 * Whether a header name holds a character servers read as "-" ("_" or "."). A loop over its
 * characters: two includes() per name, each a call into V8's string search, cost about 100
 * instructions a name (bench/instructions.ts), the loop a few per character.
 */
function isFoldable(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === UNDERSCORE || c === DOT) return true;
  }
  return false;
}
const UNDERSCORE = 0x5f;
const DOT = 0x2e;
/** A header name with "-" for each "_" and ".". */
const foldName = (name: string): string => name.replace(/[_.]/g, "-");

/** Managed header names by their spelling with "-" for "_" and ".", and whether any has one of those. */
interface FoldedSpellings {
  readonly anyFoldable: boolean;
  readonly byFolded: ReadonlyMap<string, readonly string[]>;
}

/** Per managed-header list (each snapshot's and route entry's are immutable): built once, not on every request. */
const spellingsByList = new WeakMap<readonly string[], FoldedSpellings>();

function foldedSpellings(managed: readonly string[]): FoldedSpellings {
  let spellings = spellingsByList.get(managed);
  if (spellings === undefined) {
    const byFolded = new Map<string, string[]>();
    for (const m of managed) {
      const folded = foldName(m);
      const names = byFolded.get(folded);
      if (names === undefined) byFolded.set(folded, [m]);
      else names.push(m);
    }
    spellingsByList.set(managed, (spellings = { anyFoldable: managed.some(isFoldable), byFolded }));
  }
  return spellings;
}
