/**
 * How a case's SecurityPolicy statuses are checked against the facts Envoy Gateway's data states:
 * as compile() gives them (compareStatus), and, for a world served in Kubernetes mode, as the
 * status writer left them on the API server (compareWrittenStatus). Both compare each ancestor's
 * conditions by type, status and reason exactly; the written one also compares the whole
 * ancestorRef (as EG's e2e test does, cmp.Equal), the controllerName, observedGeneration, and each
 * message: in EG's words where Portcullis promises them (PROMISED_MESSAGES), otherwise not empty.
 */
import type { CompileResult } from "../../controller/compile/index.ts";
import type { Kube } from "../kube/objects.ts";

/**
 * The controllerName of Envoy Gateway's golden data and e2e suite. The worlds run Portcullis with
 * it (--controller-name), so the entries it writes can be compared with EG's as they are.
 */
export const EG_CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller";

export interface ConditionExpectation {
  readonly status: string;
  readonly reason: string;
}

/** Policy "namespace/name" → its ancestors ("Kind ns/name [section]") and their conditions by type. */
export type CaseStatuses = Readonly<
  Record<string, readonly { readonly ancestor: string; readonly conditions: Readonly<Record<string, ConditionExpectation>> }[]>
>;

/** Which conditions an item compares: the `Warning` ones have items of their own (pending.yaml can name them apart). */
export type ConditionTypes = (type: string) => boolean;

/**
 * A condition's message in Envoy Gateway's words, by "type status reason", where README promises
 * the same words (EG v1.9.0 internal/gatewayapi/status/policy.go, SetAcceptedForPolicyAncestor).
 */
const PROMISED_MESSAGES: Readonly<Record<string, string>> = { "Accepted True Accepted": "Policy has been accepted." };

/** Every ancestor EG's golden data and e2e tests name is of a Gateway API kind (Gateway, ListenerSet), its group written out. */
const ANCESTOR_GROUP = "gateway.networking.k8s.io";

/** How long the status writer may take to write a world's statuses (it writes once elected, after the first snapshot). */
const WRITE_WAIT_MS = 20_000;

export function compareStatus(result: CompileResult, policy: string, expected: CaseStatuses[string], types: ConditionTypes): void {
  const [namespace, name] = policy.split("/") as [string, string];
  const actual = result.statuses.find((s) => s.namespace === namespace && s.name === name)?.ancestors ?? [];
  const mine = actual.map((a) => ({
    ancestor: `${a.ancestorRef.kind} ${a.ancestorRef.namespace}/${a.ancestorRef.name}${a.ancestorRef.sectionName === undefined ? "" : ` ${a.ancestorRef.sectionName}`}`,
    conditions: Object.fromEntries(a.conditions.map((c) => [c.type, { status: c.status, reason: c.reason }])),
  }));
  assertEqual(byAncestor(mine, types), byAncestor(expected, types), `conditions of ${policy} by ancestor`);
}

function byAncestor(ancestors: CaseStatuses[string], types: ConditionTypes): Record<string, Record<string, string>> {
  return Object.fromEntries(
    ancestors
      .map(
        (a) =>
          [
            a.ancestor,
            Object.fromEntries(
              Object.entries(a.conditions)
                .filter(([type]) => types(type))
                .map(([type, c]) => [type, `${c.status} ${c.reason}`])
                .sort(),
            ),
          ] as const,
      )
      .sort(([x], [y]) => x.localeCompare(y)),
  );
}

/** A status entry as the API server holds it: the fields are the CRD's, each possibly absent or mistyped. */
interface WrittenAncestor {
  readonly ancestorRef?: Record<string, unknown>;
  readonly controllerName?: unknown;
  readonly conditions?: readonly {
    readonly type?: unknown;
    readonly status?: unknown;
    readonly reason?: unknown;
    readonly message?: unknown;
    readonly observedGeneration?: unknown;
    readonly lastTransitionTime?: unknown;
  }[];
}

/**
 * Reads SecurityPolicy `policy` ("namespace/name") from the API server until its status is what
 * Envoy Gateway's data states (`expected`, for the condition types `types`), and throws with both
 * when it is not within WRITE_WAIT_MS. Each ancestor is rendered by its whole ancestorRef, with its
 * controllerName and each condition's "status reason", followed by what is wrong with the rest of
 * the condition, if anything (its message, observedGeneration, lastTransitionTime).
 */
export async function compareWrittenStatus(
  kube: Kube,
  policy: string,
  expected: CaseStatuses[string],
  types: ConditionTypes,
): Promise<void> {
  const [namespace, name] = policy.split("/") as [string, string];
  const wanted = Object.fromEntries(
    Object.entries(byAncestor(expected, types))
      .map(([ancestor, conditions]) => [canonical(ancestorRefOf(ancestor)), { controllerName: EG_CONTROLLER_NAME, conditions }] as const)
      .sort(([x], [y]) => x.localeCompare(y)),
  );
  const deadline = Date.now() + WRITE_WAIT_MS;
  for (;;) {
    const object = await kube.get({ apiVersion: "gateway.envoyproxy.io/v1alpha1", kind: "SecurityPolicy", metadata: { namespace, name } });
    const generation = object?.metadata.generation;
    const written = ((object?.status as { ancestors?: WrittenAncestor[] } | undefined)?.ancestors ?? []).map((a) =>
      renderWritten(a, generation, types),
    );
    const actual = Object.fromEntries(written.sort(([x], [y]) => x.localeCompare(y)));
    if (Date.now() > deadline || JSON.stringify(actual) === JSON.stringify(wanted)) {
      assertEqual(actual, wanted, `status of ${policy} on the API server, by ancestorRef`);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The ancestorRef EG writes for "Kind ns/name [section]". */
function ancestorRefOf(ancestor: string): Record<string, string> {
  const [kind, id, sectionName] = ancestor.split(" ") as [string, string, string | undefined];
  const [namespace, name] = id.split("/") as [string, string];
  return { group: ANCESTOR_GROUP, kind, namespace, name, ...(sectionName === undefined ? {} : { sectionName }) };
}

function renderWritten(
  a: WrittenAncestor,
  generation: number | undefined,
  types: ConditionTypes,
): [string, { controllerName: unknown; conditions: Record<string, string> }] {
  const conditions = (a.conditions ?? [])
    .filter((c) => types(String(c.type)))
    .map((c) => {
      const said = `${String(c.status)} ${String(c.reason)}`;
      const promised = PROMISED_MESSAGES[`${String(c.type)} ${said}`];
      const wrong = [
        typeof c.message !== "string" || c.message === ""
          ? "no message"
          : promised !== undefined && c.message !== promised
            ? `message ${JSON.stringify(c.message)}, where Envoy Gateway says ${JSON.stringify(promised)}`
            : undefined,
        c.observedGeneration === generation ? undefined : `observedGeneration ${String(c.observedGeneration)} of generation ${generation}`,
        typeof c.lastTransitionTime === "string" && !Number.isNaN(Date.parse(c.lastTransitionTime)) ? undefined : "no lastTransitionTime",
      ].filter((w) => w !== undefined);
      return [String(c.type), wrong.length === 0 ? said : `${said} (${wrong.join("; ")})`] as const;
    });
  // Keyed by type, as EG's conditions are (and the CRD's list-map): a type written twice shows as two keys.
  const byType: Record<string, string> = {};
  for (const [type, rendered] of conditions.sort(([x], [y]) => x.localeCompare(y)))
    byType[type in byType ? `${type} (again)` : type] = rendered;
  return [canonical(a.ancestorRef ?? {}), { controllerName: a.controllerName, conditions: byType }];
}

/** JSON with sorted keys, so an ancestorRef reads the same whichever order its fields were written in. */
function canonical(value: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(value).sort(([x], [y]) => x.localeCompare(y))));
}

export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual, null, 1);
  const e = JSON.stringify(expected, null, 1);
  if (a !== e) throw new Error(`${what}:\n  Envoy Gateway: ${e}\n  Portcullis:    ${a}`);
}
