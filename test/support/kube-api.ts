/**
 * A stand-in for the Kubernetes API server that hands fixed objects to Portcullis' Kubernetes mode,
 * for wire tests of worlds only that mode reads (a ListenerSet: the manifest folder refuses it, as
 * Envoy Gateway's file provider does not load it). Not a model of the API server's rules: every
 * collection is listed by its plural at whatever version is asked, watches stay open and quiet, and
 * writes (the Lease, statuses, Events) are taken and echoed back.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";

interface Stored {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}

/** The plural a kind's collection is served under ("SecurityPolicy" → "securitypolicies", "Gateway" → "gateways"). */
const pluralOf = (kind: string): string => {
  const lower = kind.toLowerCase();
  return /[^aeiou]y$/.test(lower) ? `${lower.slice(0, -1)}ies` : lower.endsWith("s") ? `${lower}es` : `${lower}s`;
};

/** What a path names: a collection (in a namespace or across them), or one object of it. */
function parsePath(pathname: string): { plural: string; namespace?: string; name?: string } | undefined {
  const parts = pathname.split("/").filter((p) => p !== "");
  const rest = parts[0] === "api" ? parts.slice(2) : parts[0] === "apis" ? parts.slice(3) : undefined;
  if (rest === undefined || rest.length === 0) return undefined;
  // "namespaces/<ns>/<plural>[/<name>[/status]]"; "namespaces" and "namespaces/<name>" are the Namespaces themselves.
  if (rest[0] === "namespaces" && rest.length >= 3) return { namespace: rest[1]!, plural: rest[2]!, ...(rest[3] ? { name: rest[3] } : {}) };
  return { plural: rest[0]!, ...(rest[1] ? { name: rest[1] } : {}) };
}

const send = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));

/**
 * Serves `objects` (each with kind and metadata) on 127.0.0.1; `kubeconfig` is a file pointing
 * there. `close()` ends open watches, the server and the file.
 */
export async function serveKubeApi(objects: readonly object[]): Promise<{ readonly kubeconfig: string; close(): Promise<void> }> {
  const stored = objects as readonly Stored[];
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://kube");
    const target = parsePath(url.pathname);
    if (req.method !== "GET") {
      // Lease, status and Event writes: taken as sent.
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => send(res, req.method === "POST" ? 201 : 200, body === "" ? {} : JSON.parse(body)));
      return;
    }
    if (url.searchParams.get("watch") === "true") {
      res.writeHead(200, { "content-type": "application/json" });
      open.add(res);
      res.on("close", () => open.delete(res));
      return;
    }
    const matching = stored.filter(
      (o) =>
        target !== undefined &&
        pluralOf(o.kind) === target.plural &&
        (target.namespace === undefined || o.metadata.namespace === target.namespace),
    );
    if (target?.name === undefined) {
      send(res, 200, { kind: "List", metadata: { resourceVersion: "1" }, items: matching });
      return;
    }
    const found = matching.find((o) => o.metadata.name === target.name);
    if (found === undefined) send(res, 404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 });
    else send(res, 200, found);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const dir = mkdtempSync(join(tmpdir(), "portcullis-kube-api-"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      // client-node speaks plain HTTP only with insecure-skip-tls-verify set.
      clusters: [
        { name: "c", cluster: { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, "insecure-skip-tls-verify": true } },
      ],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  );
  return {
    kubeconfig,
    async close() {
      for (const res of open) res.destroy();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
