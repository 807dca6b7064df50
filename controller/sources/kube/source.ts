/**
 * Kubernetes mode's source: one Reflector per watched kind, producing the same `Resources` value
 * as the manifest folder. Secrets, ConfigMaps, Services and Backends are held only when compile
 * referenced them: when policies start referencing new ones, those reflectors relist before the
 * snapshot is published, so a policy never flaps through "Secret not found".
 */
import type { Logger } from "pino";
import { toResources, type RejectedObject, type Resources } from "../../api/resources.ts";
import type { ReferencedObjects } from "../../compile/references.ts";
import type { KubeClient, KubeObject } from "./client.ts";
import { Reflector } from "./reflector.ts";

const WATCHED = [
  { kind: "SecurityPolicy", apiVersion: "gateway.envoyproxy.io/v1alpha1", path: "/apis/gateway.envoyproxy.io/v1alpha1/securitypolicies" },
  { kind: "HTTPRoute", apiVersion: "gateway.networking.k8s.io/v1", path: "/apis/gateway.networking.k8s.io/v1/httproutes" },
  { kind: "GRPCRoute", apiVersion: "gateway.networking.k8s.io/v1", path: "/apis/gateway.networking.k8s.io/v1/grpcroutes" },
  { kind: "Gateway", apiVersion: "gateway.networking.k8s.io/v1", path: "/apis/gateway.networking.k8s.io/v1/gateways" },
  { kind: "GatewayClass", apiVersion: "gateway.networking.k8s.io/v1", path: "/apis/gateway.networking.k8s.io/v1/gatewayclasses" },
  {
    kind: "ReferenceGrant",
    apiVersion: "gateway.networking.k8s.io/v1beta1",
    path: "/apis/gateway.networking.k8s.io/v1beta1/referencegrants",
  },
  {
    kind: "ListenerSet",
    apiVersion: "gateway.networking.k8s.io/v1",
    path: "/apis/gateway.networking.k8s.io/v1/listenersets",
    optional: true,
  },
  {
    kind: "XListenerSet",
    apiVersion: "gateway.networking.x-k8s.io/v1alpha1",
    path: "/apis/gateway.networking.x-k8s.io/v1alpha1/xlistenersets",
    optional: true,
  },
  {
    kind: "BackendTLSPolicy",
    apiVersion: "gateway.networking.k8s.io/v1",
    path: "/apis/gateway.networking.k8s.io/v1/backendtlspolicies",
    optional: true,
  },
  { kind: "Namespace", apiVersion: "v1", path: "/api/v1/namespaces" },
  { kind: "Secret", apiVersion: "v1", path: "/api/v1/secrets", referenced: "secrets" },
  { kind: "ConfigMap", apiVersion: "v1", path: "/api/v1/configmaps", referenced: "configMaps" },
  { kind: "Service", apiVersion: "v1", path: "/api/v1/services", referenced: "services" },
  {
    kind: "Backend",
    apiVersion: "gateway.envoyproxy.io/v1alpha1",
    path: "/apis/gateway.envoyproxy.io/v1alpha1/backends",
    referenced: "backends",
    optional: true,
  },
] as const;

type ReferencedKind = keyof ReferencedObjects;

/** How long a publish waits for newly referenced Secrets/ConfigMaps to be listed. */
const RESYNC_WAIT_MS = 10_000;

export interface KubeSourceOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  /** Called (debounced) after a burst of changes. */
  readonly onChange: () => void;
  readonly debounceMs?: number;
  readonly backoffMs?: { readonly initial: number; readonly max: number };
}

export class KubeSource {
  readonly #reflectors = new Map<string, Reflector>();
  readonly #wanted: Record<ReferencedKind, Set<string>> = {
    secrets: new Set(),
    configMaps: new Set(),
    services: new Set(),
    backends: new Set(),
  };
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #lastRejected = "";
  /** Resolves when every kind has been listed once. */
  readonly synced: Promise<void>;

  constructor(options: KubeSourceOptions) {
    this.#logger = options.logger;
    const changed = () => {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(options.onChange, options.debounceMs ?? 50);
    };
    for (const w of WATCHED) {
      const wanted = "referenced" in w ? this.#wanted[w.referenced] : undefined;
      this.#reflectors.set(
        w.kind,
        new Reflector({
          client: options.client,
          kind: w.kind,
          apiVersion: w.apiVersion,
          path: w.path,
          keep: wanted === undefined ? undefined : (key) => wanted.has(key),
          optional: "optional" in w,
          onChange: changed,
          logger: options.logger,
          backoffMs: options.backoffMs,
        }),
      );
    }
    this.synced = Promise.all([...this.#reflectors.values()].map((r) => r.synced)).then(() => undefined);
  }

  start(): void {
    for (const r of this.#reflectors.values()) r.start();
  }

  stop(): void {
    clearTimeout(this.#timer);
    for (const r of this.#reflectors.values()) r.stop();
  }

  /** Everything held now, as compile's input. Rejected objects are logged once per change. */
  resources(): Resources {
    const raws = [...this.#reflectors.values()].flatMap((r) => r.objects().map((object) => ({ object, origin: "kube" })));
    const { resources, rejected } = toResources(raws);
    this.#logRejected(rejected);
    return resources;
  }

  /** The SecurityPolicy as last seen, status included (for the status writer). */
  policy(namespace: string, name: string): KubeObject | undefined {
    return this.#reflectors.get("SecurityPolicy")!.get(`${namespace}/${name}`);
  }

  /**
   * Holds exactly the referenced objects of the referenced kinds: drops the others and relists a
   * kind when new names are wanted. True when what is held changed (compile must run again).
   */
  async loadReferences(references: ReferencedObjects): Promise<boolean> {
    let changed = false;
    for (const w of WATCHED) {
      if (!("referenced" in w)) continue;
      const wanted = this.#wanted[w.referenced];
      const next = new Set(references[w.referenced]);
      const added = [...next].some((k) => !wanted.has(k));
      wanted.clear();
      for (const k of next) wanted.add(k);
      const reflector = this.#reflectors.get(w.kind)!;
      if (reflector.prune()) changed = true;
      if (added) {
        const before = reflector.objects().length;
        // Bounded: with the API server away, publish with what is held rather than stall.
        await Promise.race([reflector.resync(), new Promise((r) => setTimeout(r, RESYNC_WAIT_MS).unref())]);
        if (reflector.objects().length !== before) changed = true;
      }
    }
    return changed;
  }

  #logRejected(rejected: readonly RejectedObject[]): void {
    const text = JSON.stringify(rejected);
    if (text === this.#lastRejected) return;
    this.#lastRejected = text;
    for (const r of rejected) this.#logger.error({ object: r.object, reason: r.reason }, "object rejected");
  }
}
