/** The policy status changes of each publish, as log lines: standalone mode's only status output, and Kubernetes mode's record beside the API. */
import type { Logger } from "pino";
import { ancestorKey, type PolicyStatus } from "../api/status.ts";
import type { Published } from "./pipeline.ts";

/** Logs every ancestor condition that differs from the previous snapshot's. */
export function logStatusChanges(logger: Logger, published: Published, previous: Published | undefined): void {
  const before = new Map((previous?.statuses ?? []).map((s) => [`${s.namespace}/${s.name}`, s]));
  for (const status of published.statuses) {
    const old = before.get(`${status.namespace}/${status.name}`);
    for (const line of conditionLines(status)) {
      if (!conditionLines(old).includes(line)) logger.info({ status: JSON.parse(line) }, "policy status");
    }
  }
}

function conditionLines(status: PolicyStatus | undefined): string[] {
  return (status?.ancestors ?? []).flatMap((a) =>
    a.conditions.map((c) =>
      JSON.stringify({
        policy: `${status!.namespace}/${status!.name}`,
        ancestor: ancestorKey(a.ancestorRef),
        type: c.type,
        status: c.status,
        reason: c.reason,
        message: c.message,
      }),
    ),
  );
}
