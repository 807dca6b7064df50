/**
 * Label selectors in a manifest folder. Envoy Gateway v1.9.0's file provider keeps of each object's
 * metadata only its name and namespace (internal/gatewayapi/resource/load.go), and so does the
 * folder source (sources/manifests.ts): there a policy's `targetSelectors` and a listener's
 * `allowedRoutes.namespaces.from: Selector` select nothing. These lines say so, and why, where the
 * plain outcome (a policy that protects nothing, a route that does not attach) would not.
 */
import type { Resources } from "../api/resources.ts";
import { lenientTargets } from "./targets.ts";

/** Why a label selector selects nothing in a manifest folder, and what to write instead. */
export const FOLDER_KEEPS_NO_LABELS =
  "a manifest folder keeps no labels (as Envoy Gateway's file provider), so label selectors select nothing there";

/** Why a policy's targetSelectors select nothing in a manifest folder, and what to write instead. */
export const POLICY_SELECTORS_IN_FOLDER = `${FOLDER_KEEPS_NO_LABELS}; name its targets with targetRefs`;

/**
 * One line per policy with `targetSelectors` and per Gateway listener whose `allowedRoutes.namespaces.from`
 * is `Selector`, in the objects' order, each naming the object and what to use instead.
 */
export function labelSelectorLines(resources: Pick<Resources, "securityPolicies" | "gateways">): string[] {
  const lines: string[] = [];
  for (const p of resources.securityPolicies) {
    if ((lenientTargets(p.spec)?.targetSelectors.length ?? 0) > 0)
      lines.push(
        `SecurityPolicy ${p.metadata.namespace}/${p.metadata.name}: its targetSelectors select nothing: ${POLICY_SELECTORS_IN_FOLDER}`,
      );
  }
  for (const g of resources.gateways)
    for (const l of g.spec.listeners)
      if (l.allowedRoutes?.namespaces?.from === "Selector")
        lines.push(
          `Gateway ${g.metadata.namespace}/${g.metadata.name} listener ${l.name}: its allowedRoutes.namespaces.from: Selector takes routes of no other namespace: ${FOLDER_KEEPS_NO_LABELS}; use from: All or Same`,
        );
  return lines;
}
