/** `portcullis compile`: prints every policy's status as the YAML the status writer would write. */
import { stringify } from "yaml";
import { SECURITY_POLICY_GROUP, SECURITY_POLICY_VERSION } from "../api/securitypolicy.ts";
import type { CompileConfig } from "../config.ts";
import { stampTransitions } from "../status/transitions.ts";
import { compileFolder } from "./load.ts";

export function runCompile(config: CompileConfig, out: (text: string) => void, warn: (line: string) => void, now: Date): number {
  const { statuses } = compileFolder(config.manifests, config.controllerName, config.gatewayClass, warn);
  const time = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  const docs = statuses.map((s) =>
    stringify(
      {
        apiVersion: `${SECURITY_POLICY_GROUP}/${SECURITY_POLICY_VERSION}`,
        kind: "SecurityPolicy",
        metadata: { namespace: s.namespace, name: s.name },
        status: { ancestors: stampTransitions(s.ancestors, [], time) },
      },
      { lineWidth: 0 },
    ),
  );
  out(docs.join("---\n"));
  return 0;
}
