/**
 * Lease leader election (coordination.k8s.io/v1), the client-go way: a lease is expired when its
 * record has not changed for leaseDuration by OUR clock (no trust in other replicas' clocks); the
 * leader renews every retryPeriod and steps down if it could not renew for renewDeadline; on stop
 * it releases the lease so a standby takes over at once.
 */
import type { Logger } from "pino";
import { KubeApiError, type KubeClient } from "../kube/client.ts";

export interface LeaderElectorOptions {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #path: string;
  #leading = false;
  /** The holder this replica took the lease from, for the log line; undefined when it was free or new. */
  #previousHolder: string | undefined;
  #lastRenew = 0;
  #observed = "";
  #observedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: LeaderElectorOptions) {
    this.#o = options;
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(options.namespace)}/leases/${encodeURIComponent(options.name)}`;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    const tick = async () => {
      if (this.#stopped) return;
      await this.#tick();
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.retryPeriodMs);
    };
    void tick();
  }

  /** Stops electing; a leader releases the lease (holder cleared, 1 s duration). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#setLeading(false);
    try {
      const lease = await this.#o.client.request<Lease>("GET", this.#path);
      if (lease.spec.holderIdentity !== this.#o.identity) return;
      const now = microTime(Date.now());
      await this.#o.client.request(
        "PUT",
        this.#path,
        { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now, acquireTime: now } },
        3000,
      );
      this.#o.logger.info({ lease: this.#o.name }, "released the status-writer lease");
    } catch (err) {
      this.#o.logger.warn({ error: (err as Error).message }, "could not release the lease; it expires on its own");
    }
  }

  async #tick(): Promise<void> {
    const now = Date.now();
    try {
      if (await this.#tryAcquireOrRenew(now)) {
        this.#lastRenew = now;
        this.#setLeading(true);
        return;
      }
      this.#setLeading(false);
    } catch (err) {
      this.#o.logger.warn({ error: (err as Error).message }, "lease renewal failed");
      if (this.#leading && Date.now() - this.#lastRenew > this.#o.renewDeadlineMs) this.#setLeading(false);
    }
  }

  async #tryAcquireOrRenew(now: number): Promise<boolean> {
    const { client, identity, leaseDurationMs } = this.#o;
    const seconds = Math.max(1, Math.round(leaseDurationMs / 1000));
    let lease: Lease;
    try {
      lease = await client.request<Lease>("GET", this.#path, undefined, 5000);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
      const spec: LeaseSpec = {
        holderIdentity: identity,
        leaseDurationSeconds: seconds,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      };
      await client
        .request(
          "POST",
          this.#path.replace(/\/[^/]+$/, ""),
          { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: this.#o.name, namespace: this.#o.namespace }, spec },
          5000,
        )
        .catch((e: unknown) => {
          if (e instanceof KubeApiError && e.status === 409) return; // another replica created it first
          throw e;
        });
      return false; // confirm on the next tick that the lease is ours
    }
    const record = JSON.stringify(lease.spec);
    if (record !== this.#observed) {
      this.#observed = record;
      this.#observedAt = now;
    }
    const holder = lease.spec.holderIdentity ?? "";
    const duration = (lease.spec.leaseDurationSeconds ?? seconds) * 1000;
    if (holder !== "" && holder !== identity && this.#observedAt + duration > now) return false;
    const renewing = holder === identity;
    const spec: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: seconds,
      acquireTime: renewing ? lease.spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (renewing ? 0 : 1),
    };
    try {
      await client.request("PUT", this.#path, { ...lease, spec }, 5000);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) return false;
      throw err;
    }
    if (!renewing) this.#previousHolder = holder || undefined;
    return true;
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    if (leading) {
      // Logged on the transition, not on the write: a lease this replica created is confirmed as ours on a later renewal.
      this.#o.logger.info({ lease: this.#o.name, previous: this.#previousHolder }, "became the status writer (lease acquired)");
      this.#o.onStartedLeading();
    } else {
      this.#o.logger.info({ lease: this.#o.name }, "no longer the status writer");
      this.#o.onStoppedLeading();
    }
  }
}
