/**
 * mergeType: a Gateway policy requires a JWT from the world's issuer; route-rule policies with
 * mergeType merge into it. A child may replace a feature with its own (that is the merge), but it
 * can never take the parent's jwt away by writing less: `null`, an empty jwt or one without
 * providers make it Invalid (denying), and its own authorization runs only after the parent's
 * identity check.
 */
import type { Keys } from "../world.ts";
import { ISSUER, jwksOf, token } from "../world.ts";
import { gatewayWithRoute } from "../../support/manifests.ts";
import { decider } from "../../support/world.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";

const RULES = { merged: "/merged", "jwt-null": "/jwt-null", "jwt-empty": "/jwt-empty", "jwt-optional": "/jwt-optional", allow: "/allow" };

function gatewayJwt(keys: Keys, extra = ""): string {
  return `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: gateway-jwt, namespace: apps, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  jwt: {providers: [{name: idp, issuer: ${ISSUER}, localJWKS: {inline: '${jwksOf(keys.es)}'}${extra}}]}
`;
}

/** A route-rule policy with mergeType on `rule`; `spec` is YAML indented by two spaces. */
const child = (rule: keyof typeof RULES, spec: string, mergeType = "JSONMerge") => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${rule}, namespace: apps, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  mergeType: ${mergeType}
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api, sectionName: ${rule}}]
${spec}`;

const CHILDREN =
  child("merged", "  cors: {allowOrigins: [https://app.example.com]}\n", "StrategicMerge") +
  child("jwt-null", "  jwt: null\n") +
  child("jwt-empty", "  jwt: {}\n") +
  child("jwt-optional", "  jwt: {optional: true}\n") +
  child("allow", "  authorization: {defaultAction: Allow}\n");

/** Compiles the merge world (with `parent` as the Gateway policy) and asks `path` with `headers`. */
async function ask(keys: Keys, path: string, headers: Record<string, string>, parent = gatewayJwt(keys)): Promise<Outcome> {
  const decide = decider(gatewayWithRoute("api.example.com", RULES) + parent + CHILDREN);
  const { statuses, snapshot } = decide.result;
  const conditions = statuses.flatMap((s) =>
    s.ancestors.flatMap((a) => a.conditions.filter((c) => c.status === "False").map((c) => `${s.name}: ${c.message}`)),
  );
  return fromDecision(await decide({ path, headers }), managedHeadersOf(snapshot.policies), conditions.join("; "));
}

const INVALID = (condition: string): Expected => ({ status: 403, code: "policy_invalid", condition });

function m(id: string, title: string, expect: Expected, run: (keys: Keys) => Promise<Outcome>): Case {
  return { id: `merge.${id}`, title, expect, run: (ctx) => run(ctx.keys) };
}

export const mergeCases: readonly Case[] = [
  m("no-token", "a route policy (cors) merged into the Gateway's jwt policy, no token", { status: 401, code: "jwt_missing" }, (keys) =>
    ask(keys, "/merged", {}),
  ),
  m("valid-token", "the same merged route with a valid token", { status: 200, code: "allowed" }, (keys) =>
    ask(keys, "/merged", { authorization: `Bearer ${token({}, {}, undefined, keys)}` }),
  ),
  m("jwt-null", "the child writes `jwt: null` to drop the parent's jwt", INVALID("jwt-null: spec.jwt"), (keys) =>
    ask(keys, "/jwt-null", {}),
  ),
  m("jwt-empty", "the child writes `jwt: {}`", INVALID("jwt-empty: spec.jwt.providers"), (keys) => ask(keys, "/jwt-empty", {})),
  m(
    "jwt-optional",
    "the child writes `jwt: {optional: true}` to make the parent's providers optional",
    INVALID("jwt-optional: spec.jwt.providers"),
    (keys) => ask(keys, "/jwt-optional", {}),
  ),
  m(
    "authorization-allow",
    "the child adds `authorization: {defaultAction: Allow}`, no token",
    { status: 401, code: "jwt_missing" },
    (keys) => ask(keys, "/allow", {}),
  ),
  m(
    "parent-invalid",
    "the parent policy is invalid (a typo in its jwt provider): the merged route",
    INVALID("merged: merges into SecurityPolicy apps/gateway-jwt, which is invalid"),
    (keys) => ask(keys, "/merged", { authorization: `Bearer ${token({}, {}, undefined, keys)}` }, gatewayJwt(keys, ", issuers: [x]")),
  ),
];
