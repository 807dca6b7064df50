/** The request check() decides on, as every wire protocol hands it over, and its normalised view. */
import { Buffer } from "node:buffer"; // not the global Buffer: a getter, about 17 ns a use (Node 24)
import { isAscii } from "../lib/bytes.ts";
import type { RouteRequest } from "../snapshot/route-index.ts";
import { type CookieReadings, parseCookies } from "./cookie-readings.ts";
import { headerValue } from "./header-values.ts";
import { hostReadings, isPlainHost } from "./host-readings.ts";
import { isPlainPath, normalizePath, pathBytesOf } from "./path.ts";
import { foldedName, mayHoldUpperCase } from "../snapshot/query-readings.ts";
import { envoyParams, readOtherwise, withOtherReadings } from "./query-params.ts";

export interface AuthzRequest {
  readonly method: string;
  /** "http" or "https": the scheme the client used. */
  readonly scheme: string;
  /** Host as the client sent it (may carry a port or a trailing dot). */
  readonly host: string;
  /** Path and query as the client sent them. */
  readonly path: string;
  /** Lower-case header names; Node joins repeated headers (cookies with "; "). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Scopes route matching to one Gateway ("namespace/name"), when the proxy names it. */
  readonly gateway: string | undefined;
  /** Restricts matching to one HTTPRoute ("namespace/name"), when the proxy names it (gRPC context_extensions). */
  readonly route?: string | undefined;
  /**
   * The port the request arrived on at the proxy, when the proxy states it (gRPC's
   * attributes.destination). Ports the client writes (Host, X-Forwarded-Port) are not read: Envoy
   * routes by the listener a connection arrived on and ignores them, so a client could pick the
   * listener whose policy suits it.
   */
  readonly port?: number | undefined;
  /**
   * The address of whatever connected to the proxy, when the proxy states it (gRPC's
   * attributes.source); the client's own address is derived from it (client-address.ts).
   */
  readonly clientAddress?: string | undefined;
  /**
   * Set when `path` and the header values hold the bytes received one character per byte (Node's
   * HTTP parser hands them over as Latin-1). They are then read as UTF-8, as gRPC carries them and
   * as Secrets and percent-escapes are decoded: one reading of the same bytes on every port.
   */
  readonly byteStrings?: boolean | undefined;
  /**
   * The route the proxy says it selected (Envoy Gateway's route metadata, sent with
   * `extAuth.includeRouteMetadata`). check() decides only when its own match is that route.
   */
  readonly proxyRoute?: ProxyRoute | undefined;
  /**
   * The request body as the proxy forwarded it, whole (Envoy's ext_authz `with_request_body`, which
   * says `x-envoy-auth-partial-body: false`: the HTTP check's body, gRPC's `raw_body`). undefined:
   * not forwarded, and Content-Length / Transfer-Encoding tell whether there is one; null: not
   * forwarded whole, and nothing tells what it holds (Envoy's HTTP check carries its own
   * Content-Length; a body Envoy cut, `x-envoy-auth-partial-body: true`; a forward-auth check,
   * whose proxy never forwards the body nor says whether there is one). Read only by
   * `extAuth` with `bodyToExtAuth`, which passes it on to its service.
   */
  readonly body?: Buffer | null | undefined;
  /**
   * Forward-auth only: the lower-case names of the headers the proxy gives the upstream only from
   * Portcullis' answer (X-Portcullis-Replaces; empty when it lists none). An allow whose request
   * carries a client's copy of a header a policy sets that is not among them is refused
   * (proxy-copies.ts). undefined on the Envoy ports, which apply every header Portcullis answers.
   */
  readonly proxyReplaces?: ReadonlySet<string> | undefined;
  /**
   * True when the port saw every header name on one line (Node's rawHeaders hold each name once), so
   * no header has readings line by line (route-index.ts otherRouteReadings); undefined when not known.
   */
  readonly headersOnOneLine?: boolean | undefined;
}

/** A route as Envoy Gateway names it in its route metadata ("envoy-gateway" filter metadata, `resources[0]`). */
export interface ProxyRoute {
  /** "HTTPRoute" or "GRPCRoute". */
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The rule's `name`, when the route rule has one. */
  readonly sectionName: string | undefined;
}

export interface NormalizedRequest extends RouteRequest {
  /** The request as the phases so far left it (see afterPhase). */
  readonly source: AuthzRequest;
  /**
   * The request as it reached Portcullis, before any phase changed its headers: what the client
   * address is determined from, once, as Envoy's connection manager determines it before any filter
   * runs (an ext_authz service that sets X-Forwarded-For does not change who the client is).
   */
  readonly arrived: AuthzRequest;
  /**
   * Whether this is the path and method as the proxy routed the request (Envoy's reading), not one
   * withReading made (an upstream's reading): only this one is the route the proxy names.
   */
  readonly asRouted: boolean;
  /** Path and query as text (`source.path`, read as UTF-8 when it holds bytes). */
  readonly target: string;
  /** Whether `pathBytes` is a plain path (isPlainPath): already normal, and its own only reading. */
  readonly plainPath: boolean;
  /**
   * The path without its query as received, one character per byte (text is written as its UTF-8
   * bytes): what Envoy's path normalisation reads, byte by byte (see normalizePath).
   */
  readonly pathBytes: string;
  /** A header's value as Envoy's matchers read it (see headerValue: lines joined with ","); undefined when absent. */
  header(name: string): string | undefined;
  /** How many lines header `name` has (0 when absent): `headerLines(name).length`, without a list for the usual one line. */
  headerLineCount(name: string): number;
  /** Line `i` (below headerLineCount) of header `name`, as text: `headerLines(name)[i]`. */
  headerLineAt(name: string, i: number): string;
  /** One of `source`'s strings (its host, path or a header value) as text: read as UTF-8 when the request holds bytes. */
  text(value: string): string;
  /** The query, decoded as a form is (WHATWG): what `params` and oidc's callback read. */
  readonly query: URLSearchParams;
  /**
   * Every value of the named cookie, in order (the Cookie header is parsed once, on first use): the
   * name and value of each pair trimmed, the name matched in any letter case (as ASP.NET Core reads
   * it), then the value Envoy reads (envoyCookie) where it differs. On `asEnvoyReads()`'s reading:
   * Envoy's values only, under the name exactly.
   */
  cookies(name: string): readonly string[];
  /**
   * Every value of the named query parameter (nothing is parsed when there is no query): those of
   * the query split at "&" and decoded as a form (WHATWG: "+" is a space, a leading "?" is dropped),
   * in order, then those Envoy's reading adds (envoyParams), then those a split at ";" too adds
   * (Rack 2, Python before 3.9.2 and Tornado read `?a=1;access_token=t` as two parameters), then the
   * one PHP reads under a name it renames (`?access.token=t` is access_token there), then those of
   * names that match only in another letter case (ASP.NET Core's `ACCESS_TOKEN`), so a credential
   * only some upstreams see is still read. On `asEnvoyReads()`'s reading: Envoy's values only.
   */
  params(name: string): readonly string[];
  /** The same request read another way: one of `pathReadings` and one of `methodReadings`. */
  withReading(path: string, method: string): NormalizedRequest;
  /**
   * The same request with its query and cookies read as Envoy's api_key_auth and jwt_authn filters
   * read them (envoyParams, envoyCookie): `params` finds nothing at a ";", under a name PHP renames or
   * only a form's decoding reads, `cookies` nothing only a trimmed reading finds. This very request
   * when that changes nothing (no ";", leading "?" or name PHP renames in the query, no pair of the
   * Cookie header Envoy reads otherwise, no cookie or parameter found under its name in another
   * letter case), so a caller that read its cookies and parameters first can skip a second reading.
   */
  asEnvoyReads(): NormalizedRequest;
  /**
   * The request as a phase leaves it to the next ones, as an Envoy filter leaves it to the filters
   * after it: `set` replaces those headers (lower-case names), `remove` drops them (oidc's access
   * token in Authorization reaches jwt; jwt's claim headers reach authorization's header rules).
   */
  afterPhase(set: Readonly<Record<string, string>>, remove: readonly string[]): NormalizedRequest;
}

export function normalizeRequest(source: AuthzRequest): NormalizedRequest {
  return new Normalized(source);
}

const NONE: readonly string[] = Object.freeze([]);

/** A class, not an object literal of closures: one allocation per request, methods shared. */
class Normalized implements NormalizedRequest {
  readonly source: AuthzRequest;
  readonly arrived: AuthzRequest;
  readonly asRouted: boolean;
  readonly target: string;
  readonly pathBytes: string;
  readonly plainPath: boolean;
  readonly hosts: readonly string[] | undefined;
  readonly host: string;
  readonly path: string;
  // Methods are case-sensitive (RFC 9110 §9.1) and so is Envoy's route match: "get" is not GET.
  readonly method: string;
  readonly #queryAt: number;
  #query: URLSearchParams | undefined;
  #cookies: CookieReadings | undefined;
  /**
   * Whether `cookies` or `params` found a value under a name that matches the one asked for only in
   * another letter case (ASP.NET Core reads such names as one; Envoy's filters do not): Envoy's
   * reading then differs, whatever else the request holds.
   */
  #foundInOtherCase = false;
  /** The header read line by line last, and its lines: the one line itself until a list is asked for (the source's headers never change). */
  #linesOf: string | undefined;
  #lines: string | readonly string[] = NONE;
  /** Whether `params` reads the query every way an upstream may (else as Envoy's filters only). */
  readonly #everyReading: boolean;

  constructor(source: AuthzRequest, path?: string, method?: string, everyReading = true, arrived = source, asRouted = true) {
    this.source = source;
    this.arrived = arrived;
    this.asRouted = asRouted;
    this.#everyReading = everyReading;
    this.pathBytes = pathBytesOf(source.path, source.byteStrings);
    this.plainPath = isPlainPath(this.pathBytes);
    // A plain path without a query is ASCII: its own text, not read again.
    this.target = this.plainPath && this.pathBytes.length === source.path.length ? source.path : this.text(source.path);
    this.#queryAt = this.target.indexOf("?");
    // The usual Host reads one way, as it is: no list of one (RouteRequest.hosts).
    const hosts = isPlainHost(source.host) ? undefined : hostReadings(source.host);
    this.hosts = hosts !== undefined && hosts.length > 1 ? hosts : undefined;
    this.host = hosts === undefined ? source.host : hosts.at(-1)!;
    this.path = path ?? (this.plainPath ? this.pathBytes : normalizePath(this.pathBytes));
    this.method = method ?? source.method;
  }

  /** A string of the request as text: as it is, or its bytes read as UTF-8 (invalid sequences as U+FFFD). */
  text(value: string): string {
    return this.source.byteStrings === true && !isAscii(value) ? Buffer.from(value, "latin1").toString("utf8") : value;
  }

  withReading(path: string, method: string): NormalizedRequest {
    return new Normalized(this.source, path, method, this.#everyReading, this.arrived, false);
  }

  asEnvoyReads(): NormalizedRequest {
    if (
      !this.#everyReading ||
      (this.#queryReadOtherwise() === undefined && this.#parsedCookies().envoy === undefined && !this.#foundInOtherCase)
    )
      return this;
    return new Normalized(this.source, this.path, this.method, false, this.arrived, this.asRouted);
  }

  afterPhase(set: Readonly<Record<string, string>>, remove: readonly string[]): NormalizedRequest {
    const names = Object.keys(set);
    if (names.length === 0 && remove.length === 0) return this;
    const headers: Record<string, string | string[] | undefined> = { ...this.source.headers };
    for (const name of remove) delete headers[name];
    // Values set are text; a request of byte strings keeps its values' UTF-8 bytes one per character.
    for (const name of names)
      headers[name] = this.source.byteStrings === true ? Buffer.from(set[name]!, "utf8").toString("latin1") : set[name]!;
    return new Normalized({ ...this.source, headers }, this.path, this.method, this.#everyReading, this.arrived, this.asRouted);
  }

  get headersOnOneLine(): boolean | undefined {
    return this.source.headersOnOneLine;
  }

  get authority(): string {
    return this.text(this.source.host);
  }

  get rawQuery(): string | undefined {
    return this.#queryAt === -1 ? undefined : this.target.slice(this.#queryAt + 1);
  }

  // Parsed on first use: most routes and policies never read the query.
  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.#queryAt === -1 ? "" : this.target.slice(this.#queryAt + 1)));
  }

  header(name: string): string | undefined {
    const v = headerValue(this.source.headers, name);
    return v === undefined ? undefined : this.text(v);
  }

  headerLines(name: string): readonly string[] {
    const lines = this.#linesIn(name);
    if (typeof lines !== "string") return lines;
    // Asked for as a list: built once, and the same list answers again.
    const list = [lines];
    this.#lines = list;
    return list;
  }

  headerLineCount(name: string): number {
    const lines = this.#linesIn(name);
    return typeof lines === "string" ? 1 : lines.length;
  }

  headerLineAt(name: string, i: number): string {
    const lines = this.#linesIn(name);
    return typeof lines === "string" ? lines : lines[i]!;
  }

  /**
   * The lines of header `name` as text: one line as itself, several as a list. The same header is
   * often read again (jwt reads Authorization as Envoy does, then as other readers do): its lines are
   * read as text once, not scanned for non-ASCII bytes and copied each time.
   */
  #linesIn(name: string): string | readonly string[] {
    if (name === this.#linesOf) return this.#lines;
    const v = Object.hasOwn(this.source.headers, name) ? this.source.headers[name] : undefined;
    const lines = typeof v === "string" ? this.text(v) : v === undefined ? NONE : this.#textOfLines(v);
    this.#linesOf = name;
    this.#lines = lines;
    return lines;
  }

  /** Several lines as text (a method of its own: #linesIn holding the closure would allocate its context on every call). */
  #textOfLines(lines: readonly string[]): readonly string[] {
    return this.source.byteStrings === true ? lines.map((line) => this.text(line)) : lines;
  }

  params(name: string): readonly string[] {
    if (this.#queryAt === -1) return NONE;
    const values = this.query.getAll(name);
    const query = this.#queryReadOtherwise();
    if (!this.#everyReading) return query === undefined ? values : envoyParams(query, name);
    const read = query === undefined ? values : withOtherReadings(values, envoyParams(query, name), query, name);
    const otherCase = this.#paramsInOtherCase(name);
    if (otherCase.length === 0) return read;
    this.#foundInOtherCase = true;
    return [...read, ...otherCase];
  }

  /** The values of the parameters whose names match `name` only in another letter case (a form's reading of the query). */
  #paramsInOtherCase(name: string): readonly string[] {
    const folded = foldedName(name);
    // The usual query has no upper-case letter, as sent or percent-encoded, where the name asked for has none: nothing to look through.
    if (folded === name && !mayHoldUpperCase(this.target, this.#queryAt + 1)) return NONE;
    return paramsFoldedTo(this.query, name, folded);
  }

  /** The query when some reading finds other parameters in it (readOtherwise), else undefined: the usual query is parsed once (`query`). */
  #queryReadOtherwise(): string | undefined {
    if (this.#queryAt === -1) return undefined;
    const query = this.target.slice(this.#queryAt + 1);
    return readOtherwise(query) ? query : undefined;
  }

  cookies(name: string): readonly string[] {
    const { every, envoy } = this.#parsedCookies();
    if (!this.#everyReading) return (envoy ?? every).get(name) ?? NONE;
    const folded = name.toLowerCase();
    const values = every.get(folded) ?? NONE;
    // Without Envoy's own reading every name sent is in lower case: a name asked for in another case finds only other spellings.
    if (folded !== name && values.length > 0) this.#foundInOtherCase = true;
    return values;
  }

  #parsedCookies(): CookieReadings {
    return (this.#cookies ??= parseCookies(this.header("cookie")));
  }
}

/**
 * The values of `query`'s parameters other than `name` whose foldedName is `folded`. A function of its
 * own: the callback closes over `found`, and V8 allocates that context on entry to the function that
 * declares it, so in #paramsInOtherCase every call paid for it, the usual one, which looks through nothing, too.
 */
function paramsFoldedTo(query: URLSearchParams, name: string, folded: string): readonly string[] {
  const found: string[] = [];
  query.forEach((value, key) => {
    if (key !== name && foldedName(key) === folded) found.push(value);
  });
  return found;
}

/** Envoy's challenge realm: the request URL without its query, with no character that would end the quoted string. */
export function realmOf(request: NormalizedRequest): string {
  return `${request.source.scheme}://${request.host}${request.path}`.replace(/["\\]/g, "");
}
