/**
 * What the rules of one reading decide on (Facts): the request, the identities, the client address
 * and what is costly to find (CEL variables, the JWT payload, the client's location), found when a
 * rule first needs it, once; and a CEL expression's verdict over them. Apart from check.ts, which
 * runs the rules in order, as the state a decision reads.
 */
import type { NormalizedRequest } from "../../authz/request.ts";
import type { GeoLocation } from "../../geoip/database.ts";
import type { QueryReading } from "../../snapshot/query-readings.ts";
import type { RouteReading } from "../../snapshot/route-index.ts";
import type { IdentityAttributes } from "../feature.ts";
import type { CompiledCel } from "./cel.ts";
import { celMatches, envoyAttributesOf, jwtAuthnPayload, principalCelMatches, principalVariablesOf } from "./cel-context.ts";
import type { CompiledAuthorization, CompiledRule } from "./compile.ts";
import { everyLineChoice } from "./line-readings.ts";

/**
 * What the expressions that read headers by unknown keys decided over every choice of one line of
 * every header, by expression and query reading (no other part of a line reading changes it), and
 * those choices, found once: one authorize() call's.
 */
export class AnyHeaderVerdicts {
  #choices: { readonly value: readonly ReadonlyMap<string, number>[] | undefined } | undefined;
  readonly #matches = new Map<CompiledCel, Map<QueryReading, boolean | undefined>>();

  /** Every choice of one line of every header (everyLineChoice); undefined when there are too many. */
  choices(request: NormalizedRequest): readonly ReadonlyMap<string, number>[] | undefined {
    return (this.#choices ??= { value: everyLineChoice(request) }).value;
  }

  /** Whether `cel` matched on `query` (undefined: too many choices), found with `evaluate` the first time. */
  matches(cel: CompiledCel, query: QueryReading, evaluate: () => boolean | undefined): boolean | undefined {
    let byQuery = this.#matches.get(cel);
    if (byQuery === undefined) this.#matches.set(cel, (byQuery = new Map()));
    if (!byQuery.has(query)) byQuery.set(query, evaluate());
    return byQuery.get(query);
  }
}

/**
 * What the rules of one reading decide on. The costly parts are computed when a rule first needs
 * them, once: a class, so a decision on rules that need none of them allocates one object.
 */
export class Facts {
  readonly request: NormalizedRequest;
  readonly who: IdentityAttributes;
  readonly clientAddress: string | undefined;
  readonly #geo: CompiledAuthorization["geo"];
  readonly #now: number;
  readonly reading: RouteReading;
  readonly #anyHeader: AnyHeaderVerdicts | undefined;
  #principalVariables: Record<string, unknown> | undefined;
  #envoyAttributes: Record<string, unknown> | undefined;
  #location: { readonly value: GeoLocation | undefined } | undefined;
  #jwtPayload: Readonly<Record<string, unknown>> | undefined;
  /** Set when a rule read the client address (Verdict.readClientAddress). */
  clientAddressRead = false;

  constructor(
    config: CompiledAuthorization,
    request: NormalizedRequest,
    who: IdentityAttributes,
    clientAddress: string | undefined,
    now: number,
    reading: RouteReading,
    anyHeader: AnyHeaderVerdicts | undefined,
  ) {
    this.request = request;
    this.who = who;
    this.clientAddress = clientAddress;
    this.#geo = config.geo;
    this.#now = now;
    this.reading = reading;
    this.#anyHeader = anyHeader;
  }

  /**
   * Whether `cel`, of `rule`, matches on this reading (celMatches): over the variables of
   * `principal.cel` or Envoy's attributes (`over`). An expression that reads headers by unknown keys
   * is decided on a line reading over every choice of one line of every header, as a header match
   * is over every line (headerMismatch): a Deny rule's matches when it does on any choice, an Allow
   * rule's only when it does on each. undefined when there are more than MAX_HEADER_LINES choices.
   */
  celMatches(rule: CompiledRule, cel: CompiledCel, over: "principal" | "envoy"): boolean | undefined {
    if (cel.headersNamed !== undefined || this.reading.header === "joined") {
      const variables =
        over === "principal"
          ? (this.#principalVariables ??= this.#variablesIn(over, this.reading))
          : (this.#envoyAttributes ??= this.#variablesIn(over, this.reading));
      return this.#matchesOver(rule, cel, over, variables);
    }
    const anyHeader = this.#anyHeader!;
    return anyHeader.matches(cel, this.reading.query, () => {
      const choices = anyHeader.choices(this.request);
      if (choices === undefined) return undefined;
      const anyChoice = rule.action === "Deny";
      for (const header of choices) {
        const reading = { query: this.reading.query, header, name: this.reading.name };
        if (this.#matchesOver(rule, cel, over, this.#variablesIn(over, reading)) === anyChoice) return anyChoice;
      }
      return !anyChoice;
    });
  }

  /** celMatches over `variables`; for `principal.cel`, on every reading of the Host (principalCelMatches). */
  #matchesOver(rule: CompiledRule, cel: CompiledCel, over: "principal" | "envoy", variables: Record<string, unknown>): boolean {
    return over === "principal" ? principalCelMatches(rule, cel, variables, this.request.hosts) : celMatches(rule, cel, variables);
  }

  /** The variables of `principal.cel`, or Envoy's attributes for a rule's `cel`, in `reading`. */
  #variablesIn(over: "principal" | "envoy", reading: RouteReading): Record<string, unknown> {
    return over === "principal"
      ? principalVariablesOf(this.request, this.who, this.clientAddress, reading)
      : envoyAttributesOf(this.request, this.who, this.jwtPayload(), this.#now, reading);
  }

  /** The verified JWT payload as jwt_authn's metadata holds it (jwtAuthnPayload); undefined without a token. */
  jwtPayload(): Readonly<Record<string, unknown>> | undefined {
    const jwt = this.who.jwt;
    return jwt === undefined ? undefined : (this.#jwtPayload ??= jwtAuthnPayload(jwt.claims));
  }

  /** Where the client is; undefined when nothing is known (no address, a database that failed). */
  location(): GeoLocation | undefined {
    const address = this.clientAddress;
    return (this.#location ??= { value: address === undefined ? undefined : this.#geo?.locate(address) }).value;
  }
}

/** What principalMismatch and celMismatch return when a CEL expression cannot be decided for too many choices of header lines (Facts.celMatches). */
export const TOO_MANY = "too many choices of header lines";

/** The rule's `cel` (over Envoy's attributes) or its `principal.cel` when it does not match, TOO_MANY, or undefined. */
export function celMismatch(rule: CompiledRule, cel: CompiledCel, facts: Facts, over: "principal" | "envoy"): string | undefined {
  const matches = facts.celMatches(rule, cel, over);
  if (matches === undefined) return TOO_MANY;
  return matches
    ? undefined
    : over === "principal"
      ? "the principal's CEL expression is not true"
      : "the rule's CEL expression is not true";
}
