/**
 * SecurityPolicy `mergeType` (Envoy Gateway v1.9.0, `SecurityPolicySpec.mergeType`): a route (or
 * route rule) policy's spec is merged into the spec of the closest parent policy, the Gateway
 * listener's, ListenerSet listener's, ListenerSet's or Gateway's, and the result governs the route.
 *
 * Envoy Gateway merges the two objects as JSON after Go marshals them (internal/utils/merge.go):
 * - `JSONMerge` is an RFC 7386 merge patch: objects merge key by key, the child's value winning;
 *   a list or scalar in the child replaces the parent's; `null` removes the parent's value.
 * - `StrategicMerge` is the same except for lists whose API type carries a `patchMergeKey` tag
 *   (STRATEGIC_MERGE_KEYS): their elements merge by that key, the parent's order first.
 * Go marshals the child without its empty lists (`omitempty`), and with `null` for an unset field
 * that has no `omitempty` (CLEARED_WHEN_UNSET): such a field unset in the child clears the parent's.
 */
import type { SecurityPolicySpec } from "../api/securitypolicy.ts";

export type MergeType = "StrategicMerge" | "JSONMerge";

/** Spec fields that say where a policy applies and how; never merged (the merged policy is the child's). */
const TARGET_FIELDS = new Set(["targetRef", "targetRefs", "targetSelectors", "mergeType"]);

/** Lists StrategicMerge merges element-wise, by dot path from the spec → the key field (Envoy Gateway's patchMergeKey tags). */
const STRATEGIC_MERGE_KEYS: Readonly<Record<string, string>> = { "extAuth.contextExtensions": "name" };

/** Fields Envoy Gateway's types marshal even when unset (no omitempty), as (the object holding it, the field). */
const CLEARED_WHEN_UNSET: readonly (readonly [parent: string, field: string])[] = [["authorization", "defaultAction"]];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The spec a route policy `child` with `mergeType` gives its routes under the parent policy
 * `parent`: the parent's features with the child's merged over them, and the child's targets.
 * Both specs must have passed the schema; the result must be parsed again (a merge can combine
 * what neither side holds alone, such as a jwt principal naming the parent's provider).
 */
export function mergeSpecs(parent: SecurityPolicySpec, child: SecurityPolicySpec, type: MergeType): Record<string, unknown> {
  const patch = marshalled(features(child));
  const merged = mergeValue(features(parent), patch, type, "");
  const targets = Object.fromEntries(Object.entries(child).filter(([k, v]) => TARGET_FIELDS.has(k) && v !== undefined));
  return { ...(merged as JsonObject), ...targets };
}

/**
 * Features whose references Envoy Gateway resolves part by part, each in the namespace of the
 * policy that part comes from (securityPolicyOwners: extAuth's backendRefs and each of its
 * contextExtensions, oidc's provider backendRefs, clientIDRef and clientSecret).
 */
const OWNED_BY_PART: ReadonlySet<string> = new Set(["extAuth", "oidc"]);

/**
 * Which of the two policies a merged spec's feature comes from, so that its references (Secrets,
 * ConfigMaps, Services) resolve in that policy's namespace: the child when it sets the feature, as
 * Envoy Gateway's securityPolicyOwners decide for apiKeyAuth, basicAuth and jwt (whose references
 * the child's value always replaces whole). "both" when both set a feature whose parts have their
 * own owners: one namespace for the whole feature could resolve the parent's reference in the
 * child's namespace (where the child's authors may create an object of that name), so the caller
 * refuses such a merge.
 */
export function featureOwner(parent: SecurityPolicySpec, child: SecurityPolicySpec, feature: string): "child" | "parent" | "both" {
  const sets = (spec: SecurityPolicySpec) => (spec as Record<string, unknown>)[feature] !== undefined;
  if (!sets(child)) return "parent";
  return OWNED_BY_PART.has(feature) && sets(parent) ? "both" : "child";
}

function features(spec: SecurityPolicySpec): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(spec)) if (!TARGET_FIELDS.has(k) && v !== undefined) out[k] = toJson(v);
  return out;
}

/** A parsed spec as plain JSON (undefined fields dropped). */
function toJson(v: unknown): Json {
  if (Array.isArray(v)) return v.map(toJson);
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toJson(x);
    return out;
  }
  return v as Json;
}

/** The child as Go marshals it: empty lists left out, unset fields without omitempty written as null. */
function marshalled(spec: JsonObject): JsonObject {
  const drop = (v: Json): Json | undefined => {
    if (Array.isArray(v)) return v.length === 0 ? undefined : v.map((x) => drop(x) ?? null);
    if (!isObject(v)) return v;
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) {
      const kept = drop(x);
      if (kept !== undefined) out[k] = kept;
    }
    return out;
  };
  const out = drop(spec) as JsonObject;
  for (const [parent, field] of CLEARED_WHEN_UNSET) {
    const holder = out[parent];
    if (isObject(holder) && !(field in holder)) holder[field] = null;
  }
  return out;
}

function mergeValue(original: Json | undefined, patch: Json, type: MergeType, path: string): Json {
  if (!isObject(patch)) {
    const key = STRATEGIC_MERGE_KEYS[path];
    if (type === "StrategicMerge" && key !== undefined && Array.isArray(original) && Array.isArray(patch))
      return mergeByKey(original, patch, key, type, path);
    return patch;
  }
  const out: JsonObject = isObject(original) ? { ...original } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergeValue(out[k], v, type, path === "" ? k : `${path}.${k}`);
  }
  return out;
}

/** Elements with the same `key` merge (the child's over the parent's); the child's others follow the parent's. */
function mergeByKey(original: Json[], patch: Json[], key: string, type: MergeType, path: string): Json[] {
  const keyOf = (e: Json) => (isObject(e) ? e[key] : undefined);
  const out = original.map((e) => {
    const match = patch.find((p) => keyOf(p) !== undefined && keyOf(p) === keyOf(e));
    return match === undefined ? e : mergeValue(e, match, type, `${path}[]`);
  });
  for (const p of patch) if (!original.some((e) => keyOf(e) !== undefined && keyOf(e) === keyOf(p))) out.push(p);
  return out;
}
