/** kubectl-like apply/delete/get over the raw client, for integration tests (run as admin). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { KubeApiError, KubeClient, type KubeObject } from "../../controller/kube/client.ts";

export type Obj = KubeObject & { spec?: any; status?: any; data?: any; stringData?: any };

const PLURALS: Record<string, string> = {
  SecurityPolicy: "securitypolicies",
  HTTPRoute: "httproutes",
  GRPCRoute: "grpcroutes",
  Gateway: "gateways",
  GatewayClass: "gatewayclasses",
  ReferenceGrant: "referencegrants",
  ListenerSet: "listenersets",
  BackendTLSPolicy: "backendtlspolicies",
  Backend: "backends",
  ClientTrafficPolicy: "clienttrafficpolicies",
  Secret: "secrets",
  ConfigMap: "configmaps",
  Namespace: "namespaces",
  CustomResourceDefinition: "customresourcedefinitions",
  ClusterRole: "clusterroles",
  ClusterRoleBinding: "clusterrolebindings",
  Role: "roles",
  RoleBinding: "rolebindings",
  Lease: "leases",
  Event: "events",
  ServiceAccount: "serviceaccounts",
  Service: "services",
};
const CLUSTER_SCOPED = new Set(["GatewayClass", "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"]);

export function pathOf(o: { apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string } }, withName = true): string {
  const base = o.apiVersion!.includes("/") ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = CLUSTER_SCOPED.has(o.kind!) ? "" : `/namespaces/${o.metadata.namespace ?? "default"}`;
  return `${base}${ns}/${PLURALS[o.kind!]}${withName ? `/${o.metadata.name}` : ""}`;
}

export function readManifests(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS() as Obj)
    .filter((o) => o !== null);
}

export class Kube {
  readonly client: KubeClient;
  constructor(kubeconfigPath: string) {
    this.client = KubeClient.load(kubeconfigPath);
  }

  /** Create, or replace keeping the current resourceVersion (and status). */
  async apply(o: Obj): Promise<Obj> {
    try {
      return await this.client.request<Obj>("POST", pathOf(o, false), o);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 409)) throw err;
      const current = await this.get(o);
      return this.client.request<Obj>("PUT", pathOf(o), {
        ...o,
        metadata: { ...o.metadata, resourceVersion: current!.metadata.resourceVersion },
      });
    }
  }

  /** Creates `objects` (their namespaces first) with `inFlight` requests at a time, as a bulk `kubectl apply -f` would. */
  async createAll(objects: readonly Obj[], inFlight = 8): Promise<void> {
    const namespaces = new Set(objects.flatMap((o) => (o.metadata.namespace === undefined ? [] : [o.metadata.namespace])));
    for (const ns of namespaces) await this.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    let next = 0;
    const worker = async () => {
      while (next < objects.length) {
        const o = objects[next++]!;
        await this.client.request("POST", pathOf(o, false), o);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  }

  async get(o: Obj): Promise<Obj | undefined> {
    try {
      return await this.client.request<Obj>("GET", pathOf(o));
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async remove(o: Obj): Promise<void> {
    await this.client.request("DELETE", pathOf(o)).catch((err) => {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    });
  }

  async list(o: Obj): Promise<Obj[]> {
    return (await this.client.request<{ items: Obj[] }>("GET", pathOf(o, false))).items;
  }

  /** Applies deploy/base/rbac.yaml with its bindings' subjects replaced by `user`, the static-token user Portcullis runs as instead of its ServiceAccount. */
  async applyShippedRbac(user: string): Promise<void> {
    for (const o of readManifests(join(import.meta.dirname, "../../deploy/base/rbac.yaml")))
      await this.apply("subjects" in o ? { ...o, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }] } : o);
  }

  /** Installs the CRDs of `files` and waits until each is Established. */
  installCrds(...files: string[]): Promise<void> {
    return this.installCrdObjects(...files.flatMap(readManifests));
  }

  /** Installs `crds` and waits until each is Established. */
  async installCrdObjects(...crds: Obj[]): Promise<void> {
    for (const crd of crds) await this.apply(crd);
    for (const crd of crds) {
      for (let i = 0; ; i++) {
        const got = await this.get(crd);
        if (got?.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Established" && c.status === "True")) break;
        if (i > 100) throw new Error(`CRD ${crd.metadata.name} not Established`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

/** Polls until `probe` returns a value that is not undefined; fails after `timeoutMs`. */
export async function until<T>(timeoutMs: number, probe: () => Promise<T | undefined>, what = "condition"): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
