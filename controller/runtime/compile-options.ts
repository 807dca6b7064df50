/** The CompileOptions every command derives from its flags, with the GeoIP databases read once. */
import type { CompileOptions } from "../compile/index.ts";
import { DEFAULT_AUTHZ_PORT, DEFAULT_GRPC_PORT } from "../config.ts";
import type { SelfService } from "../features/extAuth/types.ts";
import { readGeoIPDatabase } from "../geoip/database.ts";

/** The container port names the chart and deploy/base give the ext_authz listeners. */
export const EXT_AUTHZ_PORT_NAMES = { grpc: "grpc", http: "authz" } as const;

/**
 * Reads each `--geoip-database` file (a file that cannot be used is kept with its error: the
 * policies that need it become Invalid and name it, nothing else changes) and calls `report` once
 * per file with what was found. `--self-service` names the Service whose ports lead to this
 * process' ext_authz listeners (serve's ports; check and compile assume serve's defaults).
 */
export function compileOptionsOf(
  config: {
    readonly controllerName: string;
    readonly gatewayClass: readonly string[];
    readonly geoipDatabase: readonly string[];
    readonly selfService?: string | undefined;
    readonly grpcPort?: number;
    readonly authzPort?: number;
    readonly manifests?: string | undefined;
  },
  report: (line: { readonly ok: boolean; readonly message: string }) => void,
): CompileOptions {
  const geoipDatabases = config.geoipDatabase.map(readGeoIPDatabase);
  for (const d of geoipDatabases)
    report(
      d.ok ? { ok: true, message: `GeoIP database ${d.path}: ${d.type}` } : { ok: false, message: `GeoIP database ${d.path} ${d.error}` },
    );
  const selfService = config.selfService === undefined ? undefined : selfServiceOf(config.selfService, config);
  return {
    controllerName: config.controllerName,
    gatewayClasses: config.gatewayClass,
    geoipDatabases,
    selfService,
    fromManifestFolder: config.manifests !== undefined,
  };
}

/** `--self-service NS/NAME` with the ext_authz listener ports it leads to (unset: serve's defaults). */
export function selfServiceOf(id: string, ports: { readonly grpcPort?: number; readonly authzPort?: number }): SelfService {
  const [namespace, name] = id.split("/") as [string, string];
  return {
    namespace,
    name,
    listeners: {
      grpc: { port: ports.grpcPort ?? DEFAULT_GRPC_PORT, name: EXT_AUTHZ_PORT_NAMES.grpc },
      http: { port: ports.authzPort ?? DEFAULT_AUTHZ_PORT, name: EXT_AUTHZ_PORT_NAMES.http },
    },
  };
}
