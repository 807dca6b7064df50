import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { toResources } from "../../controller/api/resources.ts";
import { compile } from "../../controller/compile/index.ts";
import { FOLDER_KEEPS_NO_LABELS, labelSelectorLines } from "../../controller/compile/folder-labels.ts";
import { GATEWAY } from "../support/manifests.ts";

const SELECTING_POLICY = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: by-label, namespace: apps}
spec:
  targetSelectors: [{kind: HTTPRoute, matchLabels: {team: a}}]
  cors: {allowOrigins: ["https://a.example.com"]}
`;
const SELECTOR_LISTENER = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shared, namespace: infra}
spec:
  gatewayClassName: portcullis
  listeners: [{name: http, protocol: HTTP, port: 80, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {shared: "yes"}}}}}]
`;
const load = (...docs: string[]) => toResources(docs.map((d, i) => ({ object: parse(d), origin: `t.yaml#${i + 1}` }))).resources;

describe("label selectors in a manifest folder (Envoy Gateway v1.9.0's file provider keeps no labels)", () => {
  it("a policy's targetSelectors and a listener's from: Selector are each named, with why and what to use instead", () => {
    expect(labelSelectorLines(load(GATEWAY, SELECTING_POLICY, SELECTOR_LISTENER))).toEqual([
      `SecurityPolicy apps/by-label: its targetSelectors select nothing: ${FOLDER_KEEPS_NO_LABELS}; name its targets with targetRefs`,
      `Gateway infra/shared listener http: its allowedRoutes.namespaces.from: Selector takes routes of no namespace: ${FOLDER_KEEPS_NO_LABELS}; use from: All or Same`,
    ]);
  });
  it("a selector that holds for no labels selects everything there instead, as Envoy Gateway's Namespaces without labels do", () => {
    const everyRoute = SELECTING_POLICY.replace("matchLabels: {team: a}", "matchExpressions: [{key: team, operator: DoesNotExist}]");
    const everyNamespace = SELECTOR_LISTENER.replace('selector: {matchLabels: {shared: "yes"}}', "selector: {}");
    expect(labelSelectorLines(load(GATEWAY, everyRoute, everyNamespace))).toEqual([
      "SecurityPolicy apps/by-label: its targetSelectors select every HTTPRoute of the namespaces they look in: a manifest folder keeps no labels (as Envoy Gateway's file provider), and a selector that holds for an object without labels selects every one; name its targets with targetRefs",
      "Gateway infra/shared listener http: its allowedRoutes.namespaces.from: Selector takes routes of every namespace: a manifest folder keeps no labels (as Envoy Gateway's file provider), and its selector holds for a namespace without labels; use from: All or Same",
    ]);
  });
  it("targetRefs and listeners without a Selector give no line", () => {
    const byRef = SELECTING_POLICY.replace(
      "targetSelectors: [{kind: HTTPRoute, matchLabels: {team: a}}]",
      "targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]",
    );
    expect(labelSelectorLines(load(GATEWAY, byRef))).toEqual([]);
  });
  it("compile reports them as problems only for a manifest folder: from Kubernetes, labels are read and select", () => {
    const resources = load(GATEWAY, SELECTING_POLICY, SELECTOR_LISTENER);
    const options = { controllerName: "portcullis.example/controller", gatewayClasses: [] };
    expect(compile(resources, { ...options, fromManifestFolder: true }).problems).toEqual(labelSelectorLines(resources));
    expect(compile(resources, options).problems.join("\n")).not.toContain(FOLDER_KEEPS_NO_LABELS);
  });
});
