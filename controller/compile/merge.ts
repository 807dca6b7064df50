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
 *
 * Each part of the merged spec that names other objects then has an owner, the child or the parent
 * (ownerOf), whose namespace its references are resolved from; mergedParts finds a part whose
 * merged value is not wholly its owner's, which the caller refuses.
 */
import type { SecurityPolicySpec } from "../api/securitypolicy.ts";
import type { ReferencePart } from "../features/feature.ts";

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

/** Which of the two policies a part of a merged spec comes from. */
export type Owner = "child" | "parent";

type Path = readonly string[];

/** Where extAuth names its service: either protocol, `backendRefs` or the deprecated `backendRef`. */
const EXT_AUTH_BACKENDS: readonly Path[] = ["http", "grpc"].flatMap((protocol) => [
  ["extAuth", protocol, "backendRefs"],
  ["extAuth", protocol, "backendRef"],
]);

/**
 * Envoy Gateway's securityPolicyOwners (internal/gatewayapi/securitypolicy.go,
 * buildSecurityPolicyOwners), per reference part: where its references sit in a spec, and the
 * fields whose presence in the child (set, and for a list not empty) makes the child the part's
 * owner; otherwise the parent owns it. A context extension is owned per name (see ownerOf).
 */
const OWNED_PARTS: Readonly<Record<string, { readonly references: readonly Path[]; readonly childOwnsWhenSet: readonly Path[] }>> = {
  "basicAuth.users": { references: [["basicAuth", "users"]], childOwnsWhenSet: [["basicAuth"]] },
  "apiKeyAuth.credentialRefs": { references: [["apiKeyAuth", "credentialRefs"]], childOwnsWhenSet: [["apiKeyAuth", "credentialRefs"]] },
  "jwt.providers": { references: [["jwt", "providers"]], childOwnsWhenSet: [["jwt", "providers"]] },
  "extAuth.backendRefs": { references: EXT_AUTH_BACKENDS, childOwnsWhenSet: EXT_AUTH_BACKENDS },
  "oidc.provider.backendRefs": {
    references: [["oidc", "provider", "backendRefs"]],
    childOwnsWhenSet: [["oidc", "provider", "backendRefs"]],
  },
  "oidc.clientIDRef": { references: [["oidc", "clientIDRef"]], childOwnsWhenSet: [["oidc", "clientIDRef"]] },
  "oidc.clientSecret": { references: [["oidc", "clientSecret"]], childOwnsWhenSet: [["oidc"]] },
};

const CONTEXT_EXTENSIONS: Path = ["extAuth", "contextExtensions"];
const contextExtensionPart = (name: string): ReferencePart => `extAuth.contextExtensions[${name}]`;

/**
 * The policy whose namespace `part` of a merged spec is resolved from, as Envoy Gateway decides:
 * the child (spec `child`) when it sets the part (OWNED_PARTS), else the parent; a context
 * extension belongs to the child when the child's list has one of that name.
 */
export function ownerOf(child: SecurityPolicySpec, part: ReferencePart): Owner {
  const owned = OWNED_PARTS[part];
  if (owned !== undefined) return owned.childOwnsWhenSet.some((path) => isSet(at(child, path))) ? "child" : "parent";
  return contextExtensionsOf(child).some((e) => contextExtensionPart(String(e.name)) === part) ? "child" : "parent";
}

/** A reference part of a merged spec, its owner, and whether its value is the owner's own. */
export interface MergedPart {
  readonly part: ReferencePart;
  readonly owner: Owner;
  /**
   * The merged value holds fields of the other policy too (an object merged field by field, such
   * as `users: {name}` over `users: {name, namespace}`): Envoy Gateway would resolve all of it from
   * the owner's namespace, though the owner never wrote it whole.
   */
  readonly mixed: boolean;
}

/** Every reference part `merged` (the merge of `child` into `parent`) holds, with its owner. */
export function mergedParts(parent: SecurityPolicySpec, child: SecurityPolicySpec, merged: SecurityPolicySpec): MergedPart[] {
  const specOf = { child, parent };
  const out: MergedPart[] = [];
  for (const [name, { references }] of Object.entries(OWNED_PARTS)) {
    const part = name as ReferencePart;
    if (!references.some((path) => at(merged, path) !== undefined)) continue;
    const owner = ownerOf(child, part);
    const mixed = references.some((path) => !sameJson(at(merged, path), at(specOf[owner], path)));
    out.push({ part, owner, mixed });
  }
  for (const extension of contextExtensionsOf(merged)) {
    const part = contextExtensionPart(String(extension.name));
    const owner = ownerOf(child, part);
    const own = contextExtensionsOf(specOf[owner]).filter((e) => e.name === extension.name);
    out.push({ part, owner, mixed: own.length !== 1 || !sameJson(extension, own[0]) });
  }
  return out;
}

function contextExtensionsOf(spec: SecurityPolicySpec): JsonObject[] {
  const list = at(spec, CONTEXT_EXTENSIONS);
  return Array.isArray(list) ? list.filter(isObject) : [];
}

function at(spec: SecurityPolicySpec, path: Path): unknown {
  let v: unknown = spec;
  for (const key of path) v = isObject(v) ? v[key] : undefined;
  return v;
}

const isSet = (v: unknown) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);

/** Equal as JSON: the same values, an undefined member the same as a missing one. */
function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (isObject(a) && isObject(b)) return [...new Set([...Object.keys(a), ...Object.keys(b)])].every((k) => sameJson(a[k], b[k]));
  return a === b;
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
