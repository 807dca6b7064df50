/**
 * One kind's list+watch loop and its store (client-go's Reflector, pared down). Lists (paginated,
 * or the first list from the API server's watch cache: `listFromWatchCache`), then watches from the
 * list's resourceVersion; 410 Gone relists at once; any other failure backs off (doubling, capped)
 * and resumes. Holds only the objects `keep` wants, so cluster-wide Secrets cost memory only when a
 * policy references them.
 */
import type { Logger } from "pino";
import { KubeApiError, type KubeClient, type KubeObject, type WatchEvent } from "../../kube/client.ts";

export interface ReflectorOptions {
  readonly client: KubeClient;
  /** "Secret", "HTTPRoute", ...: set on stored objects (list items may lack it) and used in logs. */
  readonly kind: string;
  readonly apiVersion: string;
  /** Collection path across namespaces, e.g. /api/v1/secrets. */
  readonly path: string;
  /**
   * Older versions of the kind, newest first (BackendTLSPolicy v1alpha3 where a Gateway API 1.1 to
   * 1.3 CRD serves no v1): when the API server does not serve `path` (404), the first of these it
   * serves is read instead, its objects labelled with that apiVersion. `apiVersion` is tried first
   * again after any failure.
   */
  readonly olderVersions?: readonly { readonly apiVersion: string; readonly path: string }[];
  /** Whether to hold the object "namespace/name"; all objects when absent. */
  readonly keep?: (key: string) => boolean;
  readonly onChange: () => void;
  readonly logger: Logger;
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  /**
   * The kind's CRD may not be installed (ListenerSet): a 404 then means none exist. The reflector
   * counts as synced, holds nothing, and looks again every `backoffMs.max`.
   */
  readonly optional?: boolean;
  /**
   * The first list asks for `resourceVersion=0`, as client-go's reflector does: the API server answers
   * it from its watch cache, whole, in one response (kube-apiserver 1.20, 10,000 SecurityPolicies:
   * 0.6–1.2 s, against 2.3–3.7 s in pages of 500 read from etcd). Its state may be older than etcd's
   * by the cache's lag, which every watch event has as well; the watch from its resourceVersion brings
   * what followed. Relists (410 Gone, resync()) read etcd in pages: never older than what was seen.
   * Only for kinds held whole: one answer holding a cluster's Secrets could be any size. Should that
   * list fail (say, past CACHED_LIST_TIMEOUT_MS), the reflector lists in pages from then on.
   */
  readonly listFromWatchCache?: boolean;
}

/** How long one answer of a whole kind from the watch cache may take (a page of 500 has the client's 15 s). */
export const CACHED_LIST_TIMEOUT_MS = 60_000;

export const objectKey = (o: KubeObject): string => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

export class Reflector {
  readonly #o: ReflectorOptions;
  #objects = new Map<string, KubeObject>();
  #resourceVersion = "";
  #stopped = false;
  #watch: AbortController | undefined;
  #listWaiters: (() => void)[] = [];
  #absentLogged = false;
  /** Whether a list has been stored: until then there is no last known state to serve. */
  #listed = false;
  /** Index of the version read in [ {apiVersion, path}, ...olderVersions ]. */
  #version = 0;
  #versionLogged = -1;
  /** Whether a list from the watch cache failed: every list after is paged. */
  #cachedListFailed = false;
  readonly synced: Promise<void>;
  #markSynced!: () => void;

  constructor(options: ReflectorOptions) {
    this.#o = options;
    this.synced = new Promise((resolve) => (this.#markSynced = resolve));
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    this.#watch?.abort();
  }

  objects(): KubeObject[] {
    return [...this.#objects.values()];
  }

  get(key: string): KubeObject | undefined {
    return this.#objects.get(key);
  }

  /** Relists now (after `keep` started wanting more); resolves when that list has been stored. */
  resync(): Promise<void> {
    const listed = new Promise<void>((resolve) => this.#listWaiters.push(resolve));
    this.#resourceVersion = "";
    this.#watch?.abort();
    return listed;
  }

  /** Drops held objects `keep` no longer wants; true when something was dropped. */
  prune(): boolean {
    const keep = this.#o.keep;
    if (keep === undefined) return false;
    let dropped = false;
    for (const key of [...this.#objects.keys()]) if (!keep(key)) dropped = this.#objects.delete(key) || dropped;
    return dropped;
  }

  async #run(): Promise<void> {
    const { initial, max } = this.#o.backoffMs ?? { initial: 500, max: 5000 };
    let delay = initial;
    while (!this.#stopped) {
      this.#watch = new AbortController();
      try {
        if (this.#resourceVersion === "") await this.#list();
        await this.#o.client.watch(this.#served().path, this.#resourceVersion, (e) => this.#onEvent(e), this.#watch.signal);
        delay = initial;
      } catch (err) {
        if (this.#stopped) return;
        if (err instanceof KubeApiError && err.status === 410) {
          this.#resourceVersion = "";
          continue;
        }
        if (this.#watch.signal.aborted) continue; // resync() or a 410 event: relist at once
        if (err instanceof KubeApiError && err.status === 404 && this.#version < (this.#o.olderVersions ?? []).length) {
          this.#version++;
          this.#resourceVersion = "";
          continue;
        }
        this.#version = 0;
        const notServed = err instanceof KubeApiError && err.status === 404;
        if (this.#o.optional === true && notServed) {
          this.#absent();
          await new Promise((r) => setTimeout(r, max));
          continue;
        }
        // A kind Portcullis needs that the API server does not serve is a missing or older CRD, not an outage: say which.
        this.#o.logger.warn(
          notServed
            ? { kind: this.#o.kind, apiVersions: this.#apiVersions(), retryInMs: delay }
            : { kind: this.#o.kind, error: (err as Error).message, retryInMs: delay },
          notServed
            ? "kind not served by the API server at these versions (its CRD is missing or older): install or upgrade it (README, Kubernetes mode); not ready until it is listed once, the last known state served after"
            : this.#listed
              ? "list/watch failed; serving the last known state"
              : "list/watch failed; not ready until it is listed once",
        );
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, max);
      }
    }
  }

  async #list(): Promise<void> {
    const items = new Map<string, KubeObject>();
    const fromCache = this.#o.listFromWatchCache === true && !this.#listed && !this.#cachedListFailed;
    let next = "";
    let resourceVersion = "";
    do {
      const query: Record<string, string> =
        next !== "" ? { limit: "500", continue: next } : fromCache ? { resourceVersion: "0" } : { limit: "500" };
      const page = await this.#listPage(new URLSearchParams(query), fromCache && next === "");
      for (const item of page.items) {
        const object = this.#normalize(item);
        const key = objectKey(object);
        if (this.#wants(key)) items.set(key, object);
      }
      next = page.metadata.continue ?? "";
      resourceVersion = page.metadata.resourceVersion ?? "";
    } while (next !== "");
    const changed =
      items.size !== this.#objects.size ||
      [...items].some(([k, o]) => this.#objects.get(k)?.metadata.resourceVersion !== o.metadata.resourceVersion);
    this.#objects = items;
    this.#resourceVersion = resourceVersion;
    if (this.#version !== this.#versionLogged && this.#version > 0)
      this.#o.logger.info(
        { kind: this.#o.kind, apiVersion: this.#served().apiVersion },
        `${this.#o.apiVersion} is not served by the API server; reading the older version it serves`,
      );
    this.#versionLogged = this.#version;
    this.#listed = true;
    this.#markSynced();
    for (const resolve of this.#listWaiters.splice(0)) resolve();
    if (changed) this.#o.onChange();
  }

  /** One list request; `fromCache`: the whole kind from the watch cache, whose failure makes every later list paged. */
  async #listPage(
    query: URLSearchParams,
    fromCache: boolean,
  ): Promise<{ metadata: { resourceVersion?: string; continue?: string }; items: KubeObject[] }> {
    const path = `${this.#served().path}?${query}`;
    if (!fromCache) return this.#o.client.request("GET", path);
    try {
      return await this.#o.client.request("GET", path, undefined, CACHED_LIST_TIMEOUT_MS);
    } catch (err) {
      // A kind not served (404) says nothing of the cache: the older version's first list may still use it.
      if (!(err instanceof KubeApiError && err.status === 404)) this.#cachedListFailed = true;
      throw err;
    }
  }

  /** The version being read: `apiVersion` or the older one the API server serves. */
  #served(): { readonly apiVersion: string; readonly path: string } {
    return this.#version === 0 ? this.#o : this.#o.olderVersions![this.#version - 1]!;
  }

  /** Every apiVersion the kind is read at, newest first. */
  #apiVersions(): string[] {
    return [this.#o.apiVersion, ...(this.#o.olderVersions ?? []).map((v) => v.apiVersion)];
  }

  /** An optional kind whose API is not served: none of it exists. */
  #absent(): void {
    if (!this.#absentLogged)
      this.#o.logger.info(
        { kind: this.#o.kind, paths: [this.#o.path, ...(this.#o.olderVersions ?? []).map((v) => v.path)] },
        "kind not served by the API server (CRD not installed); treating it as empty",
      );
    this.#absentLogged = true;
    const changed = this.#objects.size > 0;
    this.#objects = new Map();
    this.#resourceVersion = "";
    this.#listed = true;
    this.#markSynced();
    for (const resolve of this.#listWaiters.splice(0)) resolve();
    if (changed) this.#o.onChange();
  }

  #onEvent(event: WatchEvent): void {
    if (event.type === "ERROR") {
      // 410 Gone (history compacted) and other watch errors: end this watch; the loop relists or backs off.
      if (event.object.code === 410) this.#resourceVersion = "";
      this.#watch?.abort();
      return;
    }
    const rv = event.object.metadata?.resourceVersion;
    if (rv !== undefined) this.#resourceVersion = rv;
    if (event.type === "BOOKMARK") return;
    const object = this.#normalize(event.object);
    const key = objectKey(object);
    if (event.type === "DELETED" || !this.#wants(key)) {
      if (this.#objects.delete(key)) this.#o.onChange();
      return;
    }
    this.#objects.set(key, object);
    this.#o.onChange();
  }

  #wants(key: string): boolean {
    return this.#o.keep === undefined || this.#o.keep(key);
  }

  /** Sets kind/apiVersion (list items lack them) and drops bookkeeping nobody reads. */
  #normalize(o: KubeObject): KubeObject {
    const { managedFields: _m, ...metadata } = o.metadata as Record<string, unknown>;
    const annotations = metadata.annotations as Record<string, string> | undefined;
    if (annotations?.["kubectl.kubernetes.io/last-applied-configuration"] !== undefined) {
      // It repeats the whole object, Secret values included: never worth holding.
      const { "kubectl.kubernetes.io/last-applied-configuration": _l, ...rest } = annotations;
      metadata.annotations = rest;
    }
    return { ...o, apiVersion: this.#served().apiVersion, kind: this.#o.kind, metadata: metadata as KubeObject["metadata"] };
  }
}
