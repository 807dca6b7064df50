/**
 * Route regular expressions read as RE2 reads them (Envoy's safe_regex, full match). On
 * regex.example.com, rules that want an API key match a header by `prod.*`, `.` or `\S+`, or the
 * path by `/admin\z` or `/v[[:digit:]]+`; anything else takes the open catch-all. On
 * unicode.example.com one protected rule matches the path by `/\pL+/admin` (RE2's Unicode letter
 * class) above an open catch-all. On bytes.example.com open rules
 * match header `x-env` by `prod.*`, and header `x-tier` or query parameter `tier` Exact U+FFFD,
 * above a protected catch-all.
 */
import { decider } from "../../support/world.ts";
import { casesOn, type Case, type Expected } from "../outcome.ts";

const OPEN: Expected = { status: 200, code: "allowed" };
const PROTECTED: Expected = { status: 401, code: "apikey_missing" };

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
metadata: {name: unicode, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [unicode.example.com]
  rules: [{matches: [{path: {type: RegularExpression, value: "/\\pL+/admin"}}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rest, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: [regex.example.com, unicode.example.com]}
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
metadata: {name: open-replacement, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [bytes.example.com]
  rules:
  - matches:
    - headers: [{name: x-tier, value: "\uFFFD"}]
    - queryParams: [{name: tier, value: "\uFFFD"}]
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
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: unicode}
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: bytes-rest}
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [x-api-key]}]}
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
data: {alice: YWxpY2Uta2V5}
`);

/** A request on regex.example.com (gRPC text: header values as decoded characters) unless `request` names another host. */
const on = casesOn("route", world, { host: "regex.example.com" });

const READ_AS_JAVASCRIPT =
  "route regular expressions were run as JavaScript reads them, which differs from RE2 (what Envoy runs): `.` skipped CR, U+2028 and U+2029 and took half of a character beyond the BMP, `\\S` refused Unicode spaces, `\\z` and `[[:digit:]]` meant other text; so a request Envoy routes to a protected rule fell through to the open catch-all. Patterns now run on RE2 itself (re2js), code point by code point";

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
    "regex-unicode-class",
    "`/abc/admin` on unicode.example.com against `/\\pL+/admin` (RE2's Unicode letter class)",
    PROTECTED,
    { host: "unicode.example.com", path: "/abc/admin" },
    "a pattern JavaScript reads another way (`\\pL` as the letters `pL`) was run so, then refused as syntax Portcullis could not run (every request reaching its rule denied); route regexes now run on RE2 itself (re2js), so `\\pL` is any letter, as for Envoy",
  ),
  on("regex-unicode-class-digit", "`/1/admin` on unicode.example.com: a digit is not a letter, so the open catch-all, as for Envoy", OPEN, {
    host: "unicode.example.com",
    path: "/1/admin",
  }),
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
    "exact-invalid-utf8",
    "bytes `x-tier: \\xFF` on bytes.example.com, whose open rule matches x-tier Exact U+FFFD: Envoy compares the bytes (`FF` is not `EF BF BD`: the protected catch-all); as text both are U+FFFD",
    { status: 403, code: "route_unsupported", reason: "not UTF-8" },
    { host: "bytes.example.com", path: "/", headers: { "x-tier": "\xFF" }, byteStrings: true },
    "an Exact header match compared the text, where a byte that is not UTF-8 reads as U+FFFD, so a configured U+FFFD took the open rule for a request Envoy sends to the protected catch-all; such a comparison now counts as matching and the request is denied",
  ),
  on(
    "exact-invalid-utf8-query",
    "bytes `?tier=\\xFF` on bytes.example.com, whose open rule matches query parameter tier Exact U+FFFD",
    { status: 403, code: "route_unsupported", reason: "not UTF-8" },
    { host: "bytes.example.com", path: "/?tier=\xFF", byteStrings: true },
    "see route.exact-invalid-utf8",
  ),
  on("exact-other-value", "`x-tier: gold` on bytes.example.com: the protected catch-all, as for Envoy", PROTECTED, {
    host: "bytes.example.com",
    path: "/",
    headers: { "x-tier": "gold" },
    byteStrings: true,
  }),
  on(
    "regex-unicode-class-named",
    "`/a/admin` on unicode.example.com with Envoy Gateway's route metadata naming that rule: decided by its policy",
    PROTECTED,
    {
      host: "unicode.example.com",
      path: "/a/admin",
      proxyRoute: { kind: "HTTPRoute", namespace: "apps", name: "unicode", sectionName: undefined },
    },
  ),
];
