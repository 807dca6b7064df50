/**
 * Label selectors in a manifest folder. Envoy Gateway v1.9.0's file provider keeps of each object's
 * metadata only its name and namespace (internal/gatewayapi/resource/load.go), and so does the
 * folder source (sources/manifests.ts): there a policy's `targetSelectors` and a listener's
 * `allowedRoutes.namespaces.from: Selector` select nothing, or everything when they hold for no
 * labels. These lines say so, and why, where the plain outcome (a policy that protects nothing or
 * everything, a route that does or does not attach) would not.
 */
import { selectorMatches } from "../api/meta.ts";
import type { Resources } from "../api/resources.ts";
import { lenientTargets } from "./targets.ts";

const FOLDER_HAS_NO_LABELS = "a manifest folder keeps no labels (as Envoy Gateway's file provider)";

/** Why a label selector selects nothing in a manifest folder, and what to write instead. */
export const FOLDER_KEEPS_NO_LABELS = `${FOLDER_HAS_NO_LABELS}, so label selectors select nothing there`;

/** Why a policy's targetSelectors select nothing in a manifest folder, and what to write instead. */
export const POLICY_SELECTORS_IN_FOLDER = `${FOLDER_KEEPS_NO_LABELS}; name its targets with targetRefs`;

/**
 * One line per policy with `targetSelectors` and per Gateway listener whose `allowedRoutes.namespaces.from`
 * is `Selector`, in the objects' order, each naming the object and what to use instead. A selector
 * that holds for no labels (`{}`, only `DoesNotExist` or `NotIn`) selects every object (or every
 * namespace) there instead, as in Envoy Gateway, which makes a Namespace without labels for the
 * namespace of each object it loads: that is said too.
 */
export function labelSelectorLines(resources: Pick<Resources, "securityPolicies" | "gateways">): string[] {
  const lines: string[] = [];
  for (const p of resources.securityPolicies) {
    const selectors = lenientTargets(p.spec)?.targetSelectors ?? [];
    if (selectors.length === 0) continue;
    const everything = selectors.filter((s) => selectorMatches(s, undefined)).map((s) => s.kind);
    lines.push(
      everything.length === 0
        ? `SecurityPolicy ${p.metadata.namespace}/${p.metadata.name}: its targetSelectors select nothing: ${POLICY_SELECTORS_IN_FOLDER}`
        : `SecurityPolicy ${p.metadata.namespace}/${p.metadata.name}: its targetSelectors select every ${[...new Set(everything)].join(" and every ")} of the namespaces they look in: ${FOLDER_HAS_NO_LABELS}, and a selector that holds for an object without labels selects every one; name its targets with targetRefs`,
    );
  }
  for (const g of resources.gateways)
    for (const l of g.spec.listeners) {
      const namespaces = l.allowedRoutes?.namespaces;
      if (namespaces?.from !== "Selector") continue;
      const every = namespaces.selector !== undefined && selectorMatches(namespaces.selector, undefined);
      lines.push(
        `Gateway ${g.metadata.namespace}/${g.metadata.name} listener ${l.name}: its allowedRoutes.namespaces.from: Selector takes routes of ${
          every
            ? `every namespace: ${FOLDER_HAS_NO_LABELS}, and its selector holds for a namespace without labels`
            : `no namespace: ${FOLDER_KEEPS_NO_LABELS}`
        }; use from: All or Same`,
      );
    }
  return lines;
}
