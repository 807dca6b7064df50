/**
 * Envoy Gateway's own SecurityPolicy CRD (release ENVOY_GATEWAY_RELEASE) as a kube-apiserver 1.20
 * stores it: the schema's structure (field names, types, enums, required, defaults, bounds) with
 * its prose (`description`) and CEL rules (`x-kubernetes-validations`, which 1.20 drops on create)
 * left out. testdata/ holds that derivation, made by `node test/kube/envoy-gateway-crd.ts <git
 * clone of envoyproxy/gateway>` from the release's file, whose SHA-256 it checks; the tests read
 * the derived file and need no clone.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";

export const ENVOY_GATEWAY_RELEASE = "v1.9.0";
const CRD_PATH = "charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_securitypolicies.yaml";
/** SHA-256 of CRD_PATH at ENVOY_GATEWAY_RELEASE. */
const CRD_SHA256 = "6412914ec5b7c48f58b85f60a80767ba15a50c8d374480cf5f2d872e4a764466";
const DERIVED = join(import.meta.dirname, "testdata", `envoy-gateway-${ENVOY_GATEWAY_RELEASE}-securitypolicy-crd.yaml`);
/** Keys left out of every schema node: prose, and CEL rules that kube-apiserver 1.20 does not keep. */
const LEFT_OUT = new Set(["description", "x-kubernetes-validations"]);

/** The derived CRD's YAML text (see the module comment). */
export function envoyGatewaySecurityPolicyCrd(): string {
  return readFileSync(DERIVED, "utf8");
}

function withoutProse(node: unknown, underProperties = false): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutProse(n));
  if (node === null || typeof node !== "object") return node;
  // Under `properties` the keys are field names (a field may be called "description").
  const entries = Object.entries(node).filter(([k]) => underProperties || !LEFT_OUT.has(k));
  return Object.fromEntries(entries.map(([k, v]) => [k, withoutProse(v, !underProperties && k === "properties")]));
}

/** Writes DERIVED from a git clone of envoyproxy/gateway; throws when the release's file is missing or differs. */
function derive(git: string): void {
  const text = execFileSync("git", ["-C", git, "show", `${ENVOY_GATEWAY_RELEASE}:${CRD_PATH}`], { encoding: "utf8", maxBuffer: 16 << 20 });
  const digest = createHash("sha256").update(text).digest("hex");
  if (digest !== CRD_SHA256) throw new Error(`${CRD_PATH} at ${ENVOY_GATEWAY_RELEASE} has SHA-256 ${digest}, not ${CRD_SHA256}`);
  const header = `# Derived from envoyproxy/gateway ${ENVOY_GATEWAY_RELEASE} ${CRD_PATH} (SHA-256 ${CRD_SHA256}, Apache-2.0)\n# by test/kube/envoy-gateway-crd.ts: the schema without description and x-kubernetes-validations.\n`;
  writeFileSync(DERIVED, header + stringify(withoutProse(parse(text)), { lineWidth: 0 }));
}

if (import.meta.main) {
  const git = process.argv[2];
  if (!git) throw new Error("usage: node test/kube/envoy-gateway-crd.ts <git clone of https://github.com/envoyproxy/gateway>");
  derive(git);
}
