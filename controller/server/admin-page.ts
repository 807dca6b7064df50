/**
 * The admin port's page (`GET /`, `POST /explain`): one server-rendered HTML document, no script.
 * Sections: whether the newest configuration is in force (a line per source that cannot be used),
 * policies and their status per ancestor, the route table (route rule → policy, per
 * Gateway and port), decision counts, the recent denials (as the audit log records them: no query,
 * no credential), and an explain form that decides a request on the snapshot being served and shows
 * the operator's reason. Every value is HTML-escaped: manifests and requests are not trusted text.
 */
import { ancestorKey, type PolicyStatus } from "../api/status.ts";
import type { Explained } from "../authz/trace-steps.ts";
import { reasonOf } from "../authz/decision.ts";
import type { AuthzRequest } from "../authz/request.ts";
import type { DenialRecord } from "../authz/recent-denials.ts";
import { fail, ok, type Result } from "../lib/result.ts";

/** The page's security headers: no script may run, forms post only here, nothing is cached or framed. */
export const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
} as const;

export interface PageData {
  readonly ready: boolean;
  /**
   * The sources whose newest configuration cannot be used (portcullis_serving_last_good_config 1):
   * "manifests" while a file of the folder is broken, "pipeline" while a publish fails.
   */
  readonly newestUnusable: readonly string[];
  readonly generation: number;
  readonly statuses: readonly PolicyStatus[];
  /** The snapshot summary's route tables: Gateway → "port N" → host → entry lines. */
  readonly routes: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>>>;
  /** Decisions by reason code, since start. */
  readonly decisions: Readonly<Record<string, number>>;
  readonly denials: readonly DenialRecord[];
  /** The explain form's request and its decision, after a POST /explain. */
  readonly explained?: ({ readonly request: ExplainForm } & Explained) | { readonly request: ExplainForm; readonly error: string };
}

/** What the explain form posts. Header values are never rendered back: they may be credentials. */
export interface ExplainForm {
  readonly method: string;
  readonly url: string;
  /** Header names only, for the result line. */
  readonly headerNames: readonly string[];
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (value: unknown): string => String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const table = (id: string, head: readonly string[], rows: readonly (readonly unknown[])[], empty: string): string =>
  rows.length === 0
    ? `<p id="${id}" class="empty">${esc(empty)}</p>`
    : `<table id="${id}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
        .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`)
        .join("")}</tbody></table>`;

export function renderAdminPage(data: PageData): string {
  const policyRows = data.statuses.flatMap((s) =>
    s.ancestors.length === 0
      ? [[`${s.namespace}/${s.name}`, "(no ancestor)", "", "", ""]]
      : s.ancestors.map((a) => {
          const accepted = a.conditions.find((c) => c.type === "Accepted");
          const others = a.conditions
            .filter((c) => c.type !== "Accepted")
            .map((c) => `${c.type}=${c.status} (${c.reason})`)
            .join("; ");
          return [
            `${s.namespace}/${s.name}`,
            ancestorKey(a.ancestorRef),
            accepted ? `${accepted.status} (${accepted.reason})` : "",
            accepted?.message ?? "",
            others,
          ];
        }),
  );
  const routeRows = Object.entries(data.routes).flatMap(([gateway, ports]) =>
    Object.entries(ports).flatMap(([port, hosts]) =>
      Object.entries(hosts).flatMap(([host, entries]) => entries.map((entry) => [gateway, port.replace(/^port /, ""), host, entry])),
    ),
  );
  const decisionRows = Object.entries(data.decisions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, n]) => [code, n]);
  const denialRows = data.denials.map((d) => [
    new Date(d.at).toISOString(),
    d.protocol,
    `${d.method} ${d.host}${d.path}`,
    `${d.status} ${d.code}`,
    d.route ?? "",
    d.policy ?? "",
    d.reason,
  ]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portcullis</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.8rem}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}.empty{color:#666}.status{font-weight:600}
form{display:grid;grid-template-columns:8rem 1fr;gap:.4rem;max-width:48rem}textarea{height:5rem}
#explain-result{margin-top:.8rem;padding:.5rem;border:1px solid #999;background:#fafafa}
</style></head><body>
<h1>Portcullis</h1>
<p class="status" id="state">${data.ready ? "Ready" : "Not ready"}: snapshot generation ${esc(data.generation)}, ${esc(data.statuses.length)} SecurityPolicies.</p>
${data.newestUnusable.map((source) => `<p class="status" id="last-good-${esc(source)}">The newest configuration (${esc(source)}) cannot be used: ${data.generation === 0 ? "nothing is served yet" : "the last good one is served, not what you changed"}; the log says why (for a manifest folder, also <code>portcullis compile --manifests DIR</code>).</p>`).join("\n")}
<h2>SecurityPolicies</h2>
${table("policies", ["Policy", "Ancestor", "Accepted", "Message", "Other conditions"], policyRows, "No SecurityPolicy.")}
<h2>Routes</h2>
${table("routes", ["Gateway", "Port", "Host", "Match => rule: policy"], routeRows, "No route is served.")}
<h2>Decisions since start</h2>
${table("decisions", ["Reason code", "Count"], decisionRows, "No request checked yet.")}
<h2>Recent denials</h2>
${table("denials", ["Time", "Protocol", "Request", "Answer", "Route", "Policy", "Reason"], denialRows, "No denial yet.")}
<h2>Explain a request</h2>
<form method="post" action="/explain">
<label for="method">Method</label><input id="method" name="method" value="${esc(data.explained?.request.method ?? "GET")}">
<label for="url">URL</label><input id="url" name="url" placeholder="http://api.example.com/v1/models" value="${esc(data.explained?.request.url ?? "")}">
<label for="headers">Headers</label><textarea id="headers" name="headers" placeholder="X-API-Key: …"></textarea>
<span></span><button type="submit">Explain</button>
</form>
${data.explained === undefined ? "" : renderExplained(data.explained)}
</body></html>
`;
}

function renderExplained(e: NonNullable<PageData["explained"]>): string {
  const asked = `${e.request.method} ${e.request.url}${e.request.headerNames.length > 0 ? ` with ${e.request.headerNames.join(", ")}` : ""}`;
  if ("error" in e) return `<div id="explain-result"><p>${esc(asked)}</p><p>Not a request: ${esc(e.error)}</p></div>`;
  const d = e.decision;
  const rows: [string, unknown][] = [
    ["Answer", `${d.status} ${d.code}`],
    ["Route", d.route ?? "(none)"],
    ["Policy", d.policy ?? "(none)"],
    ["Identity", d.principal ?? ""],
    ["Reason", reasonOf(d)],
    ["Upstream headers set", Object.keys(d.upstreamHeaders).join(", ")],
    ["Headers removed", d.removeHeaders.join(", ")],
  ];
  // The trace, as check --explain prints it: route candidates, the policy's origin, each phase (never a credential).
  const trace = `<h3>Trace</h3><pre id="explain-trace">${esc(JSON.stringify(e.trace.steps, null, 2))}</pre>`;
  return `<div id="explain-result"><p>${esc(asked)}</p>${table("explain-decision", ["", ""], rows, "")}${trace}</div>`;
}

/**
 * Reads the explain form (`application/x-www-form-urlencoded`): method, an absolute URL, and
 * `Name: value` header lines. Returns what the form asked, and the request check() takes or why
 * it is not one.
 */
export function readExplainForm(body: string): { readonly form: ExplainForm; readonly request: Result<AuthzRequest, string> } {
  const fields = new URLSearchParams(body);
  const method = (fields.get("method") ?? "GET").trim().toUpperCase();
  const url = (fields.get("url") ?? "").trim();
  const headers: Record<string, string> = {};
  const problems: string[] = [];
  for (const line of (fields.get("headers") ?? "").split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) problems.push(`a header line without "Name:" (${line.slice(0, 20)}…)`);
    else headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const form: ExplainForm = { method, url, headerNames: Object.keys(headers) };
  // Split by hand, not with URL: it would resolve dot segments and escapes that check() must see as written.
  const parsed = /^(https?):\/\/([^/?#\s]+)(\/[^#\s]*)?$/i.exec(url);
  if (parsed === null) problems.push("the URL must be absolute, like http://api.example.com/v1/models");
  if (!/^[A-Z]+$/.test(method)) problems.push("the method must be a word such as GET");
  if (parsed === null || problems.length > 0) return { form, request: fail(problems.join("; ")) };
  const [, scheme, host, path] = parsed;
  return {
    form,
    request: ok({
      method,
      scheme: scheme!.toLowerCase(),
      host: host!,
      path: path ?? "/",
      headers: { host: host!, ...headers },
      gateway: undefined,
    }),
  };
}
