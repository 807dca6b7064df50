/**
 * Route regular expressions read as RE2 reads them (Envoy's safe_regex, full match). On
 * regex.example.com, rules that want an API key match a header by `prod.*`, `.` or `\S+`, or the
 * path by `/admin\z` or `/v[[:digit:]]+`; anything else takes the open catch-all. On
 * unsupported.example.com one protected rule matches the path by `/\pL+/admin` (valid RE2, which
 * V8's linear engine cannot run) above an open catch-all. On bytes.example.com an open rule
 * matches header `x-env` by `prod.*` above a protected catch-all.
 */
import { decider } from "../../support/world.ts";
import { casesOn, type Case, type Expected } from "../outcome.ts";

const OPEN: Expected = { status: 200, code: "allowed" };
const PROTECTED: Expected = { status: 401, code: "apikey_missing" };
const UNSUPPORTED: Expected = { status: 403, code: "route_unsupported", reason: "Unicode class \\pL" };

const world = decider(String.raw`
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec: {gatewayClassName: portcullis, listeners: [{name: http, protocol: HTTP, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: guarded, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [regex.example.com]
  rules:
  - matches:
    - headers: [{name: x-env, type: RegularExpression, value: "prod.*"}]
    - headers: [{name: x-one, type: RegularExpression, value: "."}]
    - headers: [{name: x-word, type: RegularExpression, value: "\\S+"}]
    - path: {type: RegularExpression, value: "/admin\\z"}
    - path: {type: RegularExpression, value: "/v[[:digit:]]+"}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: unsupported, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [unsupported.example.com]
  rules: [{matches: [{path: {type: RegularExpression, value: "/\\pL+/admin"}}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rest, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: [regex.example.com, unsupported.example.com]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: open-env, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [bytes.example.com]
  rules: [{matches: [{headers: [{name: x-env, type: RegularExpression, value: "prod.*"}]}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bytes-rest, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: [bytes.example.com]}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: keys, namespace: apps}
spec:
  targetRefs:
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: guarded}
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: unsupported}
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: bytes-rest}
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [x-api-key]}]}
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
stringData: {alice: alice-key}
`);

/** A request on regex.example.com (gRPC text: header values as decoded characters) unless `request` names another host. */
const on = casesOn("route", world, { host: "regex.example.com" });

const READ_AS_JAVASCRIPT =
  "route regular expressions were run as JavaScript reads them, which differs from RE2 (what Envoy runs): `.` skipped CR, U+2028 and U+2029 and took half of a character beyond the BMP, `\\S` refused Unicode spaces, `\\z` and `[[:digit:]]` meant other text; so a request Envoy routes to a protected rule fell through to the open catch-all. Patterns are now translated to RE2's meaning, code point by code point";

export const routeRegexCases: readonly Case[] = [
  on(
    "regex-dot-line-separator",
    "`x-env: prod` + U+2028 against `prod.*` (RE2's `.` takes every character but a newline)",
    PROTECTED,
    { path: "/", headers: { "x-env": "prod\u2028" } },
    READ_AS_JAVASCRIPT,
  ),
  on(
    "regex-dot-astral",
    "`x-one: 😀` against `.` (one character beyond the BMP)",
    PROTECTED,
    { path: "/", headers: { "x-one": "😀" } },
    `see route.regex-dot-line-separator`,
  ),
  on(
    "regex-not-space-nbsp",
    "`x-word: ` + U+00A0 against `\\S+` (RE2's `\\s` is ASCII whitespace only)",
    PROTECTED,
    { path: "/", headers: { "x-word": "\u00a0" } },
    `see route.regex-dot-line-separator`,
  ),
  on(
    "regex-end-of-text",
    "`/admin` against `/admin\\z` (RE2's end of text, not a `z`)",
    PROTECTED,
    { path: "/admin" },
    `see route.regex-dot-line-separator`,
  ),
  on("regex-posix-class", "`/v2` against `/v[[:digit:]]+`", PROTECTED, { path: "/v2" }, `see route.regex-dot-line-separator`),
  on("regex-no-match", "`/v2x` on regex.example.com: no protected rule matches; the open catch-all", OPEN, { path: "/v2x" }),
  on(
    "regex-unsupported",
    "`/a/admin` on unsupported.example.com against `/\\pL+/admin` (valid RE2 that Portcullis cannot run)",
    UNSUPPORTED,
    { host: "unsupported.example.com", path: "/a/admin" },
    "a pattern JavaScript reads another way (`\\pL` as the letters `pL`) was run so, and one it refused left its rule out of the route table, so a request Envoy routes to the protected rule took the open catch-all; a valid RE2 pattern that cannot be translated now keeps its rule in Envoy's order, and every request reaching it is denied",
  ),
  on(
    "regex-unsupported-below",
    "`/public` on unsupported.example.com: below that rule in Envoy's order, so Envoy may route it there too (denied)",
    UNSUPPORTED,
    { host: "unsupported.example.com", path: "/public" },
  ),
  on(
    "regex-invalid-utf8",
    "bytes `x-env: prod\\xFF` on bytes.example.com: RE2 reads the byte, which `.` does not match (Envoy: the protected catch-all); as text it is U+FFFD, which `.` matches",
    { status: 403, code: "route_unsupported", reason: "not UTF-8" },
    { host: "bytes.example.com", path: "/", headers: { "x-env": "prod\xFF" }, byteStrings: true },
    "a header value that is not UTF-8 was matched as text, its bytes read as U+FFFD, which `.*` matches, so the open rule decided a request Envoy's RE2 sends to the protected catch-all; a regular expression over such a value now counts as matching and the request is denied",
  ),
  on("regex-valid-utf8-bytes", "bytes `x-env: prod\\xC3\\xA9` on bytes.example.com (`prodé`): the open rule, as for Envoy", OPEN, {
    host: "bytes.example.com",
    path: "/",
    headers: { "x-env": "prod\xC3\xA9" },
    byteStrings: true,
  }),
  on(
    "regex-unsupported-named",
    "`/a/admin` on unsupported.example.com with Envoy Gateway's route metadata naming that rule: decided by its policy",
    PROTECTED,
    {
      host: "unsupported.example.com",
      path: "/a/admin",
      proxyRoute: { kind: "HTTPRoute", namespace: "apps", name: "unsupported", sectionName: undefined },
    },
  ),
];
