/**
 * `Resources`: every object compile() reads, validated and sorted. Both sources (the manifest
 * folder and the Kubernetes informers) turn raw objects into this one value with `toResources`.
 */
import type { z } from "zod";
import { BackendSpecSchema } from "./backend.ts";
import { decodeBase64TextAsApiServer } from "./base64.ts";
import { isServed, isWatchedKind, KINDS, notServed, rejectUnknownKind, servedVersions } from "./kinds.ts";
import { BackendTLSPolicySpecSchema } from "./backendtlspolicy.ts";
import { ConfigMapBodySchema, SecretBodySchema, ServiceSpecSchema } from "./core.ts";
import {
  GatewayClassSpecSchema,
  GatewaySpecSchema,
  GRPCRouteSpecSchema,
  ListenerSetSpecSchema,
  HTTPRouteSpecSchema,
  ReferenceGrantSpecSchema,
} from "./gatewayapi.ts";
import { keyOf, ObjectMetaSchema, PORTCULLIS_ANNOTATION_PREFIX, type ObjectMeta } from "./meta.ts";
import { describeIssues } from "./securitypolicy.ts";
import { fail, ok, type Result } from "../lib/result.ts";

export interface SecurityPolicy {
  readonly metadata: ObjectMeta;
  /** Unvalidated: compile() validates it so that a bad spec becomes a condition on this policy. */
  readonly spec: unknown;
}
export interface Gateway {
  readonly metadata: ObjectMeta;
  readonly spec: z.infer<typeof GatewaySpecSchema>;
}
export interface GatewayClass {
  readonly metadata: ObjectMeta;
  readonly spec: z.infer<typeof GatewayClassSpecSchema>;
}
export interface HTTPRoute {
  readonly kind: "HTTPRoute";
  readonly metadata: ObjectMeta;
  readonly spec: z.infer<typeof HTTPRouteSpecSchema>;
}
export interface GRPCRoute {
  readonly kind: "GRPCRoute";
  readonly metadata: ObjectMeta;
  readonly spec: z.infer<typeof GRPCRouteSpecSchema>;
}
/** A route Portcullis indexes: both kinds attach to HTTP listeners and may be policy targets. */
export type Route = HTTPRoute | GRPCRoute;
export interface ListenerSet {
  readonly metadata: ObjectMeta;
  readonly spec: z.infer<typeof ListenerSetSpecSchema>;
}
export interface ReferenceGrant {
  readonly metadata: ObjectMeta;
  readonly spec: z.infer<typeof ReferenceGrantSpecSchema>;
}
export interface Secret {
  readonly metadata: ObjectMeta;
  readonly type: string | undefined;
  /** Decoded values (UTF-8), in a null-prototype object: any key Kubernetes allows is a key, `__proto__` included. */
  readonly data: Readonly<Record<string, string>>;
}
export interface ConfigMap {
  readonly metadata: ObjectMeta;
  readonly data: Readonly<Record<string, string>>;
}
/** A Service a policy's `backendRefs` name: its ports are checked, its DNS name is called. */
export interface Service {
  readonly metadata: ObjectMeta;
  readonly spec: z.infer<typeof ServiceSpecSchema>;
}
/** An Envoy Gateway Backend a policy's `backendRefs` name: its endpoints are called. */
export interface Backend {
  readonly metadata: ObjectMeta;
  readonly spec: z.infer<typeof BackendSpecSchema>;
}
/** How the TLS server of a Service, ServiceImport or Backend is verified (a remote JWKS behind `backendRefs`). */
export interface BackendTLSPolicy {
  readonly metadata: ObjectMeta;
  readonly spec: z.infer<typeof BackendTLSPolicySpecSchema>;
}
/**
 * Envoy Gateway's ClientTrafficPolicy: only its targets and `clientIPDetection` are read
 * (compile/client-traffic-policies.ts), leniently, as the API server has validated it.
 */
export interface ClientTrafficPolicy {
  readonly metadata: ObjectMeta;
  /** Unvalidated. */
  readonly spec: unknown;
}
/** Only its labels are read: listener `allowedRoutes` and policy `targetSelectors` select namespaces by label. */
export interface Namespace {
  readonly metadata: ObjectMeta;
}

export interface Resources {
  readonly securityPolicies: readonly SecurityPolicy[];
  readonly gateways: readonly Gateway[];
  readonly gatewayClasses: readonly GatewayClass[];
  readonly httpRoutes: readonly HTTPRoute[];
  readonly grpcRoutes: readonly GRPCRoute[];
  readonly listenerSets: readonly ListenerSet[];
  readonly referenceGrants: readonly ReferenceGrant[];
  readonly secrets: readonly Secret[];
  readonly configMaps: readonly ConfigMap[];
  readonly namespaces: readonly Namespace[];
  readonly services: readonly Service[];
  readonly backends: readonly Backend[];
  readonly backendTLSPolicies: readonly BackendTLSPolicy[];
  readonly clientTrafficPolicies: readonly ClientTrafficPolicy[];
}

/** The name of a kind's list in Resources. */
export type KindName = keyof Resources;

/** A raw object and where it came from ("file.yaml#2", or "kube"), for error messages. */
export interface RawObject {
  readonly object: unknown;
  readonly origin: string;
  /** Read from a file: the line (from 1) where its document's content begins. */
  readonly line?: number;
}
/** An object that could not be loaded; every one is reported, none is dropped silently. */
export interface RejectedObject {
  readonly origin: string;
  readonly object: string;
  readonly reason: string;
  /** Set when the object is valid but another with its kind, namespace and name came first: that one's origin (it is used). */
  readonly duplicateOf?: string;
}

export const EMPTY_RESOURCES: Resources = {
  securityPolicies: [],
  gateways: [],
  gatewayClasses: [],
  httpRoutes: [],
  grpcRoutes: [],
  listenerSets: [],
  referenceGrants: [],
  secrets: [],
  configMaps: [],
  namespaces: [],
  services: [],
  backends: [],
  backendTLSPolicies: [],
  clientTrafficPolicies: [],
};

export function toResources(raws: readonly RawObject[]): { resources: Resources; rejected: RejectedObject[] } {
  // One fresh list per kind; EMPTY_RESOURCES (typed Resources) is what names every kind.
  const lists = Object.fromEntries(Object.keys(EMPTY_RESOURCES).map((k) => [k, []])) as unknown as { [K in KindName]: unknown[] };
  const rejected: RejectedObject[] = [];
  const seen = new Map<string, string>();
  for (const raw of raws) {
    const loaded = loadObject(raw.object);
    if (loaded === undefined) continue;
    if (!loaded.ok) {
      rejected.push({ origin: raw.origin, ...loaded.error });
      continue;
    }
    const identity = `${loaded.value.kind} ${keyOf(loaded.value.object.metadata)}`;
    const first = seen.get(identity);
    if (first !== undefined) {
      rejected.push({
        origin: raw.origin,
        object: identity,
        reason: `duplicate of the object from ${first}; the first one is used`,
        duplicateOf: first,
      });
      continue;
    }
    seen.set(identity, raw.origin);
    lists[KINDS[loaded.value.kind]!.list].push(loaded.value.object);
  }
  for (const list of Object.values(lists)) {
    (list as { metadata: ObjectMeta }[]).sort((a, b) => keyOf(a.metadata).localeCompare(keyOf(b.metadata)));
  }
  return { resources: lists as unknown as Resources, rejected };
}

/**
 * " namespace/name" as `o`'s metadata spells them, whatever else it holds ("default" without a
 * namespace; " name" for a Namespace, a GatewayClass or another cluster-scoped kind), or "" without a name.
 */
export function rawName(o: Record<string, unknown>): string {
  const meta = (typeof o.metadata === "object" && o.metadata !== null ? o.metadata : {}) as Record<string, unknown>;
  if (typeof meta.name !== "string") return "";
  if (isWatchedKind(o.apiVersion, o.kind) && KINDS[o.kind as string]!.clusterScoped === true) return ` ${meta.name}`;
  return ` ${typeof meta.namespace === "string" ? meta.namespace : "default"}/${meta.name}`;
}

/** A watched object validated, or which object it is and why it is rejected; undefined: not a kind Portcullis reads. */
type Loaded = Result<{ kind: string; object: { metadata: ObjectMeta } }, Omit<RejectedObject, "origin">> | undefined;

/**
 * Validation result per raw object. Sources never change an object they handed over (a watch
 * event brings a new one), so an unchanged object is validated once, not on every rebuild.
 */
const loadedByObject = new WeakMap<object, Loaded>();

function loadObject(object: unknown): Loaded {
  if (typeof object !== "object" || object === null) return validateObject(object);
  if (loadedByObject.has(object)) return loadedByObject.get(object);
  const loaded = validateObject(object);
  loadedByObject.set(object, loaded);
  return loaded;
}

function validateObject(object: unknown): Loaded {
  if (typeof object !== "object" || object === null || Array.isArray(object)) {
    return fail({ object: "not an object", reason: "a manifest document must be a mapping" });
  }
  const o = object as Record<string, unknown>;
  if (!isWatchedKind(o.apiVersion, o.kind)) return rejectUnknownKind(o, rawName(o));
  const kind = o.kind as string;
  const spec = KINDS[kind]!;
  const meta = ObjectMetaSchema.safeParse(o.metadata);
  if (!meta.success) return fail({ object: `${kind}${rawName(o)}`, reason: describeIssues(meta.error, "metadata") });
  const name = `${kind}${rawName(o)}`;
  if (!isServed(o.apiVersion as string, kind)) {
    return fail({
      object: name,
      reason: `apiVersion ${String(o.apiVersion)}: ${notServed(spec.group, kind, servedVersions(spec.group, kind)!)}`,
    });
  }
  // Like kubectl apply: a namespaced object without a namespace lands in "default".
  const annotations = Object.entries(meta.data.annotations ?? {}).filter(([k]) => k.startsWith(PORTCULLIS_ANNOTATION_PREFIX));
  const metadata: ObjectMeta = {
    ...meta.data,
    namespace: spec.clusterScoped ? "" : (meta.data.namespace ?? "default"),
    annotations: annotations.length === 0 ? undefined : Object.fromEntries(annotations),
  };
  const body = loadBody(kind, o);
  if (!body.ok) return fail({ object: name, reason: body.error });
  return ok({ kind, object: { metadata, ...body.value } });
}

function loadBody(kind: string, o: Record<string, unknown>): Result<object, string> {
  const parse = <T>(schema: z.ZodType<T>, value: unknown, root: string): Result<T, string> => {
    const r = schema.safeParse(value);
    return r.success ? ok(r.data) : fail(describeIssues(r.error, root));
  };
  const withSpec = (schema: z.ZodType<unknown>) => {
    const r = parse(schema, o.spec, "spec");
    return r.ok ? ok({ spec: r.value }) : r;
  };
  switch (kind) {
    case "SecurityPolicy":
    case "ClientTrafficPolicy":
      return ok({ spec: o.spec });
    case "Gateway":
      return withSpec(GatewaySpecSchema);
    case "GatewayClass":
      return withSpec(GatewayClassSpecSchema);
    case "HTTPRoute":
    case "GRPCRoute": {
      // Routes carry their kind: both kinds go through attachment, targeting and the index.
      const r = withSpec(kind === "HTTPRoute" ? HTTPRouteSpecSchema : GRPCRouteSpecSchema);
      return r.ok ? ok({ kind, ...r.value }) : r;
    }
    case "ListenerSet":
      return withSpec(ListenerSetSpecSchema);
    case "ReferenceGrant":
      return withSpec(ReferenceGrantSpecSchema);
    case "Service":
      return withSpec(ServiceSpecSchema);
    case "Backend":
      return withSpec(BackendSpecSchema);
    case "BackendTLSPolicy":
      return withSpec(BackendTLSPolicySpecSchema);
    case "Secret": {
      // `data` holds every API key (100,000 at 10,000 policies): a plain object of strings is read here in one pass, and zod,
      // whose record schema cost more than the decoding, checks `type` and any field that is not one (for its message).
      const encoded = isStringRecord(o.data) ? o.data : undefined;
      const plain = isStringRecord(o.stringData) ? o.stringData : undefined;
      const r = parse(
        SecretBodySchema,
        { type: o.type, data: encoded === undefined ? o.data : undefined, stringData: plain === undefined ? o.stringData : undefined },
        "",
      );
      if (!r.ok) return r;
      // A hash table: every Secret's keys are other client ids, and built as a plain object each key added a hidden class (about 290 ms at 100,000 keys).
      const data: Record<string, string> = Object.create(null);
      const values = encoded ?? r.value.data ?? {};
      for (const k in values) {
        const decoded = decodeBase64TextAsApiServer(values[k]!);
        if (decoded === undefined) return fail(`data.${k} is not valid base64 (line breaks are allowed, spaces are not)`);
        data[k] = decoded;
      }
      Object.assign(data, plain ?? r.value.stringData ?? {});
      return ok({ type: r.value.type, data });
    }
    case "Namespace":
      return ok({});
    case "ConfigMap": {
      const r = parse(ConfigMapBodySchema, o, "");
      if (!r.ok) return r;
      const data: Record<string, string> = { ...r.value.data };
      for (const [k, v] of Object.entries(r.value.binaryData ?? {})) {
        const decoded = decodeBase64TextAsApiServer(v);
        if (decoded === undefined) return fail(`binaryData.${k} is not valid base64 (line breaks are allowed, spaces are not)`);
        data[k] = decoded;
      }
      return ok({ data });
    }
  }
  return fail(`unsupported kind ${kind}`);
}

/** Whether `value` is what zod's `z.record(z.string(), z.string())` accepts from a parsed document: a plain object of strings. */
function isStringRecord(value: unknown): value is Readonly<Record<string, string>> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k in value) if (typeof (value as Record<string, unknown>)[k] !== "string") return false;
  return true;
}
