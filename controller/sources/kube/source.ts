/**
 * Kubernetes mode's source: one Reflector per watched kind (per kind and namespace with
 * `--watch-namespaces`), producing the same `Resources` value as the manifest folder. Secrets, ConfigMaps, Services and Backends are held only when compile referenced them:
 * they are first listed when the pipeline first says which it needs (before its first compile),
 * and when policies start referencing new ones, those reflectors relist before the snapshot is
 * published, so a policy never flaps through "Secret not found".
 */
import type { Logger } from "pino";
import { toResources, type RejectedObject, type Resources } from "../../api/resources.ts";
import type { ReferencedObjects } from "../../compile/references.ts";
import type { KubeClient, KubeObject } from "../../kube/client.ts";
import { Reflector } from "./reflector.ts";

/** The kinds watched; cluster-scoped ones are listed cluster-wide even when namespaces are limited. */
export const WATCHED = [
  { kind: "SecurityPolicy", apiVersion: "gateway.envoyproxy.io/v1alpha1", plural: "securitypolicies" },
  { kind: "HTTPRoute", apiVersion: "gateway.networking.k8s.io/v1", plural: "httproutes" },
  { kind: "GRPCRoute", apiVersion: "gateway.networking.k8s.io/v1", plural: "grpcroutes" },
  { kind: "Gateway", apiVersion: "gateway.networking.k8s.io/v1", plural: "gateways" },
  { kind: "GatewayClass", apiVersion: "gateway.networking.k8s.io/v1", plural: "gatewayclasses", clusterScoped: true },
  { kind: "ReferenceGrant", apiVersion: "gateway.networking.k8s.io/v1beta1", plural: "referencegrants" },
  { kind: "ListenerSet", apiVersion: "gateway.networking.k8s.io/v1", plural: "listenersets", optional: true },
  // Gateway API 1.1 to 1.3 serve it as v1alpha3 only (experimental channel); same fields Portcullis reads.
  {
    kind: "BackendTLSPolicy",
    apiVersion: "gateway.networking.k8s.io/v1",
    olderVersions: ["gateway.networking.k8s.io/v1alpha3"],
    plural: "backendtlspolicies",
    optional: true,
  },
  // Absent CRD (no Envoy Gateway): no ClientTrafficPolicy exists.
  {
    kind: "ClientTrafficPolicy",
    apiVersion: "gateway.envoyproxy.io/v1alpha1",
    plural: "clienttrafficpolicies",
    optional: true,
  },
  { kind: "Namespace", apiVersion: "v1", plural: "namespaces", clusterScoped: true },
  { kind: "Secret", apiVersion: "v1", plural: "secrets", referenced: "secrets" },
  { kind: "ConfigMap", apiVersion: "v1", plural: "configmaps", referenced: "configMaps" },
  { kind: "Service", apiVersion: "v1", plural: "services", referenced: "services" },
  { kind: "Backend", apiVersion: "gateway.envoyproxy.io/v1alpha1", plural: "backends", referenced: "backends", optional: true },
] as const;

/** The collection path of `plural`, across namespaces when `namespace` is undefined. */
function collectionPath(apiVersion: string, plural: string, namespace: string | undefined): string {
  const group = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return namespace === undefined ? `${group}/${plural}` : `${group}/namespaces/${namespace}/${plural}`;
}

/** How long a publish waits for newly referenced Secrets/ConfigMaps to be listed. */
const RESYNC_WAIT_MS = 10_000;

export interface KubeSourceOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  /** Called (debounced) after a burst of changes, once every kind but the referenced ones has been listed (`synced`: the first snapshot is the caller's). */
  readonly onChange: () => void;
  readonly debounceMs?: number;
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  /**
   * The only namespaces whose objects are read (`--watch-namespaces`): namespaced kinds are listed
   * per namespace, so the RBAC need not grant them cluster-wide. Empty or absent: every namespace.
   */
  readonly namespaces?: readonly string[];
}

/** One list+watch loop: a kind across namespaces (`namespace` undefined) or in one namespace. */
interface Watched {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly reflector: Reflector;
  /** Secrets, ConfigMaps, Services, Backends: started by the first loadReferences, the others by start(). */
  readonly referenced: boolean;
}

export class KubeSource {
  readonly #watched: Watched[] = [];
  readonly #wanted: Record<keyof ReferencedObjects, Set<string>> = {
    secrets: new Set(),
    configMaps: new Set(),
    services: new Set(),
    backends: new Set(),
  };
  readonly #logger: Logger;
  readonly #namespaces: ReadonlySet<string> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastRejected = "";
  #lastOutside = "";
  /**
   * Resolves when every kind but the referenced ones has been listed once; the caller publishes the
   * first snapshot then, whose first loadReferences lists the referenced kinds.
   */
  readonly synced: Promise<void>;
  #listedAll = false;
  /** Whether the referenced kinds' reflectors have been started (by the first loadReferences). */
  #referencedStarted = false;
  /** Resolved by stop(): a first loadReferences waiting for lists that a stopped source will never make returns then. */
  readonly #stopped = Promise.withResolvers<void>();

  constructor(options: KubeSourceOptions) {
    this.#logger = options.logger;
    // Until every kind is listed, a snapshot would miss some (ClientTrafficPolicies: clientCIDRs decided
    // on the flags' address where Envoy reads another), and checks are answered from any snapshot published.
    const changed = () => {
      if (!this.#listedAll) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(options.onChange, options.debounceMs ?? 50);
    };
    const limited = options.namespaces !== undefined && options.namespaces.length > 0;
    this.#namespaces = limited ? new Set(options.namespaces) : undefined;
    const namespaces = this.#namespaces;
    for (const w of WATCHED) {
      const wanted = "referenced" in w ? this.#wanted[w.referenced] : undefined;
      // Of the Namespaces, only the watched ones' labels can matter (their routes are the only ones seen).
      const keep =
        wanted !== undefined
          ? (key: string) => wanted.has(key)
          : namespaces !== undefined && w.kind === "Namespace"
            ? (key: string) => namespaces.has(key.slice(1))
            : undefined;
      const scopes = namespaces === undefined || "clusterScoped" in w ? [undefined] : [...namespaces];
      for (const namespace of scopes) {
        const reflector = new Reflector({
          client: options.client,
          kind: w.kind,
          apiVersion: w.apiVersion,
          path: collectionPath(w.apiVersion, w.plural, namespace),
          olderVersions: ("olderVersions" in w ? w.olderVersions : []).map((apiVersion) => ({
            apiVersion,
            path: collectionPath(apiVersion, w.plural, namespace),
          })),
          keep,
          optional: "optional" in w,
          // The referenced kinds are filtered by `keep`: an unpaged answer would carry every Secret of the cluster.
          listFromWatchCache: wanted === undefined,
          onChange: changed,
          logger: options.logger,
          backoffMs: options.backoffMs,
        });
        this.#watched.push({ kind: w.kind, namespace, reflector, referenced: wanted !== undefined });
      }
    }
    this.synced = Promise.all(this.#watched.filter((w) => !w.referenced).map((w) => w.reflector.synced)).then(() => {
      this.#listedAll = true;
    });
  }

  /**
   * Starts the list+watch of every kind but the referenced ones: their first list waits for the
   * first loadReferences, so that it holds what the policies reference (listed before, it held
   * nothing, and each Secret in the cluster was listed twice before the first snapshot).
   */
  start(): void {
    for (const w of this.#watched) if (!w.referenced) w.reflector.start();
  }

  stop(): void {
    this.#stopped.resolve();
    clearTimeout(this.#timer);
    for (const w of this.#watched) w.reflector.stop();
  }

  /** Everything held now, as compile's input. Rejected objects are logged once per change. */
  resources(): Resources {
    const raws = this.#watched.flatMap((w) => w.reflector.objects().map((object) => ({ object, origin: "kube" })));
    const { resources, rejected } = toResources(raws);
    this.#logRejected(rejected);
    return resources;
  }

  /** The SecurityPolicy as last seen, status included (for the status writer). */
  policy(namespace: string, name: string): KubeObject | undefined {
    return this.#reflectorsOf("SecurityPolicy", namespace)[0]?.get(`${namespace}/${name}`);
  }

  /**
   * Holds exactly the referenced objects of the referenced kinds (Secrets, ConfigMaps, Services,
   * Backends): drops the others and relists a kind when new names are wanted. True when what is
   * held changed (compile must run again). The first call lists those kinds for the first time and
   * waits for every such list, however long (as `synced` waits for the other kinds): until then
   * nothing is known of them, and a snapshot compiled without them would report Secrets present as
   * not found.
   */
  async loadReferences(references: ReferencedObjects): Promise<boolean> {
    this.#logOutside(references);
    if (!this.#referencedStarted) return this.#listReferenced(references);
    let changed = false;
    for (const w of WATCHED) {
      if (!("referenced" in w)) continue;
      const kind = w.referenced;
      const wanted = this.#wanted[kind];
      const added = new Set(references[kind].filter((k) => !wanted.has(k)).map((k) => k.slice(0, k.indexOf("/"))));
      wanted.clear();
      for (const k of references[kind]) wanted.add(k);
      for (const { namespace, reflector } of this.#watched.filter((watched) => watched.kind === w.kind)) {
        if (reflector.prune()) changed = true;
        if (namespace === undefined ? added.size === 0 : !added.has(namespace)) continue;
        const before = reflector.objects().length;
        // Bounded: with the API server away, publish with what is held rather than stall.
        await Promise.race([reflector.resync(), new Promise((r) => setTimeout(r, RESYNC_WAIT_MS).unref())]);
        if (reflector.objects().length !== before) changed = true;
      }
    }
    return changed;
  }

  /** The first loadReferences: wants `references`, then lists each referenced kind once; true when that held anything. */
  async #listReferenced(references: ReferencedObjects): Promise<boolean> {
    this.#referencedStarted = true;
    for (const w of WATCHED) if ("referenced" in w) for (const k of references[w.referenced]) this.#wanted[w.referenced].add(k);
    const referenced = this.#watched.filter((w) => w.referenced);
    for (const w of referenced) w.reflector.start();
    await Promise.race([Promise.all(referenced.map((w) => w.reflector.synced)), this.#stopped.promise]);
    return referenced.some((w) => w.reflector.objects().length > 0);
  }

  /** The reflectors of `kind` that see `namespace`. */
  #reflectorsOf(kind: string, namespace: string): Reflector[] {
    return this.#watched.filter((w) => w.kind === kind && (w.namespace === undefined || w.namespace === namespace)).map((w) => w.reflector);
  }

  /** Says once per change which referenced Secrets/ConfigMaps lie outside --watch-namespaces (compile reports them not found). */
  #logOutside(references: ReferencedObjects): void {
    const namespaces = this.#namespaces;
    if (namespaces === undefined) return;
    const outside = Object.values(references)
      .flat()
      .filter((k) => !namespaces.has(k.slice(0, k.indexOf("/"))));
    const text = outside.join(",");
    if (text === this.#lastOutside) return;
    this.#lastOutside = text;
    if (outside.length > 0)
      this.#logger.warn(
        { references: outside, watchNamespaces: [...namespaces] },
        "policies reference Secrets, ConfigMaps, Services or Backends outside --watch-namespaces; they cannot be read and count as missing",
      );
  }

  #logRejected(rejected: readonly RejectedObject[]): void {
    const text = JSON.stringify(rejected);
    if (text === this.#lastRejected) return;
    this.#lastRejected = text;
    for (const r of rejected) this.#logger.error({ object: r.object, reason: r.reason }, "object rejected");
  }
}
