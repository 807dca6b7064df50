/** The admin port: liveness, readiness, Prometheus metrics and a redacted view of what is served. */
import type { PolicyStatus } from "../api/status.ts";
import type { JwksSourceView } from "../keys/store.ts";
import { summarizeSnapshot } from "../snapshot/summary.ts";
import type { Snapshot } from "../snapshot/types.ts";
import type { Handler } from "./http.ts";
import type { Metrics } from "./metrics.ts";

export interface AdminState {
  /** Ready once every source has synced and the first snapshot is published. */
  ready(): boolean;
  current(): { readonly generation: number; readonly snapshot: Snapshot; readonly statuses: readonly PolicyStatus[] } | undefined;
  jwks(): readonly JwksSourceView[];
}

export function adminHandler(state: AdminState, metrics: Metrics): Handler {
  return async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "method not allowed\n");
    switch (path) {
      case "/healthz":
        return send(200, "text/plain", "ok\n");
      case "/readyz":
        return state.ready() ? send(200, "text/plain", "ready\n") : send(503, "text/plain", "not ready\n");
      case "/metrics":
        return send(200, metrics.registry.contentType, await metrics.registry.metrics());
      case "/snapshot": {
        const current = state.current();
        const view = current === undefined
          ? { generation: 0 }
          : { generation: current.generation, statuses: current.statuses, snapshot: summarizeSnapshot(current.snapshot), jwks: state.jwks() };
        return send(200, "application/json", `${JSON.stringify(view, null, 2)}\n`);
      }
      default:
        return send(404, "text/plain", "not found: try /healthz, /readyz, /metrics or /snapshot\n");
    }
  };
}
