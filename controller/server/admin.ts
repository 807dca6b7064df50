/** The admin port: liveness, readiness, Prometheus metrics, a redacted view of what is served, and the admin page. */
import type { PolicyStatus } from "../api/status.ts";
import type { Explained } from "../authz/trace-steps.ts";
import type { MaybePromise } from "../authz/maybe-async.ts";
import type { AuthzRequest } from "../authz/request.ts";
import type { DenialRecord } from "../authz/recent-denials.ts";
import { PAGE_HEADERS, readExplainForm, renderAdminPage, type PageData } from "./admin-page.ts";
import type { JwksSourceView } from "../keys/store.ts";
import { summarizeSnapshot } from "../snapshot/summary.ts";
import type { Snapshot } from "../snapshot/types.ts";
import type { IncomingMessage } from "node:http";
import type { Handler } from "./http.ts";
import type { Metrics } from "./metrics.ts";

export interface AdminState {
  /** Ready once every source has synced and the first snapshot is published. */
  ready(): boolean;
  current(): { readonly generation: number; readonly snapshot: Snapshot; readonly statuses: readonly PolicyStatus[] } | undefined;
  jwks(): readonly JwksSourceView[];
  /** Newest first, as the audit log records them. */
  recentDenials(): readonly DenialRecord[];
  /** Decides a request on the snapshot being served, neither counted nor audited. */
  explain(request: AuthzRequest): MaybePromise<Explained>;
}

/** The explain form's body is a few lines; anything larger is refused. */
const MAX_FORM_BYTES = 64 * 1024;

export function adminHandler(state: AdminState, metrics: Metrics): Handler {
  return async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (path === "/explain" && req.method === "POST") {
      const body = await readBody(req, MAX_FORM_BYTES);
      if (body === undefined) return send(413, "text/plain", "the form is too large\n");
      const { form, request } = readExplainForm(body);
      const explained = request.ok ? { request: form, ...(await state.explain(request.value)) } : { request: form, error: request.error };
      res.writeHead(200, { ...PAGE_HEADERS, "cache-control": "no-store" });
      return void res.end(renderAdminPage(await pageData(state, metrics, explained)));
    }
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "method not allowed\n");
    switch (path) {
      case "/": {
        res.writeHead(200, { ...PAGE_HEADERS, "cache-control": "no-store" });
        return void res.end(renderAdminPage(await pageData(state, metrics)));
      }
      case "/healthz":
        return send(200, "text/plain", "ok\n");
      case "/readyz":
        return state.ready() ? send(200, "text/plain", "ready\n") : send(503, "text/plain", "not ready\n");
      case "/metrics":
        return send(200, metrics.registry.contentType, await metrics.registry.metrics());
      case "/snapshot": {
        const current = state.current();
        const view =
          current === undefined
            ? { generation: 0 }
            : {
                generation: current.generation,
                statuses: current.statuses,
                snapshot: summarizeSnapshot(current.snapshot),
                jwks: state.jwks(),
              };
        return send(200, "application/json", `${JSON.stringify(view, null, 2)}\n`);
      }
      default:
        return send(404, "text/plain", "not found: try /, /healthz, /readyz, /metrics or /snapshot\n");
    }
  };
}

async function pageData(state: AdminState, metrics: Metrics, explained?: PageData["explained"]): Promise<PageData> {
  const current = state.current();
  const decisions: Record<string, number> = {};
  for (const v of (await metrics.registry.getSingleMetric("portcullis_decisions_total")?.get())?.values ?? []) {
    const code = String(v.labels.code);
    decisions[code] = (decisions[code] ?? 0) + v.value;
  }
  const summary = current === undefined ? undefined : (summarizeSnapshot(current.snapshot) as { routes: PageData["routes"] });
  const lastGood = (await metrics.registry.getSingleMetric("portcullis_serving_last_good_config")?.get())?.values ?? [];
  return {
    ready: state.ready(),
    newestUnusable: lastGood.filter((v) => v.value === 1).map((v) => String(v.labels.source)),
    generation: current?.generation ?? 0,
    statuses: current?.statuses ?? [],
    routes: summary?.routes ?? {},
    decisions,
    denials: state.recentDenials(),
    ...(explained === undefined ? {} : { explained }),
  };
}

/** The request body as text, or undefined past `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.destroy();
        resolve(undefined);
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
