/**
 * CEL: Envoy Gateway's rule-level `cel` over Envoy's attributes, and Portcullis' `principal.cel`.
 * An expression is type-checked when the policy compiles (a variable or field that does not exist
 * is Invalid, not a rule that never matches); at request time one that cannot be evaluated never
 * lets a request through: no match in an Allow rule, a match in a Deny rule, and so is one that
 * reads a request value holding bytes that are not UTF-8 (Envoy compares the bytes, Portcullis the
 * text). principal.headers compare as Envoy's RBAC compares bytes.
 */
import { parse } from "yaml";
import { gatewayWithRoute, securityPolicy } from "../../support/manifests.ts";
import { utf8Bytes } from "../../../controller/lib/bytes.ts";
import { decider } from "../../support/world.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";

/**
 * /x under a policy with `authorization` (YAML flow map); GET /x`query` with `headers`, as text or, with
 * `byteStrings`, as the bytes an HTTP port receives (one character per byte).
 */
function ruled(authorization: string, headers: Record<string, string | string[]> = {}, byteStrings = false, query = "") {
  return async (): Promise<Outcome> => {
    const d = decider(
      `${gatewayWithRoute("api.example.com", { x: "/x" })}---\n${securityPolicy("p", { authorization: parse(authorization) }, "x")}`,
    );
    const policy = d.result.snapshot.policies["apps/p"];
    return fromDecision(
      await d({ path: `/x${query}`, headers, byteStrings }),
      managedHeadersOf(d.result.snapshot.policies),
      policy?.invalid,
    );
  };
}

/** GET /x on the host `café.example.com`, sent as its UTF-8 bytes (an HTTP port), under a route for *.example.com whose policy has `authorization`. */
function onUtf8Host(authorization: string) {
  return async (): Promise<Outcome> => {
    const d = decider(
      `${gatewayWithRoute('"*.example.com"', { x: "/x" })}---\n${securityPolicy("p", { authorization: parse(authorization) }, "x")}`,
    );
    const outcome = await d({ host: utf8Bytes("café.example.com"), path: "/x", byteStrings: true });
    return fromDecision(outcome, managedHeadersOf(d.result.snapshot.policies));
  };
}

const NOT_UTF8_FIXED =
  "the value was read as text, where a byte that is not UTF-8 is U+FFFD, so it equalled a U+FFFD written in the rule while Envoy compares the bytes (`FF` is not `EF BF BD`); a rule reading such a value is now decided as one that cannot be evaluated";

function c(id: string, title: string, expect: Expected, run: () => Promise<Outcome>, fixed?: string): Case {
  return { id: `cel.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}

const invalid = (condition: string): Expected => ({ status: 403, code: "policy_invalid", condition });

export const celCases: readonly Case[] = [
  c(
    "missing-header-deny",
    "Deny `request.headers['x-tenant'] != 'team-a'`, default Allow; the request has no x-tenant (Envoy: the error is no match, and the request passes)",
    { status: 403, code: "authz_denied", reason: "denied by authorization rule other-tenants" },
    ruled(`{defaultAction: Allow, rules: [{name: other-tenants, action: Deny, cel: "request.headers['x-tenant'] != 'team-a'"}]}`),
  ),
  c(
    "missing-header-allow",
    "Allow `request.headers['x-role'] == 'admin'`; the request has no x-role",
    { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" },
    ruled(`{rules: [{action: Allow, cel: "request.headers['x-role'] == 'admin'"}]}`),
  ),
  c(
    "repeated-header",
    "Allow `request.headers['x-role'] == 'admin'`; x-role sent twice, `admin` and `admin` (Envoy reads `admin,admin`)",
    { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" },
    ruled(`{rules: [{action: Allow, cel: "request.headers['x-role'] == 'admin'"}]}`, { "x-role": ["admin", "admin"] }),
  ),
  c(
    "unknown-variable",
    "a rule's cel names a variable that does not exist (`reqest.path == '/x'`)",
    invalid("Unknown variable: reqest"),
    ruled(`{defaultAction: Allow, rules: [{action: Deny, cel: "reqest.path == '/x'"}]}`),
  ),
  c(
    "unknown-field",
    "a Deny rule's cel names a field `request` does not have (`request.paht`)",
    invalid("No such key: paht"),
    ruled(`{defaultAction: Allow, rules: [{action: Deny, cel: "request.paht.startsWith('/x')"}]}`),
  ),
  c(
    "unavailable-attribute",
    "a rule's cel reads `source.address`, which Envoy formats with the connection's port and Portcullis is not told",
    invalid("source is Envoy's downstream address with its port"),
    ruled(`{rules: [{action: Allow, cel: "source.address == '10.0.0.1:0'"}]}`),
  ),
  c(
    "not-boolean",
    "a rule's cel gives a string (`request.headers['x-allow']`)",
    invalid("it evaluates to string, not to a boolean"),
    ruled(`{rules: [{action: Allow, cel: "request.headers['x-allow']"}]}`, { "x-allow": "true" }),
  ),
  c(
    "principal-unknown-variable",
    "`principal.cel` names a variable that does not exist (`user.role == 'admin'`) in a Deny rule",
    invalid("Unknown variable: user"),
    ruled(`{defaultAction: Allow, rules: [{action: Deny, principal: {cel: "user.role == 'admin'"}}]}`),
    "an unknown variable was an evaluation error at every request, so the rule silently matched every request as a Deny (and none as an Allow); the expression is now type-checked when the policy compiles and the policy is Invalid",
  ),
  c(
    "rule-without-principal-or-cel",
    "a rule with neither principal nor cel (Envoy Gateway's CRD refuses it)",
    invalid("set principal or cel"),
    ruled("{rules: [{action: Allow}]}"),
  ),
  c(
    "repeated-header-deny",
    "Deny `request.headers['x-role'] == 'admin'`, default Allow; x-role sent twice, `admin` and `admin` (Envoy reads `admin,admin`, the upstream `admin`)",
    {
      status: 403,
      code: "authz_denied",
      reason: "denied by authorization rule no-admin (reading the first line (or list element) of a header)",
    },
    ruled(`{defaultAction: Allow, rules: [{name: no-admin, action: Deny, cel: "request.headers['x-role'] == 'admin'"}]}`, {
      "x-role": ["admin", "admin"],
    }),
    "a header sent on two lines was read only as Envoy joins them (`admin,admin`), which no Deny value equals, while an upstream reads one line; each line is now a reading too when rules read headers",
  ),
  c(
    "repeated-header-principal-cel",
    "Deny `principal.cel` `request.headers['x-role'] == 'admin'`, default Allow; x-role sent as `user` then `admin`",
    {
      status: 403,
      code: "authz_denied",
      reason: "denied by authorization rule no-admin (reading the last line (or list element) of a header)",
    },
    ruled(`{defaultAction: Allow, rules: [{name: no-admin, action: Deny, principal: {cel: "request.headers['x-role'] == 'admin'"}}]}`, {
      "x-role": ["user", "admin"],
    }),
    "principal.cel read the lines joined (`user, admin`); each line is now a reading too",
  ),
  c(
    "principal-query-as-sent",
    "Deny `principal.cel` `request.query.tag == 'c++'`, default Allow; `?tag=c++` (decoded as a form, `+` is a space; Envoy's route match and RFC 3986 decoders read `c++`)",
    { status: 403, code: "authz_denied", reason: "denied by authorization rule no-cpp" },
    ruled(
      `{defaultAction: Allow, rules: [{name: no-cpp, action: Deny, principal: {cel: "request.query.tag == 'c++'"}}]}`,
      {},
      false,
      "?tag=c++",
    ),
    "principal.cel's request.query was decoded as a form only (URLSearchParams), while route matches compare the query as sent; it is now first read as Envoy's route match reads it (first value, split at &, as sent), then on every other reading of the query (last value, split at ; too, percent-decoded), and all must allow",
  ),
  c(
    "principal-query-decoded",
    "Deny `principal.cel` `request.query.role == 'admin'`, default Allow; `?role=%61dmin` (Envoy's reading as sent is `%61dmin`, upstreams decode `admin`)",
    { status: 403, code: "authz_denied", reason: "reading the first value of a name in the query split at &, percent-decoded" },
    ruled(
      `{defaultAction: Allow, rules: [{name: no-admin, action: Deny, principal: {cel: "'role' in request.query && request.query.role == 'admin'"}}]}`,
      {},
      false,
      "?role=%61dmin",
    ),
  ),
  c(
    "principal-query-go-skips-semicolon-pair",
    "Deny `principal.cel` `request.query.role == 'admin'`, default Allow; `?role=x;&role=admin&role=user` (Go's net/url drops `role=x;` and reads `admin`; Envoy reads `x;`, the last is `user`)",
    { status: 403, code: "authz_denied", reason: "denied by authorization rule no-admin (reading Go's" },
    ruled(
      `{defaultAction: Allow, rules: [{name: no-admin, action: Deny, principal: {cel: "'role' in request.query && request.query.role == 'admin'"}}]}`,
      {},
      false,
      "?role=x;&role=admin&role=user",
    ),
    "no reading of the query skipped the pairs Go's net/url drops (one holding \";\"), so the Deny rule never saw the `admin` a Go upstream acts on; Go's and Tomcat's readings are now decided too",
  ),
  c(
    "rule-query-as-sent",
    "Deny a rule's `cel` `request.query.contains('role=admin')`, default Allow; `?role=%61dmin`: Envoy's CEL reads the query text as sent, so the rule does not apply (as in Envoy Gateway; principal.cel's map is decided on every reading)",
    { status: 200, code: "allowed" },
    ruled(
      `{defaultAction: Allow, rules: [{name: no-admin, action: Deny, cel: "request.query.contains('role=admin')"}]}`,
      {},
      false,
      "?role=%61dmin",
    ),
  ),
  c(
    "host-utf8",
    "Deny `request.host == 'café.example.com'` (default Allow); the Host sent as the UTF-8 bytes of `café.example.com` (nginx passes such a Host on)",
    { status: 403, code: "authz_denied", reason: "denied by authorization rule no-cafe" },
    onUtf8Host(`{defaultAction: Allow, rules: [{name: no-cafe, action: Deny, cel: "request.host == 'café.example.com'"}]}`),
    "a rule's cel read `request.host` and `:authority` as the bytes one character per byte (`cafÃ©…`), while every other value is read as UTF-8 text, so the Deny rule never applied",
  ),
  c(
    "invalid-utf8-allow",
    "Allow `request.headers['x-name'] == '\\uFFFD'` (default Deny); the bytes `x-name: \\xFF`, which Envoy's CEL compares as the byte FF",
    { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" },
    ruled(`{rules: [{action: Allow, cel: "request.headers['x-name'] == '\\\\uFFFD'"}]}`, { "x-name": "\xFF" }, true),
    NOT_UTF8_FIXED,
  ),
  c(
    "invalid-utf8-deny",
    "Deny `request.headers['x-role'] == 'admin'` (default Allow); the bytes `x-role: \\xFE`: what Envoy's CEL makes of them cannot be told from the text, so the rule applies",
    { status: 403, code: "authz_denied", reason: "denied by authorization rule no-admin" },
    ruled(
      `{defaultAction: Allow, rules: [{name: no-admin, action: Deny, cel: "request.headers['x-role'] == 'admin'"}]}`,
      { "x-role": "\xFE" },
      true,
    ),
  ),
  c(
    "principal-header-invalid-utf8",
    "Allow principal.headers `x-team: [U+FFFD]` (default Deny); the bytes `x-team: \\xFF`, which Envoy's RBAC header matcher compares as the byte FF",
    { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" },
    ruled(`{rules: [{action: Allow, principal: {headers: [{name: x-team, values: ["\\uFFFD"]}]}}]}`, { "x-team": "\xFF" }, true),
    NOT_UTF8_FIXED,
  ),
  c(
    "repeated-header-allow-each",
    "Allow `request.headers['x-role'] == 'user'`; x-role sent twice, `user` and `user`: Envoy's reading (`user,user`) is not allowed",
    { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" },
    ruled(`{rules: [{action: Allow, cel: "request.headers['x-role'] == 'user'"}]}`, { "x-role": ["user", "user"] }),
  ),
];
