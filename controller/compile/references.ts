/**
 * Resolves a policy's references to Secrets and ConfigMaps, and to the Services and Envoy Gateway
 * Backends its external services run behind. A reference into another namespace
 * is allowed only by a ReferenceGrant in that namespace (Gateway API semantics).
 */
import { keyOf } from "../api/meta.ts";
import { parseJwks, type JwksParseResult } from "../api/jwks.ts";
import type { Backend, BackendTLSPolicy, ConfigMap, ReferenceGrant, Resources, Secret, Service } from "../api/resources.ts";
import { SECURITY_POLICY_GROUP } from "../api/securitypolicy.ts";
import { fail, ok, type Result } from "../lib/result.ts";

export interface ObjectRef {
  readonly group?: string | undefined;
  readonly kind?: string | undefined;
  readonly name: string;
  readonly namespace?: string | undefined;
}

export interface References {
  secret(fromNamespace: string, ref: ObjectRef): Result<Secret, string>;
  configMap(fromNamespace: string, ref: ObjectRef): Result<ConfigMap, string>;
  /** A core Service (`ref.group` and `ref.kind` are not checked: the caller dispatched on them). */
  service(fromNamespace: string, ref: ObjectRef): Result<Service, string>;
  /** An Envoy Gateway Backend (gateway.envoyproxy.io), likewise. */
  backend(fromNamespace: string, ref: ObjectRef): Result<Backend, string>;
  /**
   * The BackendTLSPolicy that applies to a backend, as Envoy Gateway picks it: in the backend's
   * namespace, a targetRef naming its group, kind and name with the same sectionName first, then
   * one without sectionName; the first such policy by namespace/name.
   */
  backendTLSPolicy(target: BackendTarget): BackendTLSPolicy | undefined;
  /** Every Secret, ConfigMap, Service and Backend ("namespace/name") looked up so far, found or not. */
  used(): ReferencedObjects;
  /** A JWKS document parsed and imported once per compile, however many providers share it. */
  jwks(text: string): JwksParseResult;
}

/** A backend a policy calls (a Service, ServiceImport or Envoy Gateway Backend), as a BackendTLSPolicy targets it. */
export interface BackendTarget {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The Service port's name, when the reference names a port that has one. */
  readonly sectionName?: string;
}

/** What compile needed to read; the Kubernetes source holds exactly these objects of these kinds. */
export interface ReferencedObjects {
  readonly secrets: readonly string[];
  readonly configMaps: readonly string[];
  readonly services: readonly string[];
  readonly backends: readonly string[];
}

/**
 * Whether a SecurityPolicy in `fromNamespace` may refer to the object `to` in another namespace:
 * a ReferenceGrant in `to`'s namespace must allow SecurityPolicies of `fromNamespace` to refer to
 * its group and kind (and name, when the grant names one).
 */
export type GrantCheck = (
  fromNamespace: string,
  to: { readonly group: string; readonly kind: string; readonly namespace: string; readonly name: string },
) => boolean;

/** `fromKind`: the policy kind of Envoy Gateway's group the ReferenceGrant must name as `from`. */
export function grantCheck(resources: Pick<Resources, "referenceGrants">, fromKind = "SecurityPolicy"): GrantCheck {
  const grantsByNamespace = new Map<string, ReferenceGrant[]>();
  for (const g of resources.referenceGrants)
    grantsByNamespace.set(g.metadata.namespace, [...(grantsByNamespace.get(g.metadata.namespace) ?? []), g]);
  return (fromNamespace, to) =>
    (grantsByNamespace.get(to.namespace) ?? []).some(
      (g) =>
        g.spec.from.some((f) => f.group === SECURITY_POLICY_GROUP && f.kind === fromKind && f.namespace === fromNamespace) &&
        g.spec.to.some((t) => t.group === to.group && t.kind === to.kind && (t.name === undefined || t.name === "" || t.name === to.name)),
    );
}

export function createReferences(resources: Resources): References {
  const secrets = new Map(resources.secrets.map((s) => [keyOf(s.metadata), s]));
  const configMaps = new Map(resources.configMaps.map((c) => [keyOf(c.metadata), c]));

  const granted = grantCheck(resources);

  const services = new Map(resources.services.map((c) => [keyOf(c.metadata), c]));
  const backends = new Map(resources.backends.map((c) => [keyOf(c.metadata), c]));
  const used = { Secret: new Set<string>(), ConfigMap: new Set<string>(), Service: new Set<string>(), Backend: new Set<string>() };
  const jwksByText = new Map<string, JwksParseResult>();

  function resolve<T>(kind: "Secret" | "ConfigMap", table: Map<string, T>, fromNamespace: string, ref: ObjectRef): Result<T, string> {
    const group = ref.group ?? "";
    const refKind = ref.kind ?? kind;
    if (group !== "" || refKind !== kind) {
      return fail(`reference to ${refKind}${group ? `.${group}` : ""} ${ref.name}: only core ${kind} is supported`);
    }
    return lookUp(kind, "", table, fromNamespace, ref);
  }

  function lookUp<T>(
    kind: keyof typeof used,
    group: string,
    table: Map<string, T>,
    fromNamespace: string,
    ref: ObjectRef,
  ): Result<T, string> {
    const namespace = ref.namespace ?? fromNamespace;
    const id = `${namespace}/${ref.name}`;
    used[kind].add(id);
    if (namespace !== fromNamespace && !granted(fromNamespace, { group, kind, namespace, name: ref.name })) {
      return fail(`${kind} ${id} is in another namespace and no ReferenceGrant in ${namespace} allows it`);
    }
    const found = table.get(id);
    return found === undefined ? fail(`${kind} ${id} not found`) : ok(found);
  }

  return {
    secret: (fromNamespace, ref) => resolve("Secret", secrets, fromNamespace, ref),
    configMap: (fromNamespace, ref) => resolve("ConfigMap", configMaps, fromNamespace, ref),
    service: (fromNamespace, ref) => lookUp("Service", "", services, fromNamespace, ref),
    backend: (fromNamespace, ref) => lookUp("Backend", SECURITY_POLICY_GROUP, backends, fromNamespace, ref),
    backendTLSPolicy: (target) => {
      const targets = (p: BackendTLSPolicy, sectionName: string | undefined) =>
        p.metadata.namespace === target.namespace &&
        p.spec.targetRefs.some(
          (t) => t.group === target.group && t.kind === target.kind && t.name === target.name && t.sectionName === sectionName,
        );
      const policies = resources.backendTLSPolicies;
      return (
        (target.sectionName === undefined ? undefined : policies.find((p) => targets(p, target.sectionName))) ??
        policies.find((p) => targets(p, undefined))
      );
    },
    used: () => ({
      secrets: [...used.Secret].sort(),
      configMaps: [...used.ConfigMap].sort(),
      services: [...used.Service].sort(),
      backends: [...used.Backend].sort(),
    }),
    jwks: (text) => {
      let parsed = jwksByText.get(text);
      if (parsed === undefined) jwksByText.set(text, (parsed = parseJwks(text)));
      return parsed;
    },
  };
}
