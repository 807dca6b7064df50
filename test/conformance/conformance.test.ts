/**
 * The conformance suite: every item of every case in ./translator, ./requests and ./docs is a test. An
 * item named in ./pending.yaml with an issue runs too and must still differ from Envoy Gateway: the
 * day that issue makes it pass, the test fails and says to remove the entry, so the list never goes
 * stale and nothing is skipped (CONFORMANCE_RUN_PENDING=1 runs them as plain tests instead).
 * Facts come from Envoy Gateway's own test data (see ./cases.ts); a failure prints what EG does
 * beside what Portcullis does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopKubeCluster } from "../support/kube-cluster.ts";
import {
  loadCases,
  loadPending,
  pendingEntryFor,
  requestItems,
  translatorItems,
  withCrdFieldNames,
  type CaseItems,
  type PendingEntry,
  type RequestCase,
  type TranslatorCase,
} from "./cases.ts";

const pending = loadPending();
/** The suffix of a translator case written with the CRD's field names where EG's input is not (cases.ts withCrdFieldNames). */
const CRD_FIELD_NAMES = "(CRD field names)";
/** CONFORMANCE_RUN_PENDING=1 runs the pending items too, to find those that pass now and can leave pending.yaml. */
const RUN_PENDING = process.env.CONFORMANCE_RUN_PENDING === "1";
const used = new Set<PendingEntry>();

function register(caseName: string, { items, setUp, close }: CaseItems): void {
  describe(caseName, () => {
    if (setUp !== undefined) beforeAll(setUp);
    if (close !== undefined) afterAll(close);
    for (const item of items) {
      const entry = pendingEntryFor(pending, caseName, item.base ?? item.name);
      if (entry !== undefined) used.add(entry);
      if (entry === undefined) {
        it(item.name, item.run);
      } else if ("issue" in entry) {
        if (RUN_PENDING) it(`${item.name} (pending, issue ${entry.issue})`, item.run);
        else {
          it(`${item.name} still differs until issue ${entry.issue} (${entry.reason})`, async () => {
            const outcome = await item.run().then(
              () => "passes",
              (e: unknown) => e,
            );
            if (outcome === "passes")
              throw new Error(`passes now: remove its entry (issue ${entry.issue}) from test/conformance/pending.yaml`);
          });
        }
      } else {
        const why =
          "deliberate" in entry
            ? `differs deliberately (README: ${entry.deliberate})`
            : `differs from EG's test input only (EG in a cluster: ${entry.productionEG})`;
        it(`${item.name} ${why}`, async () => {
          await expect(item.run()).rejects.toThrow(entry.differs);
        });
      }
    }
  });
}

const translator = loadCases<TranslatorCase>("translator");
const requests = loadCases<RequestCase>("requests");
const docs = loadCases<RequestCase>("docs");
for (const c of translator) {
  register(c.name, translatorItems(c.value));
  const spelt = withCrdFieldNames(c.value);
  if (spelt !== undefined) register(`${c.name} ${CRD_FIELD_NAMES}`, translatorItems(spelt));
}
for (const c of [...requests, ...docs.map((d) => ({ ...d, name: `docs/${d.name}` }))]) register(c.name, requestItems(c.value));
// The API server of the worlds served in Kubernetes mode (those holding a ListenerSet), one for the whole file.
afterAll(stopKubeCluster);

describe("the corpus", () => {
  it("holds every SecurityPolicy case of Envoy Gateway's translator testdata", () => {
    expect(translator.length).toBeGreaterThanOrEqual(75);
    for (const c of translator) expect(c.value.source).toMatch(/^envoyproxy\/gateway v\d+\.\d+\.\d+ internal\/gatewayapi\/testdata\//);
  });
  it("names the Envoy Gateway e2e test each request case comes from", () => {
    for (const c of requests) expect(c.value.source).toMatch(/^envoyproxy\/gateway v\d+\.\d+\.\d+ test\/e2e\//);
  });
  it("names the Envoy Gateway documentation page each doc case comes from", () => {
    expect(docs.length).toBeGreaterThanOrEqual(10);
    for (const c of docs)
      expect(c.value.source).toMatch(/^envoyproxy\/gateway v\d+\.\d+\.\d+ site\/content\/en\/v\d+\.\d+\/tasks\/security\//);
  });
  it("has no pending entry that names nothing", () => {
    expect(pending.filter((p) => !used.has(p))).toEqual([]);
  });
});
