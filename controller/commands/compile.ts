/** `portcullis compile`: prints every policy's status as the YAML the status writer would write; gates CI. */
import { stringify } from "yaml";
import { SECURITY_POLICY_GROUP, SECURITY_POLICY_VERSION } from "../api/securitypolicy.ts";
import { ancestorKey, type PolicyStatus } from "../api/status.ts";
import type { CompileConfig } from "../config.ts";
import { stampTransitions } from "../status/transitions.ts";
import { compileOptionsOf } from "../runtime/compile-options.ts";
import { POLICY_SELECTORS_IN_FOLDER } from "../compile/folder-labels.ts";
import { lenientTargets } from "../compile/targets.ts";
import { compileFolder, folderWarnings } from "./load.ts";

/**
 * Returns the exit code: 0 when every file parses, every object is valid and every policy is
 * Accepted wherever it applies; 1 otherwise, with one `error:` line per problem on `report`. A copy
 * of an object alike to one read earlier is only a `warning:` line, as serve reads it once, and so
 * is a folder without any SecurityPolicy.
 * A policy that applies nowhere (no ancestor) is not Accepted either: it protects nothing (with
 * targetSelectors, the line says a folder keeps no labels).
 * Throws UnreadableInputError when the folder cannot be read.
 */
export function runCompile(config: CompileConfig, out: (text: string) => void, report: (line: string) => void, now: Date): number {
  const folder = compileFolder(
    config.manifests,
    compileOptionsOf(config, (line) => {
      if (!line.ok) report(`warning: ${line.message}`);
    }),
  );
  const time = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  const docs = folder.statuses.map((s) =>
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
  const selecting = new Set(
    folder.resources.securityPolicies
      .filter((p) => (lenientTargets(p.spec)?.targetSelectors.length ?? 0) > 0)
      .map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
  );
  const notAccepted = folder.statuses
    .map((s) => notAcceptedLines(s, selecting.has(`${s.namespace}/${s.name}`)))
    .filter((lines) => lines.length > 0);
  const errors = [...folder.brokenFiles, ...notAccepted.flat()];
  for (const line of errors) report(`error: ${line}`);
  for (const line of folderWarnings(folder, "warnings")) report(`warning: ${line}`);
  // Exit 0 alone would pass a CI gate pointed at the wrong (or an empty) folder.
  if (folder.brokenFiles.length === 0 && folder.resources.securityPolicies.length === 0)
    report(`warning: ${config.manifests} holds no SecurityPolicy: no request is checked against a policy (is it the right folder?)`);
  if (errors.length > 0) {
    const counts = [
      [
        folder.brokenFiles.length,
        "manifest folder error (a file not parsed or holding an invalid object, or an entry Envoy Gateway would not read)",
        "manifest folder errors (files not parsed or holding invalid objects, or entries Envoy Gateway would not read)",
      ],
      [notAccepted.length, "policy is not Accepted", "policies are not Accepted"],
    ] as const;
    report(
      `compile failed: ${counts
        .filter(([n]) => n > 0)
        .map(([n, one, many]) => `${n} ${n === 1 ? one : many}`)
        .join(", ")}`,
    );
  }
  return errors.length === 0 ? 0 : 1;
}

/** `selects`: the policy has targetSelectors, which select nothing in a folder (the likely reason it applies nowhere). */
function notAcceptedLines(status: PolicyStatus, selects: boolean): string[] {
  const policy = `SecurityPolicy ${status.namespace}/${status.name}`;
  if (status.ancestors.length === 0)
    return [
      `${policy} applies to no Gateway or route that Portcullis serves, so it protects nothing${selects ? `: ${POLICY_SELECTORS_IN_FOLDER}` : ""}`,
    ];
  return status.ancestors.flatMap((a) => {
    const accepted = a.conditions.find((c) => c.type === "Accepted");
    return accepted?.status === "True"
      ? []
      : [
          `${policy} is not Accepted for ${ancestorKey(a.ancestorRef)}: ${accepted === undefined ? "no Accepted condition" : `${accepted.reason}: ${accepted.message}`}`,
        ];
  });
}
