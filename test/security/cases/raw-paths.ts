/**
 * Routing of paths holding raw characters that Envoy Gateway's `normalize_path` percent-encodes
 * before routing (bytes from 0x80, `"`, `<`, `{`, …) or escapes whose case it keeps. On
 * open.example.com everything is open except the routes written with escapes (`PathPrefix
 * /caf%C3%A9`, `/x%FF`, Exact `/a%22b`), which want an API key; on closed.example.com everything
 * wants an API key except Exact `/caf%C3%A9` and `/x%C3%A9` and RegularExpression `/x[^%/]*` (`/xé`
 * decoded, never an escape).
 */
import { decider } from "../../support/world.ts";
import { casesOn, type Case, type Expected } from "../outcome.ts";

const OPEN: Expected = { status: 200, code: "allowed" };
const PROTECTED: Expected = { status: 401, code: "apikey_missing" };

const world = decider(`
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: apps}
spec: {gatewayClassName: portcullis, listeners: [{name: http, protocol: HTTP, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: open-rest, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: [open.example.com]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: open-escaped, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [open.example.com]
  rules:
  - matches:
    - path: {type: PathPrefix, value: "/caf%C3%A9"}
    - path: {type: PathPrefix, value: "/x%FF"}
    - path: {type: Exact, value: "/a%22b"}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: closed-rest, namespace: apps}
spec: {parentRefs: [{name: gw}], hostnames: [closed.example.com]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: closed-escaped, namespace: apps}
spec:
  parentRefs: [{name: gw}]
  hostnames: [closed.example.com]
  rules:
  - matches:
    - path: {type: Exact, value: "/caf%C3%A9"}
    - path: {type: Exact, value: "/x%C3%A9"}
    - path: {type: RegularExpression, value: "/x[^%/]*"}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: keys, namespace: apps}
spec:
  targetRefs:
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: open-escaped}
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: closed-rest}
  apiKeyAuth: {credentialRefs: [{name: keys}], extractFrom: [{headers: [x-api-key]}]}
---
apiVersion: v1
kind: Secret
metadata: {name: keys, namespace: apps}
data: {alice: YWxpY2Uta2V5}
`);

/** `path` on `host`, handed over as bytes (one character per byte, as the HTTP ports receive it) unless `text` (gRPC). */
const at = (id: string, title: string, expect: Expected, host: string, path: string, fixed?: string, text = false): Case =>
  casesOn("route", world)(id, title, expect, { host, path, byteStrings: !text }, fixed);

const RAW_READ_AS_TEXT =
  "a raw byte or character that Envoy's normalize_path percent-encodes before routing was matched as text (`/café`), so a route written with the escape (`/caf%C3%A9`), which Envoy routes the request to, did not match and the open catch-all decided; paths are now escaped as Envoy escapes them, byte by byte, and also decided decoded";

export const rawPathCases: readonly Case[] = [
  at(
    "raw-non-ascii",
    "bytes `/caf\\xC3\\xA9` on open.example.com: Envoy routes `/caf%C3%A9` to the protected prefix",
    PROTECTED,
    "open.example.com",
    "/caf\xC3\xA9",
    RAW_READ_AS_TEXT,
  ),
  at(
    "raw-non-ascii-text",
    "gRPC text `/café/menu` on open.example.com (Envoy's bytes are its UTF-8)",
    PROTECTED,
    "open.example.com",
    "/café/menu",
    `see route.raw-non-ascii`,
    true,
  ),
  at(
    "raw-invalid-utf8",
    "bytes `/x\\xFF` on open.example.com: not UTF-8, Envoy escapes the byte itself (`/x%FF`), not U+FFFD",
    PROTECTED,
    "open.example.com",
    "/x\xFF",
    `see route.raw-non-ascii`,
  ),
  at(
    "raw-quote",
    'bytes `/a"b` on open.example.com: Envoy routes `/a%22b` to the protected Exact rule',
    PROTECTED,
    "open.example.com",
    '/a"b',
    `see route.raw-non-ascii`,
  ),
  at(
    "raw-other-ascii",
    "bytes `/a<b>{c}` on open.example.com: escaped by Envoy, no protected rule; open",
    OPEN,
    "open.example.com",
    "/a<b>{c}",
  ),
  at(
    "escape-case",
    "`/x%c3%a9` on closed.example.com: neither open rule takes it for Envoy (it keeps an escape's case, its Exact match is case-sensitive, and the regex refuses `%`); decoded, `/xé` is the open regex's",
    PROTECTED,
    "closed.example.com",
    "/x%c3%a9",
    "escapes Envoy keeps were upper-cased before routing, so `/x%c3%a9` matched the open Exact `/x%C3%A9` where Envoy's case-sensitive match sends it to the protected catch-all; escapes now keep their case, as Envoy's normalize_path keeps it",
  ),
  at(
    "escape-same-case",
    "`/caf%C3%A9` on closed.example.com: Envoy takes the open Exact rule, but upstreams decode it to `/café`, the protected catch-all's",
    PROTECTED,
    "closed.example.com",
    "/caf%C3%A9",
  ),
  at(
    "raw-matches-open-escape",
    "bytes `/caf\\xC3\\xA9` on closed.example.com: Envoy's `/caf%C3%A9` takes the open Exact rule, the decoded reading `/café` the protected catch-all",
    PROTECTED,
    "closed.example.com",
    "/caf\xC3\xA9",
  ),
  at(
    "nested-escape",
    "`/%%30%30` on closed.example.com: Envoy reads `/%2500` (it re-escapes a `%` that decoding would join to an escape), never `/%00`",
    PROTECTED,
    "closed.example.com",
    "/%%30%30",
  ),
];
