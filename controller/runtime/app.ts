/** `portcullis serve`: wires the source, the pipeline, the key store and the three ports together. */
import type { Server } from "node:http";
import type { Logger } from "pino";
import { Passwords } from "../features/basicAuth/check.ts";
import { createExtAuthTransport } from "../features/extAuth/client.ts";
import { clientAddressDetection, clientAddressOptionsOf, type ClientAddressOptions } from "../authz/client-address.ts";
import type { CompileOptions } from "../compile/index.ts";
import type { ServeConfig } from "../config.ts";
import { watchGeoIPDatabases } from "../geoip/watch.ts";
import { createKeyStore, type JwksKeyStore } from "../keys/store.ts";
import { adminHandler } from "../server/admin.ts";
import { envoyHandler, forwardAuthHandler } from "../server/authz.ts";
import { closeGracefully, createHttpServer, listen } from "../server/http.ts";
import { startGrpcServer } from "../server/grpc.ts";
import { createMetrics, decisionMetrics, type Metrics } from "../server/metrics.ts";
import { createAuthorizer } from "../authz/authorizer.ts";
import { createOidcProviders } from "../features/oidc/provider.ts";
import { retainBackendClients } from "./backend-clients.ts";
import { compileOptionsOf } from "./compile-options.ts";
import { RecentDenials } from "../authz/recent-denials.ts";
import { Pipeline } from "./pipeline.ts";
import { startFolderSource } from "./standalone.ts";
import { logStatusChanges } from "./status-log.ts";
import type { KeyStore } from "../keys/types.ts";

export interface App {
  readonly ports: { readonly authz: number; readonly forwardAuth: number; readonly admin: number; readonly grpc: number };
  readonly pipeline: Pipeline;
  readonly keys: JwksKeyStore;
  readonly metrics: Metrics;
  /**
   * Resolves when the source has synced: its first read published, or found unusable (a broken
   * manifest folder), in which case no snapshot is served (/readyz 503) until a read is. The
   * "ready:" log line marks the first snapshot served, whichever comes first.
   */
  readonly ready: Promise<void>;
  /** Whether this replica holds the status-writer lease (always false in standalone mode). */
  leading(): boolean;
  /** Graceful stop: not ready (still serving for the shutdown delay), then stop accepting, drain in-flight checks, close. */
  stop(): Promise<void>;
}

export async function startApp(config: ServeConfig, logger: Logger): Promise<App> {
  // The JWKS gauges read the key store at scrape time, long after it exists.
  const metrics = createMetrics({ describe: () => keys.describe() });
  const keys = createKeyStore({
    logger: logger.child({ component: "jwks" }),
    fetchTimeoutMs: config.jwksFetchTimeoutMs,
    onFetch: (e) => {
      metrics.jwksFetches.inc({ outcome: e.outcome, trigger: e.trigger });
      metrics.jwksFetchDuration.observe({ outcome: e.outcome }, e.durationMs / 1000);
    },
  });
  const geoipLogger = logger.child({ component: "geoip" });
  const logGeoip = (line: { readonly ok: boolean; readonly message: string }) =>
    line.ok ? geoipLogger.info(line.message) : geoipLogger.error(line.message);
  const options = compileOptionsOf(config, logGeoip);
  // The GeoIP watch puts a database that becomes usable in this array, which compile reads.
  const geoipDatabases = [...(options.geoipDatabases ?? [])];
  const compile = { ...options, geoipDatabases };
  // Loaded only in Kubernetes mode: @kubernetes/client-node alone is about 40 MB of heap.
  const tokenCacheBytes = config.jwtCacheMib * 1024 * 1024;
  const mode =
    config.manifests === undefined
      ? (await import("./kube.ts")).startKubeMode(config, { compile, keys, logger, metrics, tokenCacheBytes })
      : startFolderMode(config.manifests, {
          compile,
          keys,
          logger,
          metrics,
          tokenCacheBytes,
          clientAddress: clientAddressOptionsOf(config),
        });
  const pipeline = mode.pipeline;
  const stopGeoipWatch = watchGeoIPDatabases(geoipDatabases, logGeoip, () => void pipeline.recompile());
  const passwords = new Passwords();
  const extAuth = createExtAuthTransport();
  const oidc = createOidcProviders({ logger: logger.child({ component: "oidc" }) });
  const recentDenials = new RecentDenials();
  const authorizer = createAuthorizer({
    current: () => pipeline.current,
    keys,
    logger: logger.child({ component: "authz" }),
    metrics: decisionMetrics(metrics),
    onNoRoute: config.onNoRoute,
    onNoPolicy: config.onNoPolicy,
    passwords,
    extAuth,
    recentDenials,
    auditAllowedSampleRate: config.auditAllowedSampleRate,
    clientAddress: clientAddressDetection(clientAddressOptionsOf(config)),
    oidc,
  });
  pipeline.onSwap((snapshot) => retainBackendClients(snapshot, { extAuth, oidc }));
  let stopping = false;
  let synced = false;
  let listening = false;
  let announced = false;
  /** Logs the ready line once, when the ports listen and /readyz first holds (synced, with a snapshot), in whichever order these came. */
  const announceReady = () => {
    const current = pipeline.current;
    if (announced || !listening || !synced || current === undefined) return;
    announced = true;
    logger.info({ generation: current.generation }, "ready: checks are decided by the loaded policies");
  };
  pipeline.onSwap(announceReady);
  const servers: Server[] = [
    createHttpServer(envoyHandler(authorizer), logger),
    // nginx's auth_request sends its checks without a body or Content-Length; Envoy's carry `content-length: 0`, which the option does not take.
    createHttpServer(forwardAuthHandler(authorizer), logger, true),
    createHttpServer(
      adminHandler(
        {
          ready: () => synced && !stopping && pipeline.current !== undefined,
          current: () => pipeline.current,
          jwks: () => keys.describe(),
          recentDenials: () => recentDenials.list(),
          explain: (request) => authorizer.explain(request),
        },
        metrics,
      ),
      logger,
    ),
  ];
  const ready = mode.synced.then(() => {
    synced = true;
    announceReady();
  });
  const bound = await Promise.allSettled([
    listen(servers[0]!, config.authzPort, config.bindAddress),
    listen(servers[1]!, config.forwardAuthPort, config.bindAddress),
    listen(servers[2]!, config.adminPort, config.bindAddress),
    startGrpcServer(authorizer, config.grpcPort, config.bindAddress, logger.child({ component: "grpc" })),
  ]);
  const grpc = bound[3].status === "fulfilled" ? bound[3].value : undefined;
  /** Stops what started: the source, the ports that listen (in-flight checks get `graceMs`), the key store and the clients. */
  const stopAll = async (graceMs: number) => {
    await Promise.all([mode.stop(), grpc?.stop(graceMs), ...servers.map((s) => closeGracefully(s, graceMs))]);
    keys.close();
    stopGeoipWatch();
    await Promise.all([passwords.pool.close(), extAuth.close()]);
  };
  const refused = PORT_FLAGS.flatMap((flag, i) => {
    const result = bound[i]!;
    return result.status === "rejected" ? [cannotListen(flag, config, result.reason)] : [];
  });
  if (refused.length > 0) {
    await stopAll(0);
    throw new Error(refused.join("\n"));
  }
  // Every port listens (nothing was refused above): each result is fulfilled.
  const [authz, forwardAuth, admin] = bound.slice(0, 3).map((r) => (r as PromiseFulfilledResult<number>).value);
  const ports = { authz: authz!, forwardAuth: forwardAuth!, admin: admin!, grpc: grpc!.port };
  const at = (port: number) => `${config.bindAddress}:${port}`;
  logger.info(
    { ...ports, bindAddress: config.bindAddress, manifests: config.manifests },
    `Portcullis listening: Envoy ext_authz HTTP on ${at(ports.authz)}, gRPC on ${at(ports.grpc)}, forward-auth on ${at(ports.forwardAuth)}, admin on ${at(ports.admin)}`,
  );
  listening = true;
  announceReady();
  return {
    ports,
    pipeline,
    keys,
    metrics,
    ready,
    leading: () => ("leader" in mode ? mode.leader.leading : false),
    async stop() {
      stopping = true;
      // Endpoints drop a pod only after its readiness fails; until then proxies still send checks here.
      await new Promise((r) => setTimeout(r, config.shutdownDelaySeconds * 1000));
      await stopAll(config.shutdownGraceSeconds * 1000);
    },
  };
}

/** serve's port flags, in the order startApp listens on them, with the config field each sets. */
const PORT_FLAGS = [
  ["--authz-port", "authzPort"],
  ["--forward-auth-port", "forwardAuthPort"],
  ["--admin-port", "adminPort"],
  ["--grpc-port", "grpcPort"],
] as const;

/**
 * Why a port could not be listened on, naming its flag and what to do: Node's error (`listen
 * EADDRINUSE: address already in use 127.0.0.1:9002`) and grpc-js's (the same inside "No address
 * added out of total 1 resolved errors") name neither.
 */
function cannotListen([flag, field]: (typeof PORT_FLAGS)[number], config: ServeConfig, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException).code ?? /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(message)?.[1];
  const why =
    code === "EADDRINUSE"
      ? `the port is in use (another Portcullis? make run in another terminal?): stop that, or choose another port with ${flag}`
      : code === "EACCES"
        ? `permission denied (a port below 1024 needs root or CAP_NET_BIND_SERVICE): choose another port with ${flag}`
        : code === "EADDRNOTAVAIL"
          ? `${config.bindAddress} is not an address of this machine: choose another with --bind-address`
          : message;
  return `cannot listen on ${config.bindAddress}:${config[field]} (${flag}): ${why}`;
}

/** Standalone mode: the manifest folder feeds the pipeline; statuses are logged. */
function startFolderMode(
  dir: string,
  deps: {
    compile: CompileOptions;
    keys: KeyStore;
    logger: Logger;
    metrics: Metrics;
    tokenCacheBytes: number;
    clientAddress: ClientAddressOptions;
  },
) {
  const { logger } = deps;
  const pipeline = new Pipeline({
    compile: deps.compile,
    keys: deps.keys,
    logger,
    metrics: deps.metrics,
    tokenCacheBytes: deps.tokenCacheBytes,
    onPublished: (published, previous) => logStatusChanges(logger, published, previous),
  });
  const source = startFolderSource(dir, pipeline, logger.child({ component: "manifests" }), deps.metrics, deps.clientAddress);
  return { pipeline, synced: source.synced, stop: async () => source.stop() };
}
