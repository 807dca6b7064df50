/**
 * Kubernetes mode: informers (reflectors) feed the pipeline; every replica compiles and serves;
 * the Lease holder writes status.
 */
import type { Logger } from "pino";
import { clientAddressOptionsOf } from "../authz/client-address.ts";
import type { CompileOptions } from "../compile/index.ts";
import type { ServeConfig } from "../config.ts";
import type { KeyStore } from "../keys/types.ts";
import type { Metrics } from "../server/metrics.ts";
import { KubeClient } from "../kube/client.ts";
import { KubeSource } from "../sources/kube/source.ts";
import { LeaderElector } from "../status/leader.ts";
import { StatusWriter } from "../status/writer.ts";
import { Pipeline } from "./pipeline.ts";
import { logStatusChanges } from "./status-log.ts";

export interface KubeMode {
  readonly pipeline: Pipeline;
  /** Every kind listed once and the first snapshot published. */
  readonly synced: Promise<void>;
  readonly leader: LeaderElector;
  readonly writer: StatusWriter;
  stop(): Promise<void>;
}

export function startKubeMode(
  config: ServeConfig,
  deps: { compile: CompileOptions; keys: KeyStore; logger: Logger; metrics: Metrics; tokenCacheBytes: number },
): KubeMode {
  const logger = deps.logger;
  const client = KubeClient.load(config.kubeconfig);
  const source: KubeSource = new KubeSource({
    client,
    logger: logger.child({ component: "informers" }),
    namespaces: config.watchNamespaces,
    // After the pipeline settles, status is reconciled too: a status someone else overwrote is not an
    // input change (no new snapshot), but our entries must come back.
    onChange: () => void pipeline.update(() => source.resources()).then(() => writer.reconcile()),
  });
  const writer = new StatusWriter({
    client,
    logger: logger.child({ component: "status" }),
    controllerName: config.controllerName,
    identity: config.identity,
    cached: (ns, name) => source.policy(ns, name),
  });
  const pipeline = new Pipeline({
    // ClientTrafficPolicies are compared listener by listener with the flags (compile/client-traffic-policies.ts).
    compile: {
      ...deps.compile,
      watchNamespaces: config.watchNamespaces,
      clientAddress: clientAddressOptionsOf(config),
      envoyGatewayControllers: config.envoyGatewayControllerName,
    },
    keys: deps.keys,
    logger,
    metrics: deps.metrics,
    tokenCacheBytes: deps.tokenCacheBytes,
    loadReferences: (references) => source.loadReferences(references),
    onPublished: (published, previous) => {
      logStatusChanges(logger, published, previous);
      void writer.publish(published.statuses);
    },
  });
  const lease = config.leaseDurationSeconds * 1000;
  const leader = new LeaderElector({
    client,
    logger: logger.child({ component: "leader" }),
    namespace: config.leaseNamespace,
    name: config.leaseName,
    identity: config.identity,
    leaseDurationMs: lease,
    renewDeadlineMs: Math.round(lease * (2 / 3)),
    retryPeriodMs: Math.round(lease / 7.5),
    onStartedLeading: () => writer.setLeading(true),
    onStoppedLeading: () => writer.setLeading(false),
  });
  source.start();
  leader.start();
  const synced = source.synced.then(() => pipeline.update(() => source.resources()));
  return {
    pipeline,
    synced,
    leader,
    writer,
    async stop() {
      source.stop();
      await leader.stop();
    },
  };
}
