/**
 * Resources → compile → key store → publish. Updates are serialised and coalesced: while one
 * runs, only the newest pending Resources is compiled next. Unchanged input is not recompiled.
 * A published snapshot is replaced in one assignment; a request keeps the one it started with.
 */
import { hash } from "node:crypto";
import type { Logger } from "pino";
import type { Resources } from "../api/resources.ts";
import type { PolicyStatus } from "../api/status.ts";
import { CheckMemo } from "../authz/check-memo.ts";
import { prepareFoldedHeaders } from "../authz/folded-headers.ts";
import { headersDecisionsRead } from "../authz/headers-read.ts";
import { prepareCaseReadings } from "../authz/case-path-values.ts";
import { compileInSlices, referencesInSlices, type CompileOptions } from "../compile/index.ts";
import type { ReferencedObjects } from "../compile/references.ts";
import type { KeyStore } from "../keys/types.ts";
import type { Metrics } from "../server/metrics.ts";
import { entryListsOf, prepareRouteLookup } from "../snapshot/route-index.ts";
import type { Snapshot } from "../snapshot/types.ts";

export interface Published {
  readonly generation: number;
  readonly snapshot: Snapshot;
  readonly statuses: readonly PolicyStatus[];
  /** Verified tokens and reusable decisions of this snapshot only: a policy change never reuses an old verdict. */
  readonly memo: CheckMemo;
}

export interface PipelineOptions {
  readonly compile: CompileOptions;
  readonly keys: KeyStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Called after each publish with the new statuses and the previous ones. */
  readonly onPublished?: (published: Published, previous: Published | undefined) => void | Promise<void>;
  /**
   * Makes the Secrets and ConfigMaps compile needed available (the Kubernetes source fetches
   * newly referenced ones); true when it loaded something, so compile runs again before publishing.
   * Before the first compile it is called with what the policies reference (referencesInSlices),
   * so that the first compile already sees them.
   */
  readonly loadReferences?: (references: ReferencedObjects) => Promise<boolean>;
  /** Bound of each snapshot's verified-token cache, estimated heap bytes (`--jwt-cache-mib`); default 16 MiB. */
  readonly tokenCacheBytes?: number;
}

/** Rounds of "compile, load newly referenced objects, compile again" before publishing anyway. */
const MAX_REFERENCE_ROUNDS = 3;

export class Pipeline {
  readonly #options: PipelineOptions;
  #current: Published | undefined;
  /** The input of the snapshot served, to tell whether a new one differs (sameInput); undefined: compile the next whatever it is. */
  #input: Resources | undefined;
  #running: Promise<void> | undefined;
  #pending: (() => Resources) | undefined;
  /** The last input asked for, for recompile(). */
  #lastRead: (() => Resources) | undefined;
  readonly #swapListeners: ((snapshot: Snapshot) => void)[] = [];

  constructor(options: PipelineOptions) {
    this.#options = options;
  }

  /** The snapshot being served; undefined until the first publish. */
  get current(): Published | undefined {
    return this.#current;
  }

  /**
   * Calls `listener` with each snapshot right after it replaces the served one (and now with the
   * one served, if any): how the clients of the backends policies call drop those no snapshot names.
   */
  onSwap(listener: (snapshot: Snapshot) => void): void {
    this.#swapListeners.push(listener);
    if (this.#current !== undefined) listener(this.#current.snapshot);
  }

  /** Queues a publish of what `read` returns when its turn comes; resolves once published. */
  update(read: () => Resources): Promise<void> {
    this.#lastRead = read;
    this.#pending = read;
    this.#running ??= this.#drain().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /**
   * Compiles the last input again though it did not change: something else compile reads did (a
   * GeoIP database file became usable). Resolves once published; at once before any input.
   */
  recompile(): Promise<void> {
    if (this.#lastRead === undefined) return Promise.resolve();
    this.#input = undefined;
    return this.update(this.#lastRead);
  }

  async #drain(): Promise<void> {
    while (this.#pending !== undefined) {
      const read = this.#pending;
      this.#pending = undefined;
      try {
        await this.#publish(read);
        this.#options.metrics.servingLastGood.set({ source: "pipeline" }, 0);
      } catch (e) {
        // compile() is total, so this is a bug; the previous snapshot keeps being served.
        this.#options.logger.error({ err: e }, "publishing a snapshot failed; the previous snapshot is still served");
        this.#options.metrics.servingLastGood.set({ source: "pipeline" }, 1);
      }
    }
  }

  async #publish(read: () => Resources): Promise<void> {
    let resources = read();
    if (this.#input !== undefined && sameInput(resources, this.#input)) return;
    const { logger, metrics, loadReferences } = this.#options;
    const started = performance.now();
    // In slices: checks keep being answered (from the current snapshot) while a big world compiles.
    const timedCompile = async (input: Resources) => {
      const t = performance.now();
      const out = await compileInSlices(input, this.#options.compile);
      metrics.compileDuration.observe((performance.now() - t) / 1000);
      return out;
    };
    if (loadReferences !== undefined && this.#current === undefined) {
      // Before the first compile, what the policies reference is loaded first: compiled without it,
      // the world would be compiled twice before ready (10,000 policies: a second each).
      if (await loadReferences(await referencesInSlices(resources, this.#options.compile))) resources = read();
    }
    let result = await timedCompile(resources);
    for (
      let round = 1;
      round < MAX_REFERENCE_ROUNDS && loadReferences !== undefined && (await loadReferences(result.references));
      round++
    ) {
      resources = read();
      result = await timedCompile(resources);
    }
    for (const problem of result.problems) logger.warn({ problem }, "object not served as written");
    await this.#options.keys.sync(result.snapshot.remoteJwks);
    // Built now, not by the first check the new snapshot answers (10,000 routes: 30 ms; of RegularExpression paths: 1 s; the route starts of 10,000 patterns: 10-17 ms, and a second compile of each written with a leading ^, about 20 µs).
    prepareCaseReadings(result.snapshot);
    prepareRouteLookup(result.snapshot.routes);
    prepareFoldedHeaders(result.snapshot);
    const previous = this.#current;
    const published: Published = {
      generation: (previous?.generation ?? 0) + 1,
      snapshot: result.snapshot,
      statuses: result.statuses,
      memo: new CheckMemo(this.#options.tokenCacheBytes),
    };
    this.#current = published;
    this.#input = resources;
    for (const listener of this.#swapListeners) listener(published.snapshot);
    metrics.snapshotGeneration.set(published.generation);
    metrics.routeRulesWithoutPolicy.set(rulesWithoutPolicy(result.snapshot));
    const accepted = result.statuses.filter((s) =>
      s.ancestors.every((a) => a.conditions.some((c) => c.type === "Accepted" && c.status === "True")),
    ).length;
    metrics.policies.set({ accepted: "true" }, accepted);
    metrics.policies.set({ accepted: "false" }, result.statuses.length - accepted);
    logger.info(
      {
        generation: published.generation,
        policies: result.statuses.length,
        routes: countEntries(result.snapshot),
        ...headersDecisionsRead(result.snapshot),
        buildMs: Math.round(performance.now() - started),
      },
      "snapshot published",
    );
    await this.#options.onPublished?.(published, previous);
  }
}

/** Digest per loaded object, made the first time it is compared with another object. */
const digestByObject = new WeakMap<object, string>();

/** SHA-256 of the object's JSON; Secret values go into the digest only, never anywhere readable. */
export function digestOf(o: object): string {
  let digest = digestByObject.get(o);
  if (digest === undefined) digestByObject.set(o, (digest = hash("sha256", JSON.stringify(o), "base64url")));
  return digest;
}

/**
 * Whether two inputs hold the same objects, kind by kind and in order (toResources sorts each list
 * by namespace/name): the very same object, or one with the same digest (a source may hand over an
 * equal object anew, as a manifest folder read again does). Sources never change an object they
 * handed over, so the same object needs no digest: the first input is not digested at all (at
 * 10,000 policies the 25,000 objects' digests took 200 ms of CPU before ready), and a rebuild
 * digests only the objects that are not the ones compiled last time.
 */
export function sameInput(a: Resources, b: Resources): boolean {
  for (const kind of Object.keys(a) as (keyof Resources)[]) {
    const x: readonly object[] = a[kind];
    const y: readonly object[] | undefined = b[kind];
    if (y === undefined || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && digestOf(x[i]!) !== digestOf(y[i]!)) return false;
  }
  return Object.keys(b).length === Object.keys(a).length;
}

function countEntries(snapshot: Snapshot): number {
  return entryListsOf(snapshot.routes).reduce((n, list) => n + list.length, 0);
}

/** Distinct route rules (as labelled in decisions) with no governing SecurityPolicy (an HTTPRoute CORS filter alone is none). */
export function rulesWithoutPolicy(snapshot: Snapshot): number {
  const rules = new Set<string>();
  for (const list of entryListsOf(snapshot.routes))
    for (const e of list) if (e.policy === undefined || e.policy.routeFilterOnly === true) rules.add(e.rule);
  return rules.size;
}
