/** The vocabulary of the catalogue: a case, its expected outcome, and how outcomes are compared. */
import type { Decision } from "../../controller/authz/decision.ts";
import type { AuthzRequest } from "../../controller/authz/request.ts";
import type { Decider } from "../support/world.ts";
import type { Ctx } from "./context.ts";

export type Area =
  | "JWT"
  | "API keys"
  | "Basic authentication"
  | "Routing"
  | "Listeners"
  | "Client address"
  | "GeoIP"
  | "CEL"
  | "Headers"
  | "CORS"
  | "CSRF"
  | "OIDC"
  | "Forward-auth"
  | "Manifests"
  | "Policy attachment"
  | "Merging"
  | "External authorization"
  | "Availability";

export interface Expected {
  readonly status: number;
  /** The decision's reason code ("allowed" on a 200; "request_invalid" for a request refused before any decision). */
  readonly code: string;
  /** On a 200: exactly the headers set on the upstream request (a spoofed copy is replaced). */
  readonly upstream?: Readonly<Record<string, string>>;
  /**
   * On a 200: headers removed besides the managed ones. Every header any policy of the world may
   * set and this answer does not set is always removed (the client's copy can never go upstream);
   * this lists what comes on top, e.g. the credential `sanitize` strips.
   */
  readonly remove?: readonly string[];
  /** A fragment of the reason. */
  readonly reason?: string;
  /** Manifests: a fragment of the policy's Accepted=False condition message. */
  readonly condition?: string;
}

/** What a case observed: a decision, a wire response, or a compile result plus a decision. */
export interface Outcome {
  readonly status: number;
  readonly code: string;
  readonly upstream: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
  readonly reason: string;
  readonly condition?: string | undefined;
  /** Every header the world's policies may set (computed by the harness from the compiled policies). */
  readonly managed?: readonly string[];
}

export interface Case {
  /** Stable id, "<area>.<name>". */
  readonly id: string;
  readonly title: string;
  readonly expect: Expected;
  /** Set when the case exposed a weakness that was fixed: what changed. */
  readonly fixed?: string;
  run(ctx: Ctx): Promise<Outcome>;
}

export function fromDecision(d: Decision, managed: readonly string[], condition?: string): Outcome {
  return { status: d.status, code: d.code, upstream: d.upstreamHeaders, remove: d.removeHeaders, reason: d.message, condition, managed };
}

/**
 * A builder of cases `<area>.<id>` that decide a request on `world` through check() (no server),
 * each request completed from `defaults`.
 */
export function casesOn(area: string, world: Decider, defaults: Partial<AuthzRequest> = {}) {
  return (id: string, title: string, expect: Expected, request: Partial<AuthzRequest> & { path: string }, fixed?: string): Case => ({
    id: `${area}.${id}`,
    title,
    expect,
    run: async () => fromDecision(await world({ ...defaults, ...request }), managedHeadersOf(world.result.snapshot.policies)),
    ...(fixed === undefined ? {} : { fixed }),
  });
}

/** Every header any compiled policy may set. */
export function managedHeadersOf(policies: Readonly<Record<string, { readonly managedHeaders: readonly string[] }>>): string[] {
  return [...new Set(Object.values(policies).flatMap((p) => p.managedHeaders))].sort();
}

/** Throws (with the case id) unless `o` is exactly what `e` says; a denial must forward nothing. */
export function assertOutcome(id: string, e: Expected, o: Outcome): void {
  const fail = (what: string) => {
    throw new Error(`${id}: ${what}\nobserved: ${JSON.stringify(o)}`);
  };
  if (o.status !== e.status) fail(`status ${o.status}, expected ${e.status}`);
  if (o.code !== e.code) fail(`code ${o.code}, expected ${e.code}`);
  const upstream = e.status === 200 ? (e.upstream ?? {}) : {};
  const remove =
    e.status === 200 ? [...new Set([...(o.managed ?? []).filter((h) => !Object.hasOwn(upstream, h)), ...(e.remove ?? [])])] : [];
  if (JSON.stringify(sorted(o.upstream)) !== JSON.stringify(sorted(upstream)))
    fail(`upstream headers differ from ${JSON.stringify(upstream)}`);
  if (JSON.stringify([...o.remove].sort()) !== JSON.stringify([...remove].sort()))
    fail(`removed headers differ from ${JSON.stringify(remove)}`);
  if (e.reason !== undefined && !o.reason.includes(e.reason)) fail(`reason lacks "${e.reason}"`);
  if (e.condition !== undefined && !(o.condition ?? "").includes(e.condition)) fail(`condition lacks "${e.condition}"`);
}

const sorted = (r: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));

/** One line of SECURITY.md for an expected outcome. */
export function describeExpected(e: Expected): string {
  const parts = [`${e.status} \`${e.code}\`${e.reason === undefined ? "" : ` (“${e.reason}”)`}`];
  if (e.status === 200) {
    const set = Object.entries(e.upstream ?? {}).map(([h, v]) => `${h}: ${v}`);
    parts.push(set.length === 0 ? "sets nothing" : `sets ${set.join(", ")}`);
    parts.push(
      `removes the ${set.length === 0 ? "" : "other "}managed headers${(e.remove ?? []).length > 0 ? ` and ${(e.remove ?? []).join(", ")}` : ""}`,
    );
  } else {
    parts.push("nothing forwarded");
  }
  if (e.condition !== undefined) parts.push(`policy condition “${e.condition}”`);
  return parts.join("; ");
}
