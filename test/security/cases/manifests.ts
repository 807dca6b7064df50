/**
 * Manifests: invalid YAML, wrong types, unknown fields, huge Secrets, references to nothing. Each
 * case compiles a small world (route app.example.com with rules /good and /bad, a healthy
 * `neighbour` policy on /good) plus one hostile object, and asserts three things: the problem is a
 * condition on that policy, the decision on the probed path, and that /good is still enforced
 * (401 without a key, 200 with one). YAML-level cases go through the manifest folder reader.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toResources, type RawObject } from "../../../controller/api/resources.ts";
import { check } from "../../../controller/authz/check.ts";
import { checkFolder } from "../../../controller/commands/check.ts";
import { loadConfig, type CheckConfig } from "../../../controller/config.ts";
import { compile } from "../../../controller/compile/index.ts";
import { summarizeSnapshot } from "../../../controller/snapshot/summary.ts";
import { parseManifests } from "../../../controller/sources/manifest-text.ts";
import { ManifestFolder, type FolderLoad } from "../../../controller/sources/manifests.ts";
import { decider } from "../../support/world.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";
import { gatewayWithRoute } from "../../support/manifests.ts";

const BASE = `${gatewayWithRoute("app.example.com", { good: "/good", bad: "/bad" }, "app")}---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
data: {alice: YWxpY2Uta2V5}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: neighbour, namespace: apps, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: app, sectionName: good}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: x-client-id}
`;
/** The policy under test, on rule /bad; `spec` is YAML indented by two spaces. */
const bad = (spec: string, name = "bad") => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: ${name}, namespace: apps, creationTimestamp: "2024-06-01T00:00:00Z"}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: app, sectionName: bad}]
${spec}`;
const apiKey = (extra = "", secret = "keys") =>
  `  apiKeyAuth: {credentialRefs: [{name: ${secret}}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: x-client-id${extra}}\n`;
const secret = (name: string, data: string) => `---\napiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: apps}\n${data}\n`;
const jwtWith = (jwks: string) => `  jwt: {providers: [{name: p, issuer: https://i.example.com, localJWKS: ${jwks}}]}\n`;

/** A list document (its apiVersion and kind in `header`) whose one item is the document `item` (`---` first, as bad() writes it). */
const inList = (header: string, item: string) =>
  `---\n${header}\nitems:\n${item
    .replace(/^---\n/, "")
    .trimEnd()
    .split("\n")
    .map((line, i) => `${i === 0 ? "- " : "  "}${line}`)
    .join("\n")}\n`;

const INVALID = (condition: string): Expected => ({ status: 403, code: "policy_invalid", condition });
/** The same CheckContext every decision test uses (test/support/world.ts). */
const ctx = decider(BASE).ctx;

interface Probe {
  readonly path?: string;
  readonly headers?: Record<string, string>;
  /** The headers the probed route's allows remove, when not every policy's of the world (another Gateway's). */
  readonly managed?: readonly string[];
}

/**
 * Compiles raw objects (BASE + `extra`), or what a manifest folder read puts in force, checks the
 * probe, and asserts the neighbour is still enforced.
 */
async function decide(
  input: readonly RawObject[] | Pick<FolderLoad, "resources" | "rejected">,
  probe: Probe,
  reported: string[] = [],
): Promise<Outcome> {
  const { resources, rejected } = "resources" in input ? input : toResources(input);
  const result = compile(resources, { controllerName: "portcullis.io/controller", gatewayClasses: [] });
  const ask = (path: string, headers: Record<string, string>) =>
    check(result.snapshot, { method: "GET", scheme: "http", host: "app.example.com", path, headers, gateway: undefined }, ctx);
  const without = await ask("/good", {});
  const withKey = await ask("/good", { "x-api-key": "alice-key" });
  if (without.code !== "apikey_missing" || withKey.upstreamHeaders["x-client-id"] !== "alice")
    throw new Error(`the neighbour policy is no longer enforced: ${without.code}, ${withKey.code}`);
  const conditions = result.statuses
    .filter((s) => s.name !== "neighbour")
    .flatMap((s) =>
      s.ancestors.flatMap((a) =>
        a.conditions.filter((c) => c.status === "False" || c.type === "Warning").map((c) => `${c.reason}: ${c.message}`),
      ),
    );
  const condition = [...conditions, ...result.problems, ...rejected.map((r) => r.reason), ...reported].join("; ");
  return fromDecision(
    await ask(probe.path ?? "/bad", probe.headers ?? { "x-api-key": "alice-key" }),
    probe.managed ?? managedHeadersOf(result.snapshot.policies),
    condition,
  );
}
/** The objects of `text`, read as a manifest folder reads a file. */
function objectsOf(text: string): RawObject[] {
  const parsed = parseManifests(text, "case.yaml");
  if ("error" in parsed) throw new Error(`the case does not parse: ${parsed.error}`);
  return parsed.objects;
}

function m(id: string, title: string, expect: Expected, extra: string, probe: Probe = {}, fixed?: string): Case {
  return {
    id: `manifest.${id}`,
    title,
    expect,
    run: () => decide(objectsOf(BASE + extra), probe),
    ...(fixed === undefined ? {} : { fixed }),
  };
}

/** Like m(), and `secret` appears nowhere in what compile shows: statuses, problems, the snapshot summary (the admin view). */
function unshown(id: string, title: string, expect: Expected, extra: string, secret: string, fixed?: string): Case {
  return {
    id: `manifest.${id}`,
    title,
    expect,
    ...(fixed === undefined ? {} : { fixed }),
    async run() {
      const result = compile(toResources(objectsOf(BASE + extra)).resources, {
        controllerName: "portcullis.io/controller",
        gatewayClasses: [],
      });
      const shown = JSON.stringify({ statuses: result.statuses, problems: result.problems, summary: summarizeSnapshot(result.snapshot) });
      if (shown.includes(secret)) throw new Error(`${id}: ${secret} is shown: ${shown}`);
      return decide(objectsOf(BASE + extra), {});
    },
  };
}

/** A local JWKS whose only key is RSA 1024, and a token that key signed: refused, and the status says why. */
function weakJwksCase(): Case {
  const pair = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const jwks = JSON.stringify({ keys: [{ ...pair.publicKey.export({ format: "jwk" }), kid: "weak", use: "sig" }] });
  const input = `${Buffer.from('{"alg":"RS256","kid":"weak"}').toString("base64url")}.${Buffer.from('{"sub":"alice"}').toString("base64url")}`;
  const token = `${input}.${sign("sha256", Buffer.from(input), pair.privateKey).toString("base64url")}`;
  return m(
    "jwks-only-weak",
    "a local JWKS whose only key is RSA 1024, and a token it signed",
    {
      status: 401,
      code: "jwt_unknown_issuer",
      condition: "UnusableCredentials: JWT: providers[0].localJWKS: key 0 (kid weak) is an RSA key of 1024 bits",
    },
    bad(jwtWith(`{type: Inline, inline: '${jwks}'}`)),
    { headers: { authorization: `Bearer ${token}` } },
    "the policy was Accepted with nothing said, though no token could ever verify; a Warning condition now names the key",
  );
}

/**
 * A JWKS kept in a ConfigMap's binaryData (base64), named by the policy on rule bad, and a token its
 * RSA key signed, sent to /bad: Envoy Gateway's file provider keeps a ConfigMap's data only.
 */
/**
 * A Secret written with `stringData` only. Envoy Gateway v1.9.0's file provider keeps stringData beside
 * data (resource/load.go) in controller-runtime's fake client, which folds nothing as the API server
 * would, and its translator reads data only: the Secret holds no key there and the policy is refused.
 */
function stringDataOnlySecretCase(): Case {
  return {
    id: "manifest.secret-string-data-only",
    title: "the policy's API keys are in a Secret written with `stringData` only; alice's key from it is sent",
    expect: INVALID("credentialRefs hold no keys"),
    fixed:
      "stringData was folded into data as the API server does, so alice's key was allowed (200) where Envoy Gateway's file provider, which reads a Secret's data only, finds no key and refuses the policy; a manifest folder's Secrets are now held without stringData",
    async run() {
      return inCatalogueFolder({ "policy.yaml": bad(apiKey("", "typed")) + secret("typed", "stringData: {alice: alice-key}") }, (dir) => {
        const { inForce } = new ManifestFolder(dir).read();
        if (inForce === undefined) throw new Error("manifest.secret-string-data-only: the folder is not in force");
        return decide(inForce, { headers: { "x-api-key": "alice-key" } });
      });
    },
  };
}

function jwksInBinaryDataCase(): Case {
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwks = JSON.stringify({ keys: [{ ...pair.publicKey.export({ format: "jwk" }), kid: "k", use: "sig", alg: "RS256" }] });
  const claims = { iss: "https://i.example.com", sub: "alice", exp: Math.floor(Date.now() / 1000) + 3600 };
  const input = `${Buffer.from('{"alg":"RS256","kid":"k"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const token = `${input}.${sign("sha256", Buffer.from(input), pair.privateKey).toString("base64url")}`;
  const configMap = `---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: jwks, namespace: apps}\nbinaryData: {jwks: ${Buffer.from(jwks).toString("base64")}}\n`;
  return {
    id: "manifest.jwks-in-configmap-binary-data",
    title: "the policy's localJWKS names a ConfigMap whose JWKS is in `binaryData`; a token its key signed is sent",
    expect: INVALID("ConfigMap apps/jwks is empty"),
    fixed:
      "binaryData was read, so the token verified and /bad was allowed (200) where Envoy Gateway's file provider, which keeps a ConfigMap's data only, finds the ConfigMap empty and refuses the policy; a manifest folder's ConfigMaps are now held without binaryData",
    async run() {
      return inCatalogueFolder(
        { "policy.yaml": bad(jwtWith("{type: ValueRef, valueRef: {group: '', kind: ConfigMap, name: jwks}}")) + configMap },
        (dir) => {
          const { inForce } = new ManifestFolder(dir).read();
          if (inForce === undefined) throw new Error("manifest.jwks-in-configmap-binary-data: the folder is not in force");
          return decide(inForce, { headers: { authorization: `Bearer ${token}` } });
        },
      );
    },
  };
}

/** Runs `use` on a fresh folder holding base.yaml (BASE) and `files` (name → text), removed once `use` has settled. */
async function inCatalogueFolder(files: Record<string, string>, use: (dir: string) => Outcome | Promise<Outcome>): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-catalogue-"));
  try {
    writeFileSync(join(dir, "base.yaml"), BASE);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A folder read whole once (BASE in base.yaml, the API-key policy on /bad in policy.yaml), then
 * changed by `change` so that some file does not parse: the last read where every file parsed must
 * stay in force, whole.
 */
function brokenFolderCase(
  id: string,
  title: string,
  change: (dir: string) => void,
  fixed?: string,
  extraFiles: Record<string, string> = {},
): Case {
  return {
    id: `manifest.${id}`,
    title,
    expect: { status: 401, code: "apikey_missing", condition: "last good contents stay in force" },
    ...(fixed === undefined ? {} : { fixed }),
    async run() {
      return inCatalogueFolder({ "policy.yaml": bad(apiKey()), ...extraFiles }, (dir) => {
        const folder = new ManifestFolder(dir);
        folder.read();
        change(dir);
        const { latest, inForce } = folder.read();
        if (inForce === undefined) throw new Error(`${id}: the folder read whole first is no longer in force`);
        // What is in force is decided whatever the read found: a change not seen as breaking a file is served as it is.
        return decide(
          inForce,
          { headers: {} },
          latest.errors.map((e) => `${e.file}: ${e.error} (the folder's last good contents stay in force)`),
        );
      });
    },
  };
}
/** A folder of base.yaml (BASE) and `files` (name → text), read once: what it puts in force decides. */
function folderCase(id: string, title: string, expect: Expected, files: Record<string, string>, fixed?: string): Case {
  return {
    id: `manifest.${id}`,
    title,
    expect,
    ...(fixed === undefined ? {} : { fixed }),
    async run() {
      return inCatalogueFolder(files, (dir) => {
        const { inForce } = new ManifestFolder(dir).read();
        if (inForce === undefined) throw new Error(`${id}: the folder is not in force`);
        return decide(inForce, { headers: {} });
      });
    },
  };
}

/** An open route `public` on app.example.com, Exact /bad: Envoy Gateway ranks it above rule bad (PathPrefix /bad), so, read, it opens /bad. */
const OPEN_EXACT_BAD =
  "{apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, metadata: {name: public, namespace: apps}, spec: {parentRefs: [{name: gw}], hostnames: [app.example.com], rules: [{matches: [{path: {type: Exact, value: /bad}}]}]}}\n";

/**
 * ListenerSet apps/extra, a listener of the Gateway on port 80 for app.example.com (more specific
 * than the Gateway's own, so app.example.com's requests take its routes), and the open route
 * `public` (Exact /bad) on it.
 */
const LISTENER_SET_WITH_OPEN_ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: extra, namespace: apps}
spec:
  parentRef: {name: gw}
  listeners: [{name: app, protocol: HTTP, port: 80, hostname: app.example.com}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: public, namespace: apps}
spec:
  parentRefs: [{group: gateway.networking.k8s.io, kind: ListenerSet, name: extra}]
  hostnames: [app.example.com]
  rules: [{matches: [{path: {type: Exact, value: /bad}}]}]
`;

/**
 * HTTPRoute envoy-gateway-system/admin on Gateway apps/gw (Exact /bad for app.example.com, above rule
 * bad) and a policy denying every request on it, written without a namespace: Envoy Gateway's file
 * provider puts it in envoy-gateway-system, beside its route; kubectl in default.
 */
const ADMIN_ROUTE_DENIED_WITHOUT_NAMESPACE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: admin, namespace: envoy-gateway-system}
spec:
  parentRefs: [{name: gw, namespace: apps}]
  hostnames: [app.example.com]
  rules: [{matches: [{path: {type: Exact, value: /bad}}]}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: admin-closed}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: admin}]
  authorization: {defaultAction: Deny}
`;

const brokenPolicyFile = (id: string, title: string, broken: string) =>
  brokenFolderCase(id, title, (dir) => writeFileSync(join(dir, "policy.yaml"), broken));

/**
 * `portcullis check` on a folder whose policy file holds `policy` (which serve would not put in
 * force): check must deny as serve does, never decide without the policy (its route would be open).
 */
function checkFolderCase(id: string, title: string, expect: Case["expect"], fixed: string, policy: string): Case {
  return {
    id,
    title,
    expect,
    fixed,
    async run() {
      return inCatalogueFolder({ "policy.yaml": policy }, async (dir) => {
        const reported: string[] = [];
        const config = loadConfig(["check", "--manifests", dir, "GET", "http://app.example.com/bad"], {}) as CheckConfig;
        return fromDecision((await checkFolder(config, (line) => reported.push(line))).decision, [], reported.join("; "));
      });
    },
  };
}

const checkNeverParsed = checkFolderCase(
  "manifest.check-never-parsed",
  "`portcullis check` on a folder whose policy file has never parsed (`apiVersion: [unclosed`)",
  { status: 403, code: "not_ready", condition: "a serve started on this folder is not ready and denies every check" },
  "check decided without the unparsed file, so the route its policy protects was allowed (200); it now denies with serve's not_ready",
  "apiVersion: [unclosed\n",
);

const checkInvalidObject = checkFolderCase(
  "manifest.check-invalid-object",
  "`portcullis check` on a folder whose only copy of the policy has a label that is a number (`labels: {version: 1}`)",
  { status: 403, code: "not_ready", condition: "metadata.labels.version" },
  "check warned that the object was rejected and decided without it, so its route was allowed (200); it now denies with serve's not_ready",
  bad(apiKey()).replace("creationTimestamp:", "labels: {version: 1}, creationTimestamp:"),
);

const laughs = `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 8 }, (_, i) => `${"bcdefghi"[i]}: &${"bcdefghi"[i]} [${Array(10).fill(`*${"abcdefgh"[i]}`).join(", ")}]`).join("\n")}\n`;

/**
 * The policy rewritten as one JSON document whose second `spec` has no authentication: YAML refuses
 * a duplicate key; JSON.parse (the folder's fast reading of JSON files) would keep the last one.
 */
const duplicateSpec = `{"apiVersion":"gateway.envoyproxy.io/v1alpha1","kind":"SecurityPolicy","metadata":{"name":"bad","namespace":"apps"},${[
  `"spec":{"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"HTTPRoute","name":"app","sectionName":"bad"}],"apiKeyAuth":{"credentialRefs":[{"name":"keys"}],"extractFrom":[{"headers":["X-API-Key"]}]}}`,
  `"spec":{"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"HTTPRoute","name":"app","sectionName":"bad"}]}`,
].join(",")}}\n`;

export const manifestCases: readonly Case[] = [
  brokenPolicyFile("yaml-invalid", "the policy file stops parsing (`apiVersion: [unclosed`)", "apiVersion: [unclosed\n"),
  brokenPolicyFile("yaml-aliases", "the policy file becomes a billion-laughs alias bomb", laughs),
  brokenPolicyFile(
    "json-duplicate-key",
    "the policy file becomes JSON with a second `spec` key that drops its authentication",
    duplicateSpec,
  ),
  brokenFolderCase(
    "moved-into-broken-file",
    "the policy is moved out of policy.yaml into a new file, team.yaml, that does not parse (a typo after it)",
    (dir) => {
      writeFileSync(join(dir, "policy.yaml"), "");
      writeFileSync(join(dir, "team.yaml"), `${bad(apiKey())}---\nkind: [unclosed\n`);
    },
    "each file kept its own last good contents, so the policy was in neither (policy.yaml no longer held it, team.yaml had never parsed) and its route was allowed (200); while a file does not parse, the folder's last read where every file parsed now stays in force, whole",
  ),
  brokenFolderCase(
    "renamed-and-broken",
    "policy.yaml is renamed policy-v2.yaml (an editor's save as, a ConfigMap key renamed) with a typo in the same edit",
    (dir) => {
      rmSync(join(dir, "policy.yaml"));
      writeFileSync(join(dir, "policy-v2.yaml"), `${bad(apiKey())}  bogus: [unclosed\n`);
    },
    "a file's last good contents were kept by its name, so the renamed file had none and its policy was dropped: its route was allowed (200)",
  ),
  brokenFolderCase(
    "label-not-a-string",
    "the policy file still parses, but the policy's metadata gets a label whose value YAML reads as a number (`labels: {version: 1}`)",
    (dir) =>
      writeFileSync(join(dir, "policy.yaml"), bad(apiKey()).replace("creationTimestamp:", "labels: {version: 1}, creationTimestamp:")),
    "the policy was rejected as an invalid object and left out, the file counted as read, so its route was allowed (200); an object of a kind Portcullis reads that is not valid now breaks its file as a YAML error does",
  ),
  brokenFolderCase(
    "api-version-typo",
    "the policy's apiVersion is mistyped (`gateway.envoyproxy.io/v1alpha`)",
    (dir) =>
      writeFileSync(join(dir, "policy.yaml"), bad(apiKey()).replace("gateway.envoyproxy.io/v1alpha1", "gateway.envoyproxy.io/v1alpha")),
    "the policy was rejected and left out while its file counted as read, so its route was allowed (200); it now breaks its file",
  ),
  ...(
    [
      ["kind-letter-case", "Securitypolicy"],
      ["kind-plural", "SecurityPolicies"],
    ] as const
  ).map(([id, kind]) =>
    brokenFolderCase(
      id,
      `the policy's kind is misspelt (\`kind: ${kind}\`), which the API server would refuse`,
      (dir) => writeFileSync(join(dir, "policy.yaml"), bad(apiKey()).replace("kind: SecurityPolicy", `kind: ${kind}`)),
      `a kind Portcullis does not read was ignored, so the policy vanished and its route was allowed (200); a kind its API group (gateway.envoyproxy.io) does not have now breaks its file`,
    ),
  ),
  brokenFolderCase(
    "group-and-kind-misspelt",
    "the policy's group and kind are both misspelt (`gateway.envoyprxy.io/v1alpha1`, `kind: Securitypolicy`): a group Envoy Gateway's scheme does not have",
    (dir) =>
      writeFileSync(
        join(dir, "policy.yaml"),
        bad(apiKey()).replace(
          "gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy",
          "gateway.envoyprxy.io/v1alpha1\nkind: Securitypolicy",
        ),
      ),
    "an object of an unknown API group was ignored, so the policy vanished and its route was allowed (200); Envoy Gateway's file provider refuses the whole load over a kind its scheme lacks, and such an object now breaks its file",
  ),
  brokenFolderCase(
    "route-version-not-served",
    "the protected route's apiVersion is one no Gateway API v1.6.1 CRD serves (`gateway.networking.k8s.io/v1alpha2` HTTPRoute)",
    (dir) =>
      writeFileSync(
        join(dir, "base.yaml"),
        BASE.replace("gateway.networking.k8s.io/v1\nkind: HTTPRoute", "gateway.networking.k8s.io/v1alpha2\nkind: HTTPRoute"),
      ),
  ),
  brokenFolderCase(
    "route-kind-misspelt",
    "the protected route's kind is misspelt (`kind: HttpRoute`) beside a broader route no policy protects (PathPrefix `/`)",
    (dir) => writeFileSync(join(dir, "base.yaml"), BASE.replace("\nkind: HTTPRoute\n", "\nkind: HttpRoute\n")),
    "the misspelt route was ignored, so its requests went to the broader route and were allowed (200); a kind its API group (gateway.networking.k8s.io) does not have now breaks its file",
    {
      "catch-all.yaml": `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: catch-all, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [app.example.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /}}]}]
`,
    },
  ),
  brokenFolderCase(
    "yaml-merge-key",
    'the route gains a rule `public` before rule bad, `{path: /bad, <<: {headers: [x-public: "yes"]}}`: Envoy Gateway\'s YAML reader (1.1) merges the header match in, YAML 1.2 keeps `<<` as a key',
    (dir) =>
      writeFileSync(
        join(dir, "base.yaml"),
        BASE.replace(
          "    - {name: bad,",
          '    - {name: public, matches: [{path: {type: PathPrefix, value: /bad}, <<: {headers: [{name: x-public, value: "yes"}]}}]}\n    - {name: bad,',
        ),
      ),
    "the merge key was read as a key named `<<`, which the route's schema lets pass, so rule public matched every /bad request and came first: allowed (200) where Envoy Gateway routes a request without x-public to the protected rule; a merge key now breaks its file",
  ),
  ...(
    [
      ["document-marker-with-content", "--- "],
      ["document-end-marker", "...\n"],
    ] as const
  ).map(([id, marker], i) =>
    brokenFolderCase(
      id,
      `policy.yaml gains a route \`public\` (Exact /bad) after \`${marker.trim()}\`${i === 0 ? " on the marker's line" : ""}: Kubernetes' YAML reader (Envoy Gateway's file provider, kubectl) splits documents only at a line holding \`---\` alone, and reads the first document of each part`,
      (dir) => writeFileSync(join(dir, "policy.yaml"), `${bad(apiKey())}${marker}${OPEN_EXACT_BAD}`),
      i === 0
        ? "YAML 1.2 starts a document there, so the open route public (Exact /bad, ranked above PathPrefix /bad) was enforced and /bad allowed (200) where Envoy Gateway never sees that route; a document Kubernetes' reader would not split off now breaks its file"
        : "see manifest.document-marker-with-content",
    ),
  ),
  folderCase(
    "policy-in-txt-file",
    "the policy is in a file named `policy.txt`",
    { status: 401, code: "apikey_missing" },
    { "policy.txt": bad(apiKey()) },
    "only .yaml, .yml, .json and extensionless files were read, so the policy vanished and its route was allowed (200) where Envoy Gateway's file provider, which reads every file of its folder whatever its name, enforces it; every visible file is now read",
  ),
  folderCase(
    "policy-in-hidden-file",
    "the policy is in a hidden file, `.policy.yaml`: read by neither Envoy Gateway's file provider nor Portcullis, so its route is open for both",
    { status: 200, code: "allowed" },
    { ".policy.yaml": bad(apiKey()) },
  ),
  brokenFolderCase(
    "route-in-subfolder",
    "an open route `public` (Exact /bad) is added in a subfolder, `team/route.yaml`, which Envoy Gateway's file provider does not read",
    (dir) => {
      mkdirSync(join(dir, "team"));
      writeFileSync(join(dir, "team", "route.yaml"), OPEN_EXACT_BAD);
    },
    "subfolders were read, so the open route ranked above rule bad and /bad was allowed (200) where Envoy Gateway, which reads no subfolder, routes it to the protected rule; a subfolder that holds a file now breaks the folder",
  ),
  brokenFolderCase(
    "route-behind-link-to-folder",
    "an open route `public` (Exact /bad) is added in a hidden folder `.team`, linked into the folder as `team`",
    (dir) => {
      mkdirSync(join(dir, ".team"));
      writeFileSync(join(dir, ".team", "route.yaml"), OPEN_EXACT_BAD);
      symlinkSync(".team", join(dir, "team"));
    },
    "a link to a folder was walked into, so the open route was read and /bad allowed (200) where Envoy Gateway's file provider reads the link as a file and fails its whole load; a link to a folder now breaks the folder",
  ),
  brokenFolderCase(
    "listenerset-in-folder",
    "the Gateway takes ListenerSets of its namespace, and listeners.yaml adds one with a listener for app.example.com and an open route `public` (Exact /bad) on it",
    (dir) => {
      writeFileSync(
        join(dir, "base.yaml"),
        BASE.replace("gatewayClassName: portcullis", "gatewayClassName: portcullis, allowedListeners: {namespaces: {from: Same}}"),
      );
      writeFileSync(join(dir, "listeners.yaml"), LISTENER_SET_WITH_OPEN_ROUTE);
    },
    "the ListenerSet was read, so app.example.com's requests took its listener's open route and /bad was allowed (200) where Envoy Gateway's file provider, which does not load ListenerSet, routes it to the protected rule; a ListenerSet in a manifest folder now breaks its file",
  ),
  folderCase(
    "file-without-extension",
    "the policy is in a file named `policies`, without an extension (a Helm `standalone.manifests` or ConfigMap key so named)",
    { status: 401, code: "apikey_missing" },
    { policies: bad(apiKey()) },
    "only .yaml, .yml and .json files were read, so the policy vanished and its route was allowed (200) where Envoy Gateway's file provider, which reads every file of its folder, enforces it; a file without an extension is now read as a manifest too",
  ),
  checkFolderCase(
    "manifest.policy-in-list",
    "`portcullis check` on a folder whose policy arrives inside a `kind: List` (what `kubectl get -o yaml` writes and `kubectl apply -f` applies item by item)",
    { status: 403, code: "not_ready", condition: "is an item of a list" },
    "a document of kind List was ignored, so the policy among its items vanished and its route was allowed (200); its items were then read as kubectl apply reads them, where Envoy Gateway's file provider drops a v1 List whole (see manifest.route-in-list); a list holding a kind Portcullis reads now breaks its file",
    inList("apiVersion: v1\nkind: List", bad(apiKey())),
  ),
  checkFolderCase(
    "manifest.policy-in-typed-list",
    "`portcullis check` on a folder whose policy arrives inside a `kind: SecurityPolicyList` whose item has no apiVersion or kind (kubectl gives it the list's)",
    { status: 403, code: "not_ready", condition: "is an item of a list" },
    "a SecurityPolicyList broke its file as a misspelt kind; its items were then read as kubectl apply reads them, which Envoy Gateway's file provider does not (see manifest.route-in-list); it now breaks its file as an item of a list",
    inList("apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicyList", bad(apiKey()).replace(/apiVersion: .*\nkind: .*\n/, "")),
  ),
  checkFolderCase(
    "manifest.policy-in-nested-list",
    "`portcullis check` on a folder whose policy arrives inside a `kind: List` that is itself an item of a `kind: List`",
    { status: 403, code: "not_ready", condition: "is an item of a list" },
    "a document of kind List was ignored, so the policy in the inner list vanished and its route was allowed (200); nested lists were then expanded as kubectl apply expands them, which Envoy Gateway's file provider does not (see manifest.route-in-list); it now breaks its file",
    inList("apiVersion: v1\nkind: List", inList("apiVersion: v1\nkind: List", bad(apiKey()))),
  ),
  brokenFolderCase(
    "policy-commented-out",
    "the policy is commented out line by line, leaving policy.yaml a file of comments only",
    (dir) => writeFileSync(join(dir, "policy.yaml"), bad(apiKey()).replace(/^/gm, "# ")),
    "a document holding no object was skipped, so the policy vanished and its route was allowed (200) where Envoy Gateway's file provider, whose loader refuses the whole load over such a document, keeps the policy it had; a chunk of Kubernetes' YAML reader that holds no object now breaks its file",
  ),
  folderCase(
    "conflict-settled-by-creation-timestamp",
    "two policies on rule bad: `a-strict` (API key) and `z-open` (allows every request), whose creationTimestamp is older",
    { status: 401, code: "apikey_missing" },
    {
      "policy.yaml":
        bad(apiKey(), "a-strict") + bad("  authorization: {defaultAction: Allow}\n", "z-open").replace("2024-06-01", "2020-01-01"),
    },
    "the older policy won the conflict, so z-open governed rule bad and /bad was allowed (200) where Envoy Gateway's file provider, which keeps no creationTimestamp (it loads name and namespace only), settles the tie by name and enforces a-strict; a manifest folder's objects are now read without their creationTimestamp and labels",
  ),
  jwksInBinaryDataCase(),
  stringDataOnlySecretCase(),
  brokenFolderCase(
    "route-after-empty-document",
    "route.yaml adds an open route `public` (Exact /bad) after an empty document ended by `...` (`---`, `...`, the route), with no `---` between them",
    (dir) => writeFileSync(join(dir, "route.yaml"), `---\n...\n${OPEN_EXACT_BAD}`),
    "the empty document was skipped and the route read, so it ranked above rule bad and /bad was allowed (200) where Kubernetes' YAML reader hands Envoy Gateway's file provider the chunk whole, whose first document is empty (its loader refuses the whole load, keeping the policy); a document after an empty one in the same chunk now breaks its file",
  ),
  brokenFolderCase(
    "route-in-list",
    "an open route `public` (Exact /bad) is added inside a `kind: List` in list.yaml: kubectl apply would apply it, Envoy Gateway's file provider drops the list whole (a v1 List matches none of the kinds it loads)",
    (dir) => writeFileSync(join(dir, "list.yaml"), inList("apiVersion: v1\nkind: List", OPEN_EXACT_BAD)),
    "a list's items were read as kubectl apply reads them, so the open route ranked above rule bad and /bad was allowed (200) where Envoy Gateway, which loads no list's items, routes it to the protected rule; an item of a list of a kind Portcullis reads now breaks its file",
  ),
  brokenFolderCase(
    "namespace-unsaid-beside-envoy-gateway-system",
    "the Gateway takes routes of every namespace, and admin.yaml adds HTTPRoute envoy-gateway-system/admin (Exact /bad) with a policy that denies it, written without a namespace",
    (dir) => {
      writeFileSync(join(dir, "base.yaml"), BASE.replace("port: 80}", "port: 80, allowedRoutes: {namespaces: {from: All}}}"));
      writeFileSync(join(dir, "admin.yaml"), ADMIN_ROUTE_DENIED_WITHOUT_NAMESPACE);
    },
    "an object without a namespace was read as in `default`, as kubectl reads it, so the policy missed its route and /bad was allowed (200) where Envoy Gateway's file provider, which puts it in envoy-gateway-system, denies it; a folder that names `default` or `envoy-gateway-system` beside an object without a namespace now breaks",
  ),
  checkNeverParsed,
  checkInvalidObject,
  brokenFolderCase(
    "duplicate-differs",
    "a second copy of the policy, without its apiKeyAuth, in a file read first in some locales (`ä.yaml`: after `z` in Swedish, before it in English)",
    (dir) => writeFileSync(join(dir, "ä.yaml"), bad("")),
    "the first copy in read order was used and the other dropped, and that order followed the process locale (localeCompare): under sv_SE the protected copy came first, under C and en_US the open one, so `check` and serve could decide the route differently and serve allowed it (200); two copies of one object that differ now break the later file",
  ),
  m(
    "wrong-type",
    "`extractFrom: X-API-Key` (a string, not a list)",
    INVALID("spec.apiKeyAuth.extractFrom"),
    bad("  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: X-API-Key}\n"),
  ),
  m("wrong-type-bool", '`sanitize: "yes"`', INVALID("spec.apiKeyAuth.sanitize"), bad(apiKey(', sanitize: "yes"'))),
  m(
    "unknown-field",
    "a typo in a JWT provider (`issuers:`)",
    INVALID("issuers"),
    bad("  jwt: {providers: [{name: p, issuers: [https://i.example.com], remoteJWKS: {uri: https://i.example.com/jwks}}]}\n"),
  ),
  m("unknown-spec-field", "a misspelt feature (`apikeyAuth:`)", INVALID("apikeyAuth"), bad("  apikeyAuth: {}\n")),
  m(
    "spec-unreadable",
    "`spec` is a string: no target can be read, so the policy is applied (denying) to every Gateway and HTTPRoute of its namespace",
    INVALID("which objects it targets cannot be read"),
    "---\napiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: bad, namespace: apps}\nspec: protect /bad please\n",
    {},
    "it governed nothing, so the routes it may have protected stayed open; it now denies wherever it could have applied",
  ),
  m(
    "selected-invalid",
    "a basicAuth policy selecting its route with `targetSelectors` has a field Portcullis rejects (issue 11 situation 7)",
    INVALID("Unrecognized key"),
    "---\napiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: bad, namespace: apps}\nspec:\n  targetSelectors: [{kind: HTTPRoute, namespaces: {from: Same}}]\n  basicAuth: {users: {name: keys}, bogus: true}\n",
    {},
    "only targetRefs of an invalid policy were resolved, so the routes it selected stayed open; its targetSelectors are now resolved too (read wide where unreadable)",
  ),
  m(
    "selector-unreadable",
    "`targetSelectors[0].matchLabels` is a string: the selector is read wide (every HTTPRoute of the namespace)",
    INVALID("matchLabels"),
    '---\napiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {name: bad, namespace: apps}\nspec:\n  targetSelectors: [{kind: HTTPRoute, matchLabels: "app=shop"}]\n  basicAuth: {users: {name: keys}}\n',
  ),
  m(
    "huge-secret",
    "a 1.1 MiB Secret",
    INVALID("more than 1048576 bytes"),
    bad(apiKey("", "huge")) + secret("huge", `stringData: {alice: ${"k".repeat(1100 * 1024)}}`),
    {},
    "any size was compiled; a Secret over Kubernetes' own 1 MiB limit now makes the policy Invalid, in both modes",
  ),
  m(
    "many-clients",
    "a Secret with 5000 clients (under 1 MiB): the last one's key works",
    { status: 200, code: "allowed", upstream: { "x-client-id": "client-4999" } },
    bad(apiKey("", "many")) + secret("many", `stringData: {${Array.from({ length: 5000 }, (_, i) => `client-${i}: key-${i}`).join(", ")}}`),
    { headers: { "x-api-key": "key-4999" } },
  ),
  m(
    "bad-client-id",
    'a client id with a newline (`"alice\\ninjected"`)',
    INVALID("is not a valid Secret data key"),
    bad(apiKey("", "odd")) + secret("odd", 'stringData: {"alice\\ninjected": odd-key}'),
    {},
    "any client id was accepted and forwarded as x-client-id, which made Node throw while answering; client ids now follow Kubernetes' rule for Secret keys",
  ),
  m("missing-secret", "credentialRefs names a Secret that does not exist", INVALID("Secret apps/nope not found"), bad(apiKey("", "nope"))),
  m(
    "missing-configmap",
    "localJWKS valueRef names a ConfigMap that does not exist",
    INVALID("ConfigMap apps/nope not found"),
    bad(jwtWith("{type: ValueRef, valueRef: {group: '', kind: ConfigMap, name: nope}}")),
  ),
  m(
    "cross-namespace",
    "credentialRefs into another namespace without a ReferenceGrant",
    INVALID("no ReferenceGrant"),
    bad("  apiKeyAuth: {credentialRefs: [{name: keys, namespace: other}], extractFrom: [{headers: [X-API-Key]}]}\n"),
  ),
  m(
    "missing-target",
    "targets a route that does not exist (nothing else is touched)",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" }, condition: "TargetNotFound: HTTPRoute apps/nope not found" },
    bad(apiKey()).replace("name: app, sectionName: bad", "name: nope"),
    { path: "/good" },
  ),
  m(
    "missing-section",
    "targets a rule name the route does not have",
    { status: 200, code: "allowed", condition: "has no rule named nope" },
    bad(apiKey()).replace("sectionName: bad", "sectionName: nope"),
    { headers: {} },
  ),
  m("jwks-garbage", "localJWKS inline is not JSON", INVALID("JWKS is not valid JSON"), bad(jwtWith("{inline: 'not json'}"))),
  m(
    "jwks-huge",
    "localJWKS inline of 1.1 MiB",
    INVALID("larger than 1048576 bytes"),
    bad(jwtWith(`{inline: '{"keys":[],"pad":"${"p".repeat(1100 * 1024)}"}'}`)),
    {},
    "any size was parsed; a local JWKS is now held to the same 1 MiB as a remote one",
  ),
  m(
    "jwks-file-uri",
    "remoteJWKS uri `file:///etc/passwd`",
    INVALID("is not http or https"),
    bad("  jwt: {providers: [{name: p, remoteJWKS: {uri: 'file:///etc/passwd'}}]}\n"),
  ),
  m(
    "empty-key",
    "a client whose key is empty",
    INVALID("has an empty key"),
    bad(apiKey("", "empty")) + secret("empty", 'stringData: {alice: ""}'),
  ),
  m(
    "shared-key",
    "two clients with the same key",
    INVALID("share the same key"),
    bad(apiKey("", "shared")) + secret("shared", "stringData: {alice: same, bob: same}"),
  ),
  m(
    "secret-not-base64",
    "a Secret whose data is not base64 (rejected, so the reference finds nothing)",
    INVALID("Secret apps/b64 not found"),
    bad(apiKey("", "b64")) + secret("b64", "data: {alice: '***'}"),
  ),
  m(
    "sanitize-param",
    "sanitize with a key read from a query parameter",
    INVALID("sanitize cannot remove"),
    bad("  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{params: [k]}], sanitize: true}\n"),
  ),
  m(
    "reserved-header",
    "forwardClientIDHeader `Host`",
    INVALID("may not set the host header"),
    bad("  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: Host}\n"),
  ),
  m(
    "cors-every-site-credentials",
    'cors `allowOrigins: ["https://*"]` with `allowCredentials: true` (Envoy would echo any site\'s origin with credentials)',
    INVALID("which matches every site"),
    bad(`${apiKey()}  cors: {allowOrigins: ["https://*"], allowCredentials: true}\n`),
  ),
  m(
    "cors-origin-backtracking",
    "cors origin `https://` + 240 × `a` + `!` (Envoy Gateway's CRD pattern backtracks exponentially on it)",
    INVALID("is not an origin"),
    bad(`${apiKey()}  cors: {allowOrigins: ["https://${"a".repeat(240)}!"]}\n`),
  ),
  m(
    "claim-to-authorization",
    "jwt claimToHeaders into `Authorization` (every allow would strip every client's own)",
    INVALID("may not set the authorization header"),
    bad(
      "  jwt: {providers: [{name: p, remoteJWKS: {uri: https://i.example.com/k}, claimToHeaders: [{claim: sub, header: Authorization}]}]}\n",
    ),
    {},
    "a policy naming Authorization, Cookie, X-Forwarded-For or X-Request-Id as a header to set made every allow on every route remove it; such headers are now refused, and an allow removes only the headers of the policies around its route",
  ),
  m(
    "forward-to-xff",
    "apiKeyAuth forwardClientIDHeader `X-Forwarded-For`",
    INVALID("may not set the x-forwarded-for header"),
    bad("  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: X-Forwarded-For}\n"),
    {},
    "see manifest.claim-to-authorization",
  ),
  m(
    "forward-to-request-id",
    "basicAuth forwardUsernameHeader `x-request-id`",
    INVALID("may not set the x-request-id header"),
    bad("  basicAuth: {users: {name: htpasswd}, forwardUsernameHeader: x-request-id}\n") +
      secret("htpasswd", 'stringData: {.htpasswd: "alice:{SHA}4yvU2nDIjg+qQ04AgGsx1Egh63I="}'),
    {},
    "see manifest.claim-to-authorization",
  ),
  m(
    "ghost-managed-header",
    "a policy whose target does not exist names `x-ghost` to set: nothing else removes it",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" }, condition: "TargetNotFound" },
    bad(apiKey().replace("x-client-id", "x-ghost")).replace("name: app, sectionName: bad", "name: nope"),
    { path: "/good", headers: { "x-api-key": "alice-key", "x-ghost": "admin" } },
    "see manifest.claim-to-authorization",
  ),
  unshown(
    "jwks-uri-credentials",
    "remoteJWKS uri `https://svc:hunter2@idp.example.com/jwks` (a fetch never sends userinfo)",
    INVALID("has credentials (user:password@)"),
    bad("  jwt: {providers: [{name: p, remoteJWKS: {uri: 'https://svc:hunter2@idp.example.com/jwks'}}]}\n"),
    "hunter2",
    "such a policy was Accepted though its keys could never be fetched, and the admin snapshot view showed the password; it is now Invalid, and URIs are redacted wherever they are shown",
  ),
  unshown(
    "jwks-uri-query-secret",
    "remoteJWKS uri with `?api_key=s3cret` (fetched as written; shown as `api_key=redacted`)",
    { status: 401, code: "jwt_missing" },
    bad("  jwt: {providers: [{name: p, remoteJWKS: {uri: 'https://idp.example.com/jwks?api_key=s3cret'}}]}\n"),
    "s3cret",
    "every fetch-failure log line and the admin snapshot view showed the query string; its values are now redacted",
  ),
  m(
    "secret-wrapped",
    "a Secret whose base64 is wrapped over lines (a YAML literal block, as kube-apiserver accepts)",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" } },
    bad(apiKey("", "wrapped")) + secret("wrapped", "data:\n  alice: |\n    YWxpY2Ut\n    a2V5"),
    {},
    "standalone mode refused the Secret as not base64 (so the policy was Invalid: Secret not found) where the API server ignores line breaks, as Go's base64 decoder does",
  ),
  m(
    "secret-spaces",
    "a Secret whose base64 holds a space (a folded YAML scalar: the API server refuses it too)",
    INVALID("Secret apps/folded not found"),
    bad(apiKey("", "folded")) + secret("folded", "data:\n  alice: YWxpY2Ut\n    a2V5"),
  ),
  m(
    "key-trailing-newline",
    "a client key stored with a trailing line break (`kubectl create secret --from-file`); the key without it is presented",
    {
      status: 401,
      code: "apikey_invalid",
      condition: "UnusableCredentials: APIKeyAuth: Secret apps/nl: the key of client bob ends with a line break",
    },
    bad(apiKey("", "nl")) + secret("nl", "data: {bob: Ym9iLWtleQo=}"),
    { headers: { "x-api-key": "bob-key" } },
    "the policy was Accepted with nothing said, though that client could never authenticate; a Warning condition now names the client",
  ),
  m(
    "key-not-utf8",
    "a client key whose bytes are not UTF-8 (`6WtleQ==`: é in Latin-1), presented as those bytes read as UTF-8",
    {
      status: 401,
      code: "apikey_invalid",
      condition: "UnusableCredentials: APIKeyAuth: Secret apps/latin1: the key of client bob is not valid UTF-8",
    },
    bad(apiKey("", "latin1")) + secret("latin1", "data: {alice: YWxpY2Uta2V5, bob: 6WtleQ==}"),
    { headers: { "x-api-key": "\uFFFDkey" } },
    "the key was read with U+FFFD for its invalid byte, so any invalid byte presented there matched it; it is now not served, and a Warning condition names the client",
  ),
  weakJwksCase(),
  m(
    "other-gateway-header",
    "a tenant's policy on another Gateway names `x-tenant-b` to set; a client's `x-tenant-b` on this Gateway's route reaches its upstream",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" } },
    `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw-b, namespace: apps}
spec: {gatewayClassName: portcullis, listeners: [{name: http, protocol: HTTP, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: tenant-b, namespace: apps}
spec: {parentRefs: [{name: gw-b}], hostnames: [b.example.com], rules: [{backendRefs: [{name: tenant-b, port: 80}]}]}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: tenant-b, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: tenant-b}]
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [X-API-Key]}], forwardClientIDHeader: x-tenant-b}
`,
    { path: "/good", headers: { "x-api-key": "alice-key", "x-tenant-b": "kept" }, managed: ["x-client-id"] },
    "every allow on every Gateway removed every header any policy may set; now only those of the policies of the same Gateway or upstream",
  ),
  m(
    "unresolvable-ext-auth",
    "`extAuth:` next to apiKeyAuth, naming a Service that does not exist, with `failOpen: true` (denied, never ignored)",
    INVALID("service apps/authz not found"),
    bad(apiKey() + "  extAuth: {http: {backendRefs: [{name: authz, port: 80}]}, failOpen: true}\n"),
  ),
  m(
    "conflict",
    "a newer policy on the same rule: the older one keeps enforcing",
    { status: 401, code: "apikey_missing", condition: "takes precedence" },
    bad(apiKey(), "older").replace("2024-06-01", "2024-03-01") +
      bad("  jwt: {optional: true, providers: [{name: p, remoteJWKS: {uri: https://i.example.com/k}}]}\n", "newer"),
    { headers: {} },
  ),
  m(
    "regex-escape",
    "a route regex `/x)|(.*` that would escape its anchors (matching every path)",
    { status: 403, code: "route_not_found", condition: "is not valid RE2: unexpected )" },
    "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: inj, namespace: apps}\nspec: {parentRefs: [{name: gw}], hostnames: [app.example.com], rules: [{matches: [{path: {type: RegularExpression, value: '/x)|(.*'}}]}]}\n",
    { path: "/anything" },
    "the pattern was wrapped as ^(?:/x)|(.*)$ and so matched every path; a pattern must now compile on its own before it is anchored",
  ),
  m(
    "regex-backreference",
    "a route regex with a backreference `/(a)\\1` (RE2 has none)",
    { status: 403, code: "route_not_found", condition: "is not valid RE2: invalid escape sequence: `\\1`" },
    "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: br, namespace: apps}\nspec: {parentRefs: [{name: gw}], hostnames: [app.example.com], rules: [{matches: [{path: {type: RegularExpression, value: '/(a)\\1'}}]}]}\n",
    { path: "/aa" },
    "see route.regex-redos",
  ),
  m(
    "cel-pattern-variable",
    "a CEL rule whose matches() pattern comes from the request",
    INVALID("matches() takes a string literal as its pattern"),
    bad(apiKey() + `  authorization: {rules: [{action: Allow, principal: {cel: 'request.path.matches(request.headers["x-p"])'}}]}\n`),
  ),
  m(
    "cel-pattern-backreference",
    "a CEL matches() pattern with a backreference",
    INVALID("is not valid RE2: invalid escape sequence: `\\1`"),
    bad(apiKey() + `  authorization: {rules: [{action: Allow, principal: {cel: 'request.path.matches("(a)\\\\1")'}}]}\n`),
  ),
  m(
    "cel-quadratic",
    "a CEL rule comparing every header name with every query parameter (a comprehension inside a comprehension)",
    INVALID("worst case costs more than"),
    bad(
      apiKey() + `  authorization: {rules: [{action: Allow, principal: {cel: 'request.headers.all(x, request.query.all(y, x != y))'}}]}\n`,
    ),
  ),
  m(
    "cel-unknown-function",
    "a CEL rule calling a function Portcullis has no cost model for",
    INVALID("is not supported"),
    bad(apiKey() + `  authorization: {rules: [{action: Allow, principal: {cel: 'foo(request.path)'}}]}\n`),
  ),
  m(
    "bcrypt-cost-31",
    "an htpasswd entry `$2b$31$…` (2^31 rounds: minutes of CPU per wrong password)",
    INVALID("has bcrypt cost 31; Portcullis accepts 4 to 12"),
    bad("  basicAuth: {users: {name: costly}}\n") + secret("costly", `stringData: {.htpasswd: "eve:$2b$31$${"a".repeat(53)}"}`),
    {},
    "any cost was Accepted; costs above 12 now make the policy Invalid",
  ),
];
