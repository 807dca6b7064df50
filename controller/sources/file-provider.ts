/**
 * Where Envoy Gateway v1.9.0's file provider reads a manifest folder otherwise than the API server
 * would hold the same objects, and what the folder source does about each: what that provider would
 * hold is enforced (no labels, no creationTimestamp, a ConfigMap without binaryData, a Secret without
 * stringData, each line of the last said in `unread`); what it would not load (a ListenerSet, a list's
 * item) or would read in another namespace (an object without one beside one naming `default` or
 * envoy-gateway-system) is an error of its file.
 */
import { isWatchedKind, KINDS } from "../api/kinds.ts";
import { keyOf, type ObjectMeta } from "../api/meta.ts";
import { rawName, toResources, type ConfigMap, type RawObject, type Resources, type Secret } from "../api/resources.ts";
import { objectError } from "./manifest-file.ts";

/**
 * `resources` (read from `raws`) as Envoy Gateway v1.9.0's file provider holds them: its loader
 * (internal/gatewayapi/resource/load.go) builds each object anew, keeping of its metadata only the
 * name and namespace and of a ConfigMap only `data`, and the in-memory client it stores them in sets
 * no creationTimestamp. So no label selects anything there (a listener's allowedRoutes selector, a
 * policy's targetSelectors), every object is as old as every other (a conflict or a tie in route
 * order goes by namespace and name), and a ConfigMap's `binaryData` keys do not exist. They are
 * dropped here too, after validation (Envoy Gateway refuses a label that is not a string, and
 * binaryData that is not base64); Portcullis' own annotations stay, being its configuration.
 * A Secret's `stringData` is kept beside `data` by that loader, and neither its in-memory client
 * (controller-runtime v0.24.1's fake client, which stores objects as given) nor its translator,
 * which reads only `data`, folds it in as the API server does: its keys do not exist there, and a
 * key in both has `data`'s value.
 */
export function asEnvoyGatewayHoldsThem(resources: Resources, raws: readonly RawObject[]): Resources {
  const dataKeys = new Map<string, ReadonlySet<string>>();
  const secretData = new Map<string, Secret["data"]>();
  for (const raw of raws) {
    if (writesStringData(raw.object)) {
      const asData = toResources([{ ...raw, object: { ...raw.object, stringData: undefined } }]).resources.secrets[0];
      if (asData !== undefined) secretData.set(keyOf(asData.metadata), asData.data);
    }
  }
  for (const { object } of raws) {
    const o = object as {
      apiVersion?: unknown;
      kind?: unknown;
      metadata?: { name?: unknown; namespace?: unknown };
      data?: unknown;
      binaryData?: unknown;
    };
    if (o.kind !== "ConfigMap" || !isWatchedKind(o.apiVersion, o.kind) || typeof o.binaryData !== "object" || o.binaryData === null)
      continue;
    const namespace = typeof o.metadata?.namespace === "string" ? o.metadata.namespace : "default";
    dataKeys.set(
      `${namespace}/${String(o.metadata?.name)}`,
      new Set(typeof o.data === "object" && o.data !== null ? Object.keys(o.data) : []),
    );
  }
  const lists = Object.entries(resources).map(([list, objects]: [string, readonly { readonly metadata: ObjectMeta }[]]) => [
    list,
    objects.map((o) => {
      const metadata =
        o.metadata.labels === undefined && o.metadata.creationTimestamp === undefined
          ? o.metadata
          : { ...o.metadata, labels: undefined, creationTimestamp: undefined };
      const onlyData = list === "secrets" ? secretData.get(keyOf(o.metadata)) : undefined;
      if (onlyData !== undefined) return { ...o, metadata, data: onlyData };
      const kept = list === "configMaps" ? dataKeys.get(`${o.metadata.namespace}/${o.metadata.name}`) : undefined;
      if (kept === undefined) return metadata === o.metadata ? o : { ...o, metadata };
      const data = Object.fromEntries(Object.entries((o as unknown as ConfigMap).data).filter(([k]) => kept.has(k)));
      return { ...o, metadata, data };
    }),
  ]);
  return Object.fromEntries(lists) as unknown as Resources;
}

/** Whether `object` is a v1 Secret with a `stringData` key. */
function writesStringData(object: unknown): object is { metadata?: { name?: unknown; namespace?: unknown }; stringData: object } {
  const o = object as { apiVersion?: unknown; kind?: unknown; stringData?: unknown };
  return (
    o.kind === "Secret" &&
    isWatchedKind(o.apiVersion, o.kind) &&
    typeof o.stringData === "object" &&
    o.stringData !== null &&
    Object.keys(o.stringData).length > 0
  );
}

/** One line per Secret written with `stringData`: its origin, its keys (never their values) and what to write instead. */
export function stringDataLines(raws: readonly RawObject[]): string[] {
  return raws.flatMap(({ object, origin }) => {
    if (!writesStringData(object)) return [];
    const namespace = typeof object.metadata?.namespace === "string" ? object.metadata.namespace : "default";
    return [
      `${origin} (Secret ${namespace}/${String(object.metadata?.name)}): stringData (${Object.keys(object.stringData).join(", ")}) is not read in a manifest folder, ` +
        "as Envoy Gateway's file provider reads only data: write each value base64-encoded under data",
    ];
  });
}

/**
 * Why Envoy Gateway v1.9.0's file provider would not load `raw`, an object of a kind Portcullis reads,
 * as its file's error; undefined when it would. Its loader (internal/gatewayapi/resource/load.go) has
 * no case for a ListenerSet (gateway.networking.k8s.io, any version) nor for a list (a `v1 List` is
 * decoded, matches none of its kinds and is dropped whole), so a ListenerSet's listeners, and a list's
 * items, do not exist for Envoy Gateway in a manifest folder: read, a listener, route, Secret or policy
 * there would let a route be chosen or a policy apply where Envoy Gateway has none. Kubernetes mode
 * reads ListenerSets, as Envoy Gateway's Kubernetes provider does, and kubectl applies a list's items.
 */
export function unloadedError(raw: RawObject): { file: string; error: string } | undefined {
  const o = raw.object as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
  if (typeof o !== "object" || o === null || !isWatchedKind(o.apiVersion, o.kind)) return undefined;
  const object = { origin: raw.origin, object: `${String(o.kind)}${rawName(o)}` };
  if (raw.origin.slice(raw.origin.lastIndexOf("#")).includes(".items[")) {
    return objectError(
      object,
      raw.line,
      "is an item of a list",
      "Envoy Gateway's file provider drops a list whole (kubectl apply would apply its items), so it would not exist for Envoy Gateway; write it as a document of its own",
    );
  }
  if (o.kind !== "ListenerSet") return undefined;
  return objectError(
    object,
    raw.line,
    "is not loaded",
    "Envoy Gateway's file provider does not load ListenerSet, so its listeners would not exist for Envoy Gateway; put them on the Gateway itself (ListenerSets are read in Kubernetes mode)",
  );
}

/** The namespace Envoy Gateway v1.9.0's file provider gives an object without one (config.DefaultNamespace). */
const ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system";

/**
 * An object without a namespace is in `default` for Portcullis (as kubectl applies it) and in
 * envoy-gateway-system for Envoy Gateway's file provider. Alone, that only renames a namespace; but
 * beside an object or reference that names either namespace, the two readings join different objects
 * (a policy without a namespace targets a route in envoy-gateway-system for Envoy Gateway only, and
 * that route is open here), so each such naming is an error of its file.
 */
export function namespaceReadings(objects: readonly RawObject[]): { file: string; error: string }[] {
  const unsaid = objects.find((raw) => {
    const o = raw.object as { apiVersion?: unknown; kind?: unknown; metadata?: { namespace?: unknown } };
    return isWatchedKind(o.apiVersion, o.kind) && KINDS[o.kind as string]!.clusterScoped !== true && o.metadata?.namespace === undefined;
  });
  if (unsaid === undefined) return [];
  const errors: { file: string; error: string }[] = [];
  for (const raw of objects) {
    const o = raw.object as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; spec?: unknown };
    if (!isWatchedKind(o.apiVersion, o.kind)) continue;
    const named = o.kind === "Namespace" ? o.metadata?.name : (namespaceNamedIn(o.metadata?.namespace) ?? namespaceNamedIn(o.spec, true));
    if (named !== "default" && named !== ENVOY_GATEWAY_NAMESPACE) continue;
    const name = typeof o.metadata?.name === "string" ? ` ${o.metadata.name}` : "";
    errors.push(
      objectError(
        { origin: raw.origin, object: `${String(o.kind)}${name}` },
        raw.line,
        `names namespace ${named} while ${unsaid.origin} has none`,
        `Envoy Gateway's file provider puts an object without a namespace in ${ENVOY_GATEWAY_NAMESPACE}, kubectl (and Portcullis) in default, so which objects share a namespace is not known; write the namespace out on every object`,
      ),
    );
  }
  return errors;
}

/**
 * `value` when it is "default" or envoy-gateway-system; with `deep`, the first such value of a
 * `namespace` key anywhere inside it (a parentRef, backendRef, credentialRef, ReferenceGrant `from`).
 */
function namespaceNamedIn(value: unknown, deep = false): string | undefined {
  if (value === "default" || value === ENVOY_GATEWAY_NAMESPACE) return value;
  if (!deep || typeof value !== "object" || value === null) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const named = key === "namespace" ? namespaceNamedIn(inner) : namespaceNamedIn(inner, true);
    if (named !== undefined) return named;
  }
  return undefined;
}
