/**
 * Compiles `authorization`: rules in order, first match wins, `defaultAction` Deny unless set.
 * Everything that can be checked is checked here (CIDRs, provider names, regular expressions,
 * CEL syntax, types and worst-case cost, the GeoIP databases the geolocation fields need), so that
 * request time only evaluates.
 */
import { z } from "zod";
import { fail, ok, problem, type Result } from "../../lib/result.ts";
import { readWhole } from "../../authz/header-values.ts";
import type { PathMatch } from "../../snapshot/types.ts";
import type { CompileContext } from "../feature.ts";
import { jwt } from "../jwt/index.ts";
import { geoLocator, type GeoField, type GeoLocator } from "../../geoip/database.ts";
import { compileCel, ENVOY_ATTRIBUTES, PRINCIPAL_VARIABLES, type CompiledCel } from "./cel.ts";
import { ClientIPGeoLocationSchema, compileGeoLocations, type CompiledGeoLocation } from "./geo.ts";
import { cidrSet, type CidrSet } from "../../lib/cidr.ts";
import { compileRe2 } from "../../lib/regex.ts";

const AuthorizationActionSchema = z.enum(["Allow", "Deny"]);

const PrincipalSchema = z
  .object({
    clientCIDRs: z.array(z.string().min(1)).min(1).optional(),
    jwt: z
      .object({
        provider: z.string().min(1),
        claims: z
          .array(
            z
              .object({
                name: z.string().min(1),
                valueType: z.enum(["String", "StringArray"]).default("String"),
                values: z.array(z.string()).min(1),
              })
              .strict(),
          )
          .min(1)
          .optional(),
        scopes: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .optional(),
    headers: z
      .array(z.object({ name: z.string().min(1), values: z.array(z.string()).min(1) }).strict())
      .min(1)
      .optional(),
    clientIPGeoLocations: z.array(ClientIPGeoLocationSchema).min(1).optional(),
    /** Portcullis extension: a CEL expression over request, jwt, apiKey, basicAuth and source (see README). */
    cel: z.string().min(1).optional(),
  })
  .strict();
export type PrincipalSpec = z.infer<typeof PrincipalSchema>;

/** Envoy Gateway's Authorization (v1.9.0 api/v1alpha1/authorization_types.go), with Portcullis' `cel` principal. */
export const AuthorizationSchema = z
  .object({
    defaultAction: AuthorizationActionSchema.optional(),
    rules: z
      .array(
        z
          .object({
            name: z.string().min(1).optional(),
            action: AuthorizationActionSchema,
            operation: z
              .object({
                methods: z.array(z.string().min(1)).min(1).optional(),
                path: z
                  .object({
                    type: z.enum(["Exact", "PathPrefix", "RegularExpression"]).default("PathPrefix"),
                    value: z.string().default("/"),
                    invert: z.boolean().default(false),
                  })
                  .strict()
                  .optional(),
              })
              .strict()
              .optional(),
            principal: PrincipalSchema.optional(),
            /** Over Envoy's attributes (ENVOY_ATTRIBUTES); Envoy Gateway's CRD bounds it to 4096 characters. */
            cel: z.string().min(1).max(4096).optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();
export type AuthorizationSpec = z.infer<typeof AuthorizationSchema>;
type RuleSpec = NonNullable<AuthorizationSpec["rules"]>[number];

export interface CompiledAuthorization {
  /** What a request gets when no rule matches (Deny unless the policy says otherwise). */
  readonly defaultAction: "Allow" | "Deny";
  /** In order; the first rule whose operation, principal and `cel` all match decides. */
  readonly rules: readonly CompiledRule[];
  /** Locates the client for the rules' `clientIPGeoLocations` (every field they read); undefined when none has any. */
  readonly geo: GeoLocator | undefined;
  /**
   * Lower-case names, in rule order without repeats, of the headers whose lines (and list elements)
   * the rules read as readings of their own (check.ts): those principal header matches name, then
   * those CEL expressions name (CompiledCel.headersNamed). A request where one has more than
   * MAX_HEADER_LINES lines is refused (431), as is one where the headers CEL names have more
   * choices than that of one line each (headersNamedByCel).
   */
  readonly headersRead: readonly string[];
  /**
   * The headers of headersRead a CEL expression names by a literal key: each choice of one line of
   * each is a reading of the whole request (their line counts multiplied: at most MAX_HEADER_LINES).
   * `host` and pseudo-headers, read whole, are not among them.
   */
  readonly headersNamedByCel: readonly string[];
  /**
   * Whether a CEL expression reads `request.headers` by keys that cannot be known from it
   * (CompiledCel.headersNamed undefined): where it is evaluated on a line reading, it is decided on
   * every choice of one line of every header (more than MAX_HEADER_LINES: the request is refused).
   */
  readonly celReadsAnyHeader: boolean;
}

export interface CompiledRule {
  /** The rule's name, or "rule N". */
  readonly name: string;
  readonly action: "Allow" | "Deny";
  /** Upper-case methods the rule applies to; undefined: any. */
  readonly methods: readonly string[] | undefined;
  readonly path: (PathMatch & { readonly invert: boolean }) | undefined;
  /** Every principal field set must match (AND); within one field any value may. undefined: anyone. */
  readonly principal: CompiledPrincipal | undefined;
  /** The rule's `cel`, over Envoy's attributes; must evaluate to true. */
  readonly cel: CompiledCel | undefined;
}

export interface CompiledPrincipal {
  /** Client networks, as "address/prefix" strings parsed once into a matcher. */
  readonly clientCIDRs: { readonly cidrs: readonly string[]; readonly contains: (address: string) => boolean } | undefined;
  readonly jwt:
    | {
        readonly provider: string;
        readonly claims: readonly {
          readonly claim: readonly string[];
          readonly valueType: "String" | "StringArray";
          readonly values: readonly string[];
        }[];
        readonly scopes: readonly string[];
      }
    | undefined;
  /** Lower-case header name → accepted values. */
  readonly headers: readonly { readonly name: string; readonly values: readonly string[] }[] | undefined;
  /** Where the client may be (any entry), located with CompiledAuthorization.geo. */
  readonly geoLocations: readonly CompiledGeoLocation[] | undefined;
  /** Portcullis' `principal.cel`, over request, jwt, apiKey, basicAuth and source (PRINCIPAL_VARIABLES). */
  readonly cel: CompiledCel | undefined;
}

export function compileAuthorization(spec: AuthorizationSpec, context: CompileContext): Result<CompiledAuthorization> {
  // undefined when jwt is configured but has problems of its own: its providers are then not checked here.
  const compiledJwt = context.compiled(jwt);
  const jwtProviders =
    compiledJwt !== undefined ? compiledJwt.providers.map((p) => p.name) : context.spec.jwt === undefined ? [] : undefined;
  const rules: CompiledRule[] = [];
  const problems: string[] = [];
  const geoFields = new Set<GeoField>();
  for (const [i, rule] of (spec.rules ?? []).entries()) {
    const compiled = compileRule(rule, i, jwtProviders, geoFields);
    if (compiled.ok) rules.push(compiled.value);
    else problems.push(...compiled.error);
  }
  let geo: GeoLocator | undefined;
  if (geoFields.size > 0) {
    const located = geoLocator(context.geoipDatabases, geoFields);
    if (located.ok) geo = located.value;
    else problems.push(...located.errors.map((e) => `clientIPGeoLocations: ${e}`));
  }
  if (problems.length > 0) return fail(problems);
  return ok({ defaultAction: spec.defaultAction ?? "Deny", rules, geo, ...headersReadBy(rules) }, rules.flatMap(allowValuesSplit));
}

/** What `rules` read of the headers' lines: CompiledAuthorization.headersRead, headersNamedByCel and celReadsAnyHeader. */
function headersReadBy(
  rules: readonly CompiledRule[],
): Pick<CompiledAuthorization, "headersRead" | "headersNamedByCel" | "celReadsAnyHeader"> {
  const expressions = rules.flatMap((r) => [r.principal?.cel, r.cel].filter((cel) => cel !== undefined));
  const matched = rules.flatMap((r) => (r.principal?.headers ?? []).map((h) => h.name));
  const named = [...new Set(expressions.flatMap((cel) => [...(cel.headersNamed ?? [])]))].filter((name) => !readWhole(name));
  return {
    headersRead: [...new Set([...matched, ...named])],
    headersNamedByCel: named,
    celReadsAnyHeader: expressions.some((cel) => cel.headersNamed === undefined),
  };
}

/**
 * A warning for each value of an Allow rule's header match that holds ",": every port also reads
 * the header as each element between its commas (authz/header-values.ts linesUpstreamMayRead), an
 * upstream may act on one, and no element equals the whole value, so the rule never allows by it.
 */
function allowValuesSplit(rule: CompiledRule): string[] {
  if (rule.action !== "Allow") return [];
  return (rule.principal?.headers ?? []).flatMap((h) =>
    readWhole(h.name)
      ? []
      : h.values
          .filter((v) => v.includes(","))
          .map(
            (v) =>
              `rule ${rule.name}: the ${h.name} value ${JSON.stringify(v)} holds ","; each element between commas is read on its own too (an upstream may act on one), so this Allow value never lets a request through`,
          ),
  );
}

/** One rule; `geoFields` gets the location fields its principal reads. */
function compileRule(
  rule: RuleSpec,
  i: number,
  jwtProviders: readonly string[] | undefined,
  geoFields: Set<GeoField>,
): Result<CompiledRule> {
  const field = `rules[${i}]`;
  if (rule.principal === undefined && rule.cel === undefined) return problem(`${field}: set principal or cel`);
  let principal: CompiledPrincipal | undefined;
  if (rule.principal !== undefined) {
    const compiled = compilePrincipal(rule.principal, `${field}.principal`, jwtProviders, geoFields);
    if (!compiled.ok) return compiled;
    principal = compiled.value;
  }
  let cel: CompiledCel | undefined;
  if (rule.cel !== undefined) {
    const compiled = compileCel(rule.cel, ENVOY_ATTRIBUTES);
    if (!compiled.ok) return problem(`${field}.cel: ${compiled.error}`);
    cel = compiled.value;
  }
  let path: CompiledRule["path"];
  const p = rule.operation?.path;
  if (p !== undefined) {
    if (p.type === "RegularExpression") {
      const regex = compileRe2(p.value);
      if (!regex.ok) return problem(`${field}.operation.path: regular expression ${regex.error}`);
      path = { type: p.type, value: p.value, regex: regex.value, invert: p.invert };
    } else {
      if (!p.value.startsWith("/")) return problem(`${field}.operation.path: ${JSON.stringify(p.value)} does not start with /`);
      path = { type: p.type, value: p.type === "PathPrefix" ? p.value.replace(/\/+$/, "") : p.value, invert: p.invert };
    }
  }
  return ok({
    name: rule.name ?? `rule ${i}`,
    action: rule.action,
    methods: rule.operation?.methods?.map((m) => m.toUpperCase()),
    path,
    principal,
    cel,
  });
}

/** The principal; `geoFields` gets the location fields its `clientIPGeoLocations` read. */
function compilePrincipal(
  spec: PrincipalSpec,
  field: string,
  jwtProviders: readonly string[] | undefined,
  geoFields: Set<GeoField>,
): Result<CompiledPrincipal> {
  if (
    spec.clientCIDRs === undefined &&
    spec.jwt === undefined &&
    spec.headers === undefined &&
    spec.clientIPGeoLocations === undefined &&
    spec.cel === undefined
  ) {
    // Also what is left when a CRD without Portcullis' `cel` field pruned it: refuse rather than match everyone.
    return problem(`${field}: set at least one of clientCIDRs, jwt, headers, clientIPGeoLocations or cel`);
  }
  let clientCIDRs: CompiledPrincipal["clientCIDRs"];
  if (spec.clientCIDRs !== undefined) {
    let set: CidrSet;
    try {
      set = cidrSet(spec.clientCIDRs);
    } catch (e) {
      return problem(`${field}.clientCIDRs: ${(e as Error).message}`);
    }
    clientCIDRs = { cidrs: spec.clientCIDRs, contains: (address) => set.has(address) };
  }
  if (spec.jwt !== undefined && jwtProviders !== undefined && !jwtProviders.includes(spec.jwt.provider)) {
    return problem(`${field}.jwt.provider: ${spec.jwt.provider} is not a jwt provider of this policy`);
  }
  let cel: CompiledPrincipal["cel"];
  if (spec.cel !== undefined) {
    const compiled = compileCel(spec.cel, PRINCIPAL_VARIABLES);
    if (!compiled.ok) return problem(`${field}.cel: ${compiled.error}`);
    cel = compiled.value;
  }
  return {
    ok: true,
    value: {
      clientCIDRs,
      jwt:
        spec.jwt === undefined
          ? undefined
          : {
              provider: spec.jwt.provider,
              claims: (spec.jwt.claims ?? []).map((c) => ({ claim: c.name.split("."), valueType: c.valueType, values: c.values })),
              scopes: spec.jwt.scopes ?? [],
            },
      headers: spec.headers?.map((h) => ({ name: h.name.toLowerCase(), values: h.values })),
      geoLocations: spec.clientIPGeoLocations === undefined ? undefined : compileGeoLocations(spec.clientIPGeoLocations, geoFields),
      cel,
    },
  };
}
