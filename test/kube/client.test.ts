/** controller/kube/client.ts: a kubeconfig it cannot use, and API servers that cannot be reached: the error says which and why. */
import { KubeConfig } from "@kubernetes/client-node";
import { expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeClient } from "../../controller/kube/client.ts";
import { UnreadableInputError } from "../../controller/sources/unreadable.ts";
import { refusingPort } from "../support/ext-auth-services.ts";

/** A client for `server`, as a kubeconfig naming it would give. */
function clientFor(server: string): KubeClient {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return new KubeClient(config);
}

it("a refused connection names the request, the API server and the refusal (undici says only 'fetch failed')", async () => {
  const port = await refusingPort();
  await expect(clientFor(`https://127.0.0.1:${port}`).request("GET", "/api/v1/namespaces?limit=500")).rejects.toThrow(
    `GET /api/v1/namespaces: cannot reach the API server https://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
  );
});

it("a host that does not resolve names it", async () => {
  await expect(clientFor("https://api.cluster.invalid:6443").request("GET", "/api/v1/namespaces")).rejects.toThrow(
    /^GET \/api\/v1\/namespaces: cannot reach the API server https:\/\/api\.cluster\.invalid:6443: getaddrinfo \w+ api\.cluster\.invalid/,
  );
});

it("a server URL holding a user and password is named without them", async () => {
  const port = await refusingPort();
  const failure = clientFor(`https://admin:s3cret@127.0.0.1:${port}`).request("GET", "/api/v1/namespaces");
  await expect(failure).rejects.toThrow(`GET /api/v1/namespaces: cannot reach the API server https://127.0.0.1:${port}: `);
  await expect(failure).rejects.not.toThrow(/s3cret/);
});

/** A kubeconfig with one cluster, user and context, and `tail` after them. */
const kubeconfig = (tail: string) =>
  `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
${tail}`;

it("a kubeconfig naming no current cluster (no current-context) is refused at load, saying how to choose one", () => {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-kubeconfig-"));
  const file = join(dir, "config");
  try {
    writeFileSync(file, kubeconfig(""));
    expect(() => KubeClient.load(file)).toThrow(UnreadableInputError);
    expect(() => KubeClient.load(file)).toThrow(
      `cannot read the kubeconfig: ${file} is not valid (it names no current cluster: choose a context with kubectl --kubeconfig ${file} config use-context NAME)`,
    );
    writeFileSync(file, kubeconfig("current-context: x\n"));
    expect(KubeClient.load(file)).toBeInstanceOf(KubeClient);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
