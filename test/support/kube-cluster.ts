/**
 * A real kube-apiserver 1.20.2 + etcd (test/kube/apiserver.ts), shared by the tests of one file, for
 * request tests of worlds only Kubernetes mode reads (a ListenerSet: the manifest folder refuses it,
 * as Envoy Gateway's file provider does not load it). It holds what a user's cluster holds: the CRDs
 * crds/ ships, the test Gateway API CRDs (test/kube/crds/), and deploy/base's RBAC bound to the
 * user Portcullis runs as. Without the binaries, `kubeCluster()` throws, naming how to build them.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { WATCHED } from "../../controller/sources/kube/source.ts";
import { startApiServer, type ApiServer } from "../kube/apiserver.ts";
import { Kube, type Obj } from "../kube/objects.ts";

const ROOT = join(import.meta.dirname, "../..");
/** The user Portcullis runs as, bound by deploy/base/rbac.yaml's bindings instead of its ServiceAccount. */
const PORTCULLIS_USER = "portcullis";
/** The namespace deploy/base installs into, where its Role allows the Lease. */
export const LEASE_NAMESPACE = "portcullis";

export interface KubeCluster {
  /** Admin access, for loading worlds. */
  readonly kube: Kube;
  /** A kubeconfig for PORTCULLIS_USER, holding only the shipped RBAC's rights. */
  readonly kubeconfig: string;
  /**
   * Creates `objects` (each with apiVersion, kind and metadata) in the cluster, their Namespaces
   * first (a Namespace the world states is applied as stated, others bare); resolves with a function
   * that removes them again (the stated Namespaces are reset bare: 1.20 without a controller manager
   * never finishes deleting one). Throws when an object's apiVersion is not one Portcullis watches
   * its kind at, since Portcullis would then not see it.
   */
  load(objects: readonly object[]): Promise<() => Promise<void>>;
}

let started: Promise<{ api: ApiServer; cluster: KubeCluster }> | undefined;

/** The file's cluster, started on first use (about 10 s) and kept until stopKubeCluster(). */
export async function kubeCluster(): Promise<KubeCluster> {
  return (await (started ??= startCluster())).cluster;
}

/** Stops the file's cluster, if one was started. */
export async function stopKubeCluster(): Promise<void> {
  const running = started;
  started = undefined;
  await (await running?.catch(() => undefined))?.api.stop();
}

async function startCluster(): Promise<{ api: ApiServer; cluster: KubeCluster }> {
  const api = await startApiServer({ users: [{ name: PORTCULLIS_USER }] });
  try {
    const kube = new Kube(api.kubeconfigPath);
    const shipped = readdirSync(join(ROOT, "crds")).map((f) => join(ROOT, "crds", f));
    await kube.installCrds(...shipped, join(ROOT, "test/kube/crds/gateway-api.yaml"));
    await kube.apply(bareNamespace(LEASE_NAMESPACE));
    await kube.applyShippedRbac(PORTCULLIS_USER);
    const cluster: KubeCluster = { kube, kubeconfig: api.kubeconfigFor(PORTCULLIS_USER), load: (objects) => load(kube, objects as Obj[]) };
    return { api, cluster };
  } catch (e) {
    await api.stop();
    throw e;
  }
}

const bareNamespace = (name: string): Obj => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });

async function load(kube: Kube, objects: readonly Obj[]): Promise<() => Promise<void>> {
  for (const o of objects) {
    const watched = WATCHED.find((w) => w.kind === o.kind);
    const versions = watched === undefined ? [] : [watched.apiVersion, ...("olderVersions" in watched ? watched.olderVersions : [])];
    if (!versions.includes(o.apiVersion as never))
      throw new Error(
        `${o.kind} ${o.metadata.name} is ${o.apiVersion}: Portcullis watches ${o.kind} at ${versions.join(", ") || "no version"}`,
      );
  }
  const stated = objects.filter((o) => o.kind === "Namespace");
  const others = objects.filter((o) => o.kind !== "Namespace");
  const implied = new Set(others.flatMap((o) => (o.metadata.namespace === undefined ? [] : [o.metadata.namespace])));
  for (const name of implied) if (!stated.some((n) => n.metadata.name === name)) await kube.apply(bareNamespace(name));
  const created: Obj[] = [];
  const remove = async () => {
    for (const o of created.reverse()) await kube.remove(o);
    for (const n of stated) await kube.apply(bareNamespace(n.metadata.name));
  };
  try {
    for (const n of stated) await kube.apply(n);
    for (const o of others) created.push(await kube.apply(o));
  } catch (e) {
    await remove();
    throw e;
  }
  return remove;
}
