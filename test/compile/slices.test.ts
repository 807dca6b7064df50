/** compileInSlices: the same result as compile(), with the event loop served while it runs; referencesInSlices: compile's references. */
import { describe, expect, it } from "vitest";
import { compile, compileInSlices, referencesInSlices } from "../../controller/compile/index.ts";
import { GATEWAY } from "../support/manifests.ts";
import { resourcesOf } from "../support/world.ts";

/** `tenants` routes on hosts of their own, each with an API-key policy; every tenth policy names a missing Secret. */
function world(tenants: number) {
  const docs = [GATEWAY, "apiVersion: v1\nkind: Secret\nmetadata: {name: keys, namespace: apps}\nstringData: {alice: alice-key}\n"];
  for (let i = 0; i < tenants; i++) {
    docs.push(
      `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r${i}, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: [t${i}.example.com], rules: [{matches: [{path: {type: PathPrefix, value: /v1}}]}, {matches: [{path: {type: Exact, value: /healthz}}]}]}
`,
      `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: p${i}, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r${i}}]
  apiKeyAuth: {credentialRefs: [{name: ${i % 10 === 0 ? "missing" : "keys"}}], extractFrom: [{headers: [X-API-Key]}]}
`,
    );
  }
  return resourcesOf(docs.join("---\n"));
}

const OPTIONS = { controllerName: "portcullis.io/controller", gatewayClasses: [] };

describe("compileInSlices", () => {
  it("compiles exactly what compile() compiles, frozen the same way", async () => {
    const resources = world(300);
    const sliced = await compileInSlices(resources, OPTIONS, 0);
    expect(sliced).toEqual(compile(resources, OPTIONS));
    expect(sliced.statuses).toHaveLength(300);
    expect(Object.isFrozen(sliced.snapshot.routes.byGateway["apps/gw"]![0]!.vhosts.exact["t7.example.com"]![0])).toBe(true);
    expect(Object.isFrozen(sliced.statuses[0]!.ancestors[0]!.conditions)).toBe(true);
  });
  it("lets other work run between its slices; compile() does not", async () => {
    const resources = world(300);
    const turnsDuring = async (run: () => unknown) => {
      let turns = 0;
      let running = true;
      const turn = () => {
        turns++;
        if (running) setImmediate(turn);
      };
      setImmediate(turn);
      await run();
      running = false;
      return turns;
    };
    expect(await turnsDuring(() => compile(resources, OPTIONS))).toBe(0);
    expect(await turnsDuring(() => compileInSlices(resources, OPTIONS, 0))).toBeGreaterThan(10);
  });
});

describe("referencesInSlices", () => {
  // The Kubernetes source lists what this names before the first compile: what compile would ask for next, found or not.
  it("names what compile() references, Secrets that exist and ones that do not, with the referenced objects absent", async () => {
    const resources = world(30);
    const expected = compile(resources, OPTIONS).references;
    expect(expected.secrets).toEqual(["apps/keys", "apps/missing"]);
    expect(await referencesInSlices(resources, OPTIONS, 0)).toEqual(expected);
    expect(await referencesInSlices({ ...resources, secrets: [] }, OPTIONS, 0)).toEqual(expected);
  });
});
