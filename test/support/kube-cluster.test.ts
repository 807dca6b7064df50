/** The shared real API server of Kubernetes-mode request tests (kube-cluster.ts): worlds loaded, removed, refused. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Obj } from "../kube/objects.ts";
import { kubeCluster, stopKubeCluster } from "./kube-cluster.ts";

const namespace: Obj = { apiVersion: "v1", kind: "Namespace", metadata: { name: "world-a", labels: { team: "a" } } };
const gateway: Obj = {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "Gateway",
  metadata: { name: "gw", namespace: "world-a" },
  spec: { gatewayClassName: "c", listeners: [{ name: "http", port: 80, protocol: "HTTP" }] },
};
const listenerSet: Obj = {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "ListenerSet",
  metadata: { name: "ls", namespace: "world-b" },
  spec: { parentRef: { name: "gw", namespace: "world-a" }, listeners: [{ name: "extra", port: 81, protocol: "HTTP" }] },
};

// Started in a hook: its start (about 10 s) would eat a test's timeout.
beforeAll(kubeCluster);
afterAll(stopKubeCluster);

describe("kubeCluster", () => {
  it("creates a world's objects and their namespaces, and removing it leaves no object and its stated Namespaces unlabelled", async () => {
    const { kube, load } = await kubeCluster();
    const remove = await load([namespace, gateway, listenerSet]);
    expect((await kube.get(namespace))?.metadata.labels).toEqual({ team: "a" });
    expect((await kube.get(gateway))?.spec.listeners[0].name).toBe("http");
    // Served at the version Portcullis watches ListenerSet at.
    expect((await kube.get(listenerSet))?.apiVersion).toBe("gateway.networking.k8s.io/v1");
    await remove();
    expect(await kube.get(gateway)).toBeUndefined();
    expect(await kube.get(listenerSet)).toBeUndefined();
    expect((await kube.get(namespace))?.metadata.labels).toBeUndefined();
  });

  it("refuses an object at a version Portcullis does not watch its kind at, creating nothing", async () => {
    const { kube, load } = await kubeCluster();
    const older = { ...listenerSet, apiVersion: "gateway.networking.x-k8s.io/v1alpha1", metadata: { name: "older", namespace: "world-c" } };
    await expect(load([gateway, older])).rejects.toThrow(
      "ListenerSet older is gateway.networking.x-k8s.io/v1alpha1: Portcullis watches ListenerSet at gateway.networking.k8s.io/v1",
    );
    expect(await kube.get(gateway)).toBeUndefined();
  });
});
