/** Compiles manifest text into a snapshot the way both sources do, for decision tests. */
import { selfServiceOf } from "../../controller/runtime/compile-options.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { toResources, type Resources } from "../../controller/api/resources.ts";
import type { Condition } from "../../controller/api/status.ts";
import { Passwords } from "../../controller/features/basicAuth/check.ts";
import { check, checkExplained } from "../../controller/authz/check.ts";
import type { Explained } from "../../controller/authz/trace-steps.ts";
import type { CheckContext } from "../../controller/authz/context.ts";
import { clientAddressDetection } from "../../controller/authz/client-address.ts";
import type { Decision } from "../../controller/authz/decision.ts";
import type { AuthzRequest } from "../../controller/authz/request.ts";
import { CheckMemo } from "../../controller/authz/check-memo.ts";
import { compile, type CompileOptions, type CompileResult } from "../../controller/compile/index.ts";
import { compiledOf, type Feature } from "../../controller/features/feature.ts";
import { createKeyStore } from "../../controller/keys/store.ts";
import { parseManifests } from "../../controller/sources/manifest-text.ts";
import { policiesOnRules, type PolicyFeatures } from "./manifests.ts";

/**
 * The Resources of manifest `text`, read as a manifest folder reads a file (its YAML limits) and
 * converted as both sources convert. Throws when the text does not parse or an object is rejected:
 * a test's world is meant to be valid (tests of rejections call parseManifests and toResources).
 */
export function resourcesOf(text: string): Resources {
  const parsed = parseManifests(text, "test.yaml");
  if ("error" in parsed) throw new Error(`test manifests do not parse: ${parsed.error}`);
  const { resources, rejected } = toResources(parsed.objects);
  if (rejected.length > 0) throw new Error(`test manifests rejected: ${JSON.stringify(rejected)}`);
  return resources;
}

/** `options` adds to the defaults (controller name portcullis.io/controller, every GatewayClass, no GeoIP database). */
export function compileText(text: string, options: Partial<CompileOptions> = {}): CompileResult {
  return compile(resourcesOf(text), { controllerName: "portcullis.io/controller", gatewayClasses: [], ...options });
}

/** What compile made of one policy (compilePolicy). */
export interface PolicyOutcome {
  /** Its Accepted condition on its ancestor: "True", or "False" with every problem, feature-prefixed. */
  readonly accepted: Condition;
  /** The messages of its Warning conditions. */
  readonly warnings: readonly string[];
  /** What `feature` compiled to; undefined when the policy is invalid or does not configure it. */
  compiled<C>(feature: Feature<unknown, C>): C | undefined;
  readonly result: CompileResult;
}

/** Compiles SecurityPolicy apps/p with `features` on HTTPRoute apps/api (api.example.com), beside `objects` (YAML documents). */
export function compilePolicy(features: PolicyFeatures, ...objects: string[]): PolicyOutcome {
  return compilePolicyWith({}, features, ...objects);
}

/** compilePolicy with CompileOptions besides the defaults (compileText's). */
export function compilePolicyWith(options: Partial<CompileOptions>, features: PolicyFeatures, ...objects: string[]): PolicyOutcome {
  const result = compileText(policiesOnRules("api.example.com", { p: { path: "/", features } }, ...objects), options);
  const conditions = result.statuses.find((s) => s.name === "p")!.ancestors[0]!.conditions;
  const accepted = conditions.find((c) => c.type === "Accepted")!;
  return {
    accepted,
    warnings: conditions.filter((c) => c.type === "Warning").map((c) => c.message),
    compiled: (feature) => compiledOf(result.snapshot.policies["apps/p"]!.features, feature),
    result,
  };
}

export interface Decider {
  (request: Partial<AuthzRequest> & { path: string }): Promise<Decision>;
  /** The same decision with its trace (check --explain). */
  explain(request: Partial<AuthzRequest> & { path: string }): Promise<Explained>;
  readonly result: CompileResult;
  readonly ctx: CheckContext;
}

/** A fresh check context: real key store and memos, no route denied, no trusted proxies. */
export function testCheckContext(overrides: Partial<CheckContext> = {}): CheckContext {
  return {
    keys: createKeyStore({ logger: pino({ level: "silent" }) }),
    memo: new CheckMemo(),
    passwords: new Passwords(),
    now: () => Date.now(),
    onNoRoute: "deny",
    clientAddress: clientAddressDetection({ trustedHops: 0, trustedCidrs: [] }),
    ...overrides,
  };
}

/** A check() bound to one compiled world; requests default to GET http://api.example.com. */
export function decider(text: string, overrides: Partial<CheckContext> = {}, options: Partial<CompileOptions> = {}): Decider {
  const result = compileText(text, options);
  const ctx = testCheckContext(overrides);
  const full = (request: Partial<AuthzRequest> & { path: string }): AuthzRequest => ({
    method: "GET",
    scheme: "http",
    host: "api.example.com",
    headers: {},
    gateway: undefined,
    ...request,
  });
  const decide = async (request: Partial<AuthzRequest> & { path: string }) => check(result.snapshot, full(request), ctx);
  const explain = async (request: Partial<AuthzRequest> & { path: string }) => checkExplained(result.snapshot, full(request), ctx);
  return Object.assign(decide, { result, ctx, explain });
}

/** check() bound to the world of a compile golden case, test/compile/testdata/<name>.in.yaml. */
export function goldenDecider(name: string): Decider {
  return decider(readFileSync(join(import.meta.dirname, `../compile/testdata/${name}.in.yaml`), "utf8"));
}

/** The Authorization header of the golden cases' basicAuth users: `<user>` with password `<user>-pass`. */
export const basicAuthAs = (user: string): { authorization: string } => ({
  authorization: `Basic ${Buffer.from(`${user}:${user}-pass`).toString("base64")}`,
});

/** `--self-service apps/portcullis`: its Service with the chart's gRPC port (9001 → targetPort grpc), and an extAuth that is the hook-up to it. */
export const HOOK_UP_WORLD = {
  options: { selfService: selfServiceOf("apps/portcullis", {}) },
  service:
    "apiVersion: v1\nkind: Service\nmetadata: {name: portcullis, namespace: apps}\nspec: {ports: [{name: grpc, port: 9001, targetPort: grpc}]}\n",
  extAuth: { grpc: { backendRefs: [{ name: "portcullis", port: 9001 }] } },
} as const;
