/**
 * Writes SecurityPolicy status (leader only). Our entries are the ancestors with our
 * controllerName; every other controller's entries are kept as they are. A write that would
 * change nothing is skipped; a conflict re-reads and retries; a policy that is gone is skipped.
 * A Warning Event is recorded when a policy stops being (or starts not being) accepted.
 */
import type { Logger } from "pino";
import { MAX_ANCESTORS, type AncestorStatus, type PolicyStatus } from "../api/status.ts";
import { SECURITY_POLICY_GROUP, SECURITY_POLICY_VERSION } from "../api/securitypolicy.ts";
import { KubeApiError, type KubeClient, type KubeObject } from "../kube/client.ts";
import { stampTransitions } from "./transitions.ts";

export interface StatusWriterOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly controllerName: string;
  /** The instance name recorded on Events. */
  readonly identity: string;
  /** The policy as last seen by the watch (saves a GET per policy when nothing changed). */
  readonly cached: (namespace: string, name: string) => KubeObject | undefined;
  readonly now?: () => Date;
  readonly maxAttempts?: number;
}

const policyPath = (ns: string, name: string) =>
  `/apis/${SECURITY_POLICY_GROUP}/${SECURITY_POLICY_VERSION}/namespaces/${encodeURIComponent(ns)}/securitypolicies/${encodeURIComponent(name)}`;

export class StatusWriter {
  readonly #o: StatusWriterOptions;
  #leading = false;
  #latest: readonly PolicyStatus[] = [];
  #running: Promise<void> | undefined;
  #again = false;

  constructor(options: StatusWriterOptions) {
    this.#o = options;
  }

  /** Becoming leader writes everything once; losing it stops writing. */
  setLeading(leading: boolean): void {
    this.#leading = leading;
    if (leading) void this.#schedule();
  }

  /** New statuses from a published snapshot; written now if leading. Resolves when written. */
  publish(statuses: readonly PolicyStatus[]): Promise<void> {
    this.#latest = statuses;
    return this.#schedule();
  }

  /**
   * Re-checks every policy against the last statuses, e.g. after a watch event: repairs entries
   * someone else overwrote. Costs no request when everything already matches.
   */
  reconcile(): Promise<void> {
    return this.#schedule();
  }

  /** Resolves when no write is in progress. */
  idle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  #schedule(): Promise<void> {
    if (!this.#leading) return Promise.resolve();
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        for (const status of this.#latest) {
          if (!this.#leading) return;
          await this.#writeOne(status);
        }
      } while (this.#again && this.#leading);
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #writeOne(status: PolicyStatus): Promise<void> {
    const { client, logger, controllerName } = this.#o;
    const path = policyPath(status.namespace, status.name);
    let object = this.#o.cached(status.namespace, status.name);
    for (let attempt = 1; attempt <= (this.#o.maxAttempts ?? 5); attempt++) {
      if (object === undefined) return;
      const current = (object.status as { ancestors?: AncestorStatus[] } | undefined)?.ancestors ?? [];
      const ours = current.filter((a) => a.controllerName === controllerName);
      const others = current.filter((a) => a.controllerName !== controllerName);
      const now = (this.#o.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
      // Other controllers' entries are never dropped to make room for ours.
      const stamped = stampTransitions(status.ancestors, ours, now).slice(0, Math.max(0, MAX_ANCESTORS - others.length));
      const merged = [...others, ...stamped];
      if (canonical(merged) === canonical(current)) return;
      try {
        await client.request("PUT", `${path}/status`, {
          ...object,
          status: { ...(object.status as object | undefined), ancestors: merged },
        });
        await this.#recordRejection(object, ours, stamped);
        return;
      } catch (err) {
        const code = err instanceof KubeApiError ? err.status : 0;
        if (code === 404) return;
        if (code !== 409) {
          logger.warn(
            { policy: `${status.namespace}/${status.name}`, error: (err as Error).message },
            "status write failed; retried on the next change or leadership",
          );
          return;
        }
        object = await client.request<KubeObject>("GET", path).catch(() => undefined);
      }
    }
    logger.warn({ policy: `${status.namespace}/${status.name}` }, "status write kept conflicting; giving up until the next change");
  }

  /** A Warning Event for each of our ancestors whose Accepted condition turned False. */
  async #recordRejection(object: KubeObject, before: readonly AncestorStatus[], after: readonly AncestorStatus[]): Promise<void> {
    const wasFalse = new Set(
      before.flatMap((a) =>
        a.conditions
          .filter((c) => c.type === "Accepted" && c.status === "False")
          .map((c) => `${JSON.stringify(a.ancestorRef)} ${c.reason} ${c.message}`),
      ),
    );
    for (const a of after) {
      for (const c of a.conditions) {
        if (c.type !== "Accepted" || c.status !== "False" || wasFalse.has(`${JSON.stringify(a.ancestorRef)} ${c.reason} ${c.message}`))
          continue;
        await this.#event(object, c.reason, `${a.ancestorRef.kind} ${a.ancestorRef.namespace}/${a.ancestorRef.name}: ${c.message}`);
      }
    }
  }

  async #event(object: KubeObject, reason: string, message: string): Promise<void> {
    const { namespace = "default", name, uid, resourceVersion } = object.metadata;
    const time = (this.#o.now?.() ?? new Date()).toISOString();
    try {
      await this.#o.client.request("POST", `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { generateName: `${name}.`, namespace },
        involvedObject: {
          apiVersion: `${SECURITY_POLICY_GROUP}/${SECURITY_POLICY_VERSION}`,
          kind: "SecurityPolicy",
          namespace,
          name,
          uid,
          resourceVersion,
        },
        type: "Warning",
        reason,
        message: message.slice(0, 1024),
        source: { component: this.#o.controllerName },
        reportingComponent: this.#o.controllerName,
        reportingInstance: this.#o.identity,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      });
    } catch (err) {
      this.#o.logger.warn({ policy: `${namespace}/${name}`, error: (err as Error).message }, "could not record a Warning event");
    }
  }
}

/** JSON with sorted keys: the API server may return fields in another order than we wrote them. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
