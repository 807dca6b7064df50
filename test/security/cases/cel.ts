/**
 * CEL: Envoy Gateway's rule-level `cel` over Envoy's attributes, and Portcullis' `principal.cel`.
 * An expression is type-checked when the policy compiles (a variable or field that does not exist
 * is Invalid, not a rule that never matches); at request time one that cannot be evaluated never
 * lets a request through: no match in an Allow rule, a match in a Deny rule, and so is one that
 * reads a request value holding bytes that are not UTF-8 (Envoy compares the bytes, Portcullis the
 * text). principal.headers compare as Envoy's RBAC compares bytes.
 */
import { parse } from "yaml";
import { gatewayWithRoute, policiesOnRules, securityPolicy } from "../../support/manifests.ts";
import { MAX_HEADER_LINES } from "../../../controller/snapshot/route-index.ts";
import { overGrpc, overWire } from "../context.ts";
import { utf8Bytes } from "../../../controller/lib/bytes.ts";
import { decider } from "../../support/world.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";

/**
 * /x under a policy with `authorization` (YAML flow map); GET /x`rest` (the rest of the path, a query)
 * with `headers`, as text or, with `byteStrings`, as the bytes an HTTP port receives (one character per byte).
 */
function ruled(authorization: string, headers: Record<string, string | string[]> = {}, byteStrings = false, rest = "") {
  return async (): Promise<Outcome> => {
    const d = decider(
      `${gatewayWithRoute("api.example.com", { x: "/x" })}---\n${securityPolicy("p", { authorization: parse(authorization) }, "x")}`,
    );
    const policy = d.result.snapshot.policies["apps/p"];
    return fromDecision(
      await d({ path: `/x${rest}`, headers, byteStrings }),
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

/** GET /x with Host `host` on a route for every host, whose policy has `authorization`. */
function onHost(authorization: string, host: string) {
  return async (): Promise<Outcome> => {
    const d = decider(`${gatewayWithRoute("", { x: "/x" })}---\n${securityPolicy("p", { authorization: parse(authorization) }, "x")}`);
    return fromDecision(await d({ host, path: "/x" }), managedHeadersOf(d.result.snapshot.policies));
  };
}

const PRINCIPAL_HOST_FIXED =
  "`principal.cel` read `request.host` on the Host's last reading only (the text before a `:` that is no port, without a trailing dot, as nginx and most upstreams take it), where Envoy's virtual host keeps both: an Allow on `request.host == 'public.example.com'` let `public.example.com:x` through, and a Deny written for Envoy's reading never applied; the expression is now decided on every reading of the Host";

const NOT_UTF8_FIXED =
  "the value was read as text, where a byte that is not UTF-8 is U+FFFD, so it equalled a U+FFFD written in the rule while Envoy compares the bytes (`FF` is not `EF BF BD`); a rule reading such a value is now decided as one that cannot be evaluated";

const CEL_PATH_FIXED =
  "a rule's `cel` (and `principal.cel`) read `request.path` only as sent, while the path readings of another letter case or without a suffix were made only where a route's or an operation's path value takes them: an expression over the path was escaped (a Deny) or satisfied (an Allow) by `/X/ADMIN`, `/x/admin/` or `/x/admin.json`, which Express, ASP.NET Core or Rails run as `/x/admin`; the path values an expression reading the path writes (its text literals starting with `/`) now make those readings too";

const CEL_PATTERN_FIXED =
  "the path values of a rule's `cel` were its text literals starting with `/`, so a `matches()` pattern over the path (`'^/x/admin'`) made no reading of another letter case or without a suffix: a Deny on `request.url_path.matches('^/x/admin')` allowed `/x/ADMIN` and `/x/admin.json`, which ASP.NET Core, Express or Rails run as `/x/admin`; each pattern of an expression reading the path is now a path value too, as the search it is";

const CEL_TEXT_FIXED =
  "a text a rule's `cel` compares the path with (`contains('/admin')`, `endsWith('admin')`, `indexOf('admin')`, `substring(2) == '/admin'`) was a path value only as an Exact and PathPrefix value, and only where it starts with `/`: a Deny on `request.url_path.contains('/admin')` allowed `/x/ADMIN`, one on `endsWith('admin')` `/x/Admin`, which ASP.NET Core and Express run as `/x/admin`; each text compared with the path, or with a text computed from it, is now also a path value the path contains and one it ends with";

/** GET /x`rest` under a policy whose Deny rule no-admin holds `expression` as its `cel` or its `principal.cel` (default Allow). */
function noAdminOn(rest: string, expression: string, where: "rule" | "principal" = "rule") {
  const cel = `cel: "${expression}"`;
  const rule = `{name: no-admin, action: Deny, ${where === "rule" ? cel : `principal: {${cel}}`}}`;
  return ruled(`{defaultAction: Allow, rules: [${rule}]}`, {}, false, rest);
}

const NO_ADMIN_DENIED: Expected = { status: 403, code: "authz_denied", reason: "denied by authorization rule no-admin" };

function c(id: string, title: string, expect: Expected, run: () => Promise<Outcome>, fixed?: string): Case {
  return { id: `cel.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}

const invalid = (condition: string): Expected => ({ status: 403, code: "policy_invalid", condition });

/**
 * A Deny rule whose cel reads `request.headers` by keys that cannot be known from it (the map passed
 * to `cel.bind`): x-role admin together with x-team red.
 */
const ANY_HEADER_RULE =
  "{name: bound-red-admin, action: Deny, cel: \"cel.bind(h, request.headers, h['x-role'] == 'admin' && h['x-team'] == 'red')\"}";

/**
 * Route /deny: a Deny rule's cel on `x-role` admin together with `x-team` red (default Allow). Route
 * /allow: an Allow rule's cel letting a guest in only on `x-plan` paid (default Deny). Route /any:
 * ANY_HEADER_RULE (default Allow). Route /any-admin: the same rule, only for paths under /any-admin/admin.
 */
const TWO_HEADER_CEL_WORLD = policiesOnRules("api.example.com", {
  deny: {
    path: "/deny",
    features: `authorization: {defaultAction: Allow, rules: [{name: red-admin, action: Deny, cel: "request.headers['x-role'] == 'admin' && request.headers['x-team'] == 'red'"}]}`,
  },
  allow: {
    path: "/allow",
    features: `authorization: {defaultAction: Deny, rules: [{name: paying-guests, action: Allow, cel: "request.headers['x-role'] != 'guest' || request.headers['x-plan'] == 'paid'"}]}`,
  },
  any: { path: "/any", features: `authorization: {defaultAction: Allow, rules: [${ANY_HEADER_RULE}]}` },
  "any-admin": {
    path: "/any-admin",
    features: `authorization: {defaultAction: Allow, rules: [{operation: {path: {value: /any-admin/admin}}, ${ANY_HEADER_RULE.slice(1)}]}`,
  },
});

/** A client's header lines, as it sent them. */
type Lines = readonly (readonly [string, string])[];

/** Admin of team red at other positions of two lists: x-role's first element, x-team's last. */
const RED_ADMIN_APART: Lines = [
  ["x-role", "admin,user"],
  ["x-team", "blue,red"],
];
/** A guest on the free plan at other positions of two lists: x-role's first element, x-plan's last. */
const FREE_GUEST_APART: Lines = [
  ["x-role", "guest,admin"],
  ["x-plan", "paid,free"],
];
/** What Chrome sends on a navigation: Accept × Accept-Encoding × Accept-Language × Sec-CH-UA elements are 8 × 4 × 2 × 3 = 192 choices. */
const BROWSER: Lines = [
  [
    "accept",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
  ],
  ["accept-encoding", "gzip, deflate, br, zstd"],
  ["accept-language", "en-US,en;q=0.9"],
  ["sec-ch-ua", '"Chromium";v="131", "Not_A Brand";v="24", "Google Chrome";v="131"'],
  ["user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"],
];

const PORTS = ["envoy", "forward", "grpc", "grpc-header-map"] as const;
/** Whether `port` answers over the wire, where a denial tells the client no reason. */
const onWire = (port: (typeof PORTS)[number]): port is "envoy" | "forward" => port === "envoy" || port === "forward";

/** A user of team blue, whom no rule denies. */
const BLUE_USER: Lines = [
  ["x-role", "user"],
  ["x-team", "blue"],
];

/** `path` of TWO_HEADER_CEL_WORLD with the client's `lines` on one port (the gRPC ports as Envoy hands them the lines: joined, or one entry each). */
function twoHeaderCel(port: (typeof PORTS)[number], path: string, lines: Lines): () => Promise<Outcome> {
  if (onWire(port)) return () => overWire(TWO_HEADER_CEL_WORLD, port, path, lines);
  if (port === "grpc-header-map")
    return () => overGrpc(TWO_HEADER_CEL_WORLD, path, { header_map: { headers: lines.map(([key, value]) => ({ key, value })) } });
  const joined: Record<string, string> = {};
  for (const [name, value] of lines) joined[name] = joined[name] === undefined ? value : `${joined[name]},${value}`;
  return () => overGrpc(TWO_HEADER_CEL_WORLD, path, { headers: joined });
}

const portName = (port: (typeof PORTS)[number]) =>
  ({ envoy: "wire, Envoy's HTTP check", forward: "wire, forward-auth", grpc: "gRPC `headers`", "grpc-header-map": "gRPC `header_map`" })[
    port
  ];

const CEL_SAME_INDEX_FIXED =
  "a line reading of a CEL expression took the same line index in every header (x-role's first element with x-team's first, then both last), never x-role's first with x-team's last, so an expression over two headers was escaped (a Deny) or satisfied (an Allow) by putting the values at other positions; each choice of one line (or element) of each header the expression names is now a reading, and an expression that reads headers by keys that cannot be known from it (the map passed to a macro) is decided on every choice of every header";

const DENIED: Expected = { status: 403, code: "authz_denied" };
const TOO_MANY_CHOICES: Expected = {
  status: 431,
  code: "request_invalid",
  reason: `more than ${MAX_HEADER_LINES} lines or comma-separated elements`,
};

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
    "principal-source-undetermined",
    "Allow `principal.cel: source.address != '192.0.2.66'` (all but one address), no X-Forwarded-For on the HTTP port: the client address cannot be determined",
    DENIED,
    ruled(`{rules: [{action: Allow, principal: {cel: "source.address != '192.0.2.66'"}}]}`),
    "an address that could not be determined was the empty text, which the expression allowed (it is not 192.0.2.66) though the client could be that address; an expression naming source now never holds in an Allow rule, and always in a Deny rule, where the address cannot be determined",
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
    "principal-query-other-case-name",
    "Deny `principal.cel` `'userId' in request.query && request.query.userId == 'admin'`, default Allow; `?userid=admin` (Envoy finds no userId; ASP.NET Core reads a name in any letter case)",
    { status: 403, code: "authz_denied", reason: "denied by authorization rule no-admin (reading ASP.NET Core's" },
    ruled(
      `{defaultAction: Allow, rules: [{name: no-admin, action: Deny, principal: {cel: "'userId' in request.query && request.query.userId == 'admin'"}}]}`,
      {},
      false,
      "?userid=admin",
    ),
    "ASP.NET Core's reading of request.query held the names sent and their lower-case forms, so a name written with an upper-case letter was found only in that very spelling and the Deny rule never saw the `admin` an ASP.NET Core upstream reads; that reading now looks a name up in any letter case",
  ),
  c(
    "principal-query-other-case-index",
    "Deny `principal.cel` `'USERID' in request.query && request.query['USERID'] == 'admin'`, default Allow; `?x=1&userId=admin`",
    { status: 403, code: "authz_denied", reason: "denied by authorization rule no-admin" },
    ruled(
      `{defaultAction: Allow, rules: [{name: no-admin, action: Deny, principal: {cel: "'USERID' in request.query && request.query['USERID'] == 'admin'"}}]}`,
      {},
      false,
      "?x=1&userId=admin",
    ),
    "see cel.principal-query-other-case-name",
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
  ...PORTS.map((port) =>
    c(
      `deny-two-headers-other-elements-${port}`,
      `${portName(port)}: Deny \`request.headers['x-role'] == 'admin' && request.headers['x-team'] == 'red'\` (default Allow); \`x-role: admin,user\` and \`x-team: blue,red\`, so an upstream taking x-role's first element and x-team's last reads admin of team red`,
      onWire(port)
        ? DENIED
        : { ...DENIED, reason: "denied by authorization rule red-admin (reading lines 1, 2 (or list elements) of 2 headers)" },
      twoHeaderCel(port, "/deny", RED_ADMIN_APART),
      port === "envoy" ? CEL_SAME_INDEX_FIXED : undefined,
    ),
  ),
  ...PORTS.map((port) =>
    c(
      `allow-two-headers-other-elements-${port}`,
      `${portName(port)}: Allow \`request.headers['x-role'] != 'guest' || request.headers['x-plan'] == 'paid'\` (default Deny); \`x-role: guest,admin\` and \`x-plan: paid,free\`, so an upstream taking x-role's first element and x-plan's last reads a guest on the free plan`,
      onWire(port)
        ? DENIED
        : { ...DENIED, reason: "no authorization rule allows the request (reading lines 1, 2 (or list elements) of 2 headers)" },
      twoHeaderCel(port, "/allow", FREE_GUEST_APART),
      port === "envoy" ? CEL_SAME_INDEX_FIXED : undefined,
    ),
  ),
  c(
    "allow-two-headers-every-choice",
    "wire, Envoy's HTTP check: the Allow rule above; `x-role: admin,user` and `x-plan: free`: no choice of elements reads a guest",
    { status: 200, code: "allowed" },
    twoHeaderCel("envoy", "/allow", [
      ["x-role", "admin,user"],
      ["x-plan", "free"],
    ]),
  ),
  c(
    "browser-request-named-headers",
    "wire, Envoy's HTTP check: the Deny rule on x-role and x-team (route /deny); a browser's request (Accept of 8 elements, Accept-Encoding of 4, Accept-Language of 2, Sec-CH-UA of 3: 192 choices, which the expression does not read) with `x-role: user`",
    { status: 200, code: "allowed" },
    twoHeaderCel("envoy", "/deny", [...BROWSER, ["x-role", "user"]]),
  ),
  c(
    "unnamed-header-many-elements",
    `wire, Envoy's HTTP check: the Deny rule on x-role and x-team (route /deny); \`x-role: user\` and \`x-client-metadata\` holding a JSON object of ${MAX_HEADER_LINES + 7} comma-separated members, a header the expression does not name`,
    { status: 200, code: "allowed" },
    twoHeaderCel("envoy", "/deny", [
      ["x-role", "user"],
      ["x-client-metadata", `{${Array.from({ length: MAX_HEADER_LINES + 7 }, (_, i) => `"k${i}":${i}`).join(",")}}`],
    ]),
    `every header's lines and list elements were readings of a CEL expression, so a header it never reads with more than ${MAX_HEADER_LINES} elements was refused 431; only the headers it names by a literal key are, when it reads none by a computed key`,
  ),
  c(
    "named-headers-too-many-choices",
    `wire, Envoy's HTTP check: the Deny rule on x-role and x-team (route /deny); x-role of 9 elements and x-team of 8: 72 choices of one of each, more than ${MAX_HEADER_LINES}`,
    TOO_MANY_CHOICES,
    twoHeaderCel("envoy", "/deny", [
      ["x-role", "r1,r2,r3,r4,r5,r6,r7,r8,r9"],
      ["x-team", "t1,t2,t3,t4,t5,t6,t7,t8"],
    ]),
  ),
  c(
    "unknown-keys-other-elements",
    "wire, Envoy's HTTP check: Deny `cel.bind(h, request.headers, h['x-role'] == 'admin' && h['x-team'] == 'red')` (default Allow: the map passed whole, its keys unknown); `x-role: admin,user` and `x-team: blue,red`",
    DENIED,
    twoHeaderCel("envoy", "/any", RED_ADMIN_APART),
    CEL_SAME_INDEX_FIXED,
  ),
  c(
    "unknown-keys-browser-request",
    `wire, Envoy's HTTP check: the Deny rule reading headers by unknown keys (route /any); a browser's request of a user of team blue, whose lists make 192 choices of one element of each header, more than ${MAX_HEADER_LINES}: refused rather than decided on a few`,
    TOO_MANY_CHOICES,
    twoHeaderCel("envoy", "/any", [...BROWSER, ...BLUE_USER]),
  ),
  c(
    "unknown-keys-rule-not-reached",
    "wire, Envoy's HTTP check: the Deny rule reading headers by unknown keys, for paths under /any-admin/admin only; the same browser's request to /any-admin/home, where the rule is never evaluated",
    { status: 200, code: "allowed" },
    twoHeaderCel("envoy", "/any-admin/home", [...BROWSER, ...BLUE_USER]),
  ),
  c(
    "path-other-case-deny",
    "Deny a rule's `cel` `request.path.startsWith('/x/admin')` (default Allow); `/x/ADMIN` (Express and ASP.NET Core route it as their `/x/admin`)",
    NO_ADMIN_DENIED,
    noAdminOn("/ADMIN", "request.path.startsWith('/x/admin')"),
    CEL_PATH_FIXED,
  ),
  c(
    "path-trailing-slash-deny",
    "Deny a rule's `cel` `request.url_path == '/x/admin'` (default Allow); `/x/admin/` (Express and ASP.NET Core drop the trailing slash)",
    NO_ADMIN_DENIED,
    noAdminOn("/admin/", "request.url_path == '/x/admin'"),
    CEL_PATH_FIXED,
  ),
  c(
    "path-format-deny",
    "Deny a rule's `cel` `request.path == '/x/admin' || request.path.startsWith('/x/admin?')` (default Allow); `/x/admin.json?a=1` (Rails runs it as `/x/admin` with format json)",
    NO_ADMIN_DENIED,
    noAdminOn("/admin.json?a=1", "request.path == '/x/admin' || request.path.startsWith('/x/admin?')"),
    CEL_PATH_FIXED,
  ),
  c(
    "path-other-case-allow",
    "Allow a rule's `cel` `!request.url_path.startsWith('/x/admin')` (default Deny); `/x/Admin/users`",
    { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" },
    ruled(`{rules: [{name: not-admin, action: Allow, cel: "!request.url_path.startsWith('/x/admin')"}]}`, {}, false, "/Admin/users"),
    CEL_PATH_FIXED,
  ),
  c(
    "path-other-case-pseudo-header",
    "Deny a rule's `cel` `request.headers[':path'] == '/x/admin'` (default Allow); `/x/ADMIN`",
    NO_ADMIN_DENIED,
    noAdminOn("/ADMIN", "request.headers[':path'] == '/x/admin'"),
    CEL_PATH_FIXED,
  ),
  c(
    "principal-path-other-case",
    "Deny `principal.cel` `request.path == '/x/admin'` (default Allow); `/x/aDmIn`",
    NO_ADMIN_DENIED,
    noAdminOn("/aDmIn", "request.path == '/x/admin'", "principal"),
    CEL_PATH_FIXED,
  ),
  c(
    "path-other-case-other-path",
    "Deny a rule's `cel` `request.url_path == '/x/admin'` (default Allow); `/x/ADMINS`, which no upstream runs as `/x/admin`",
    { status: 200, code: "allowed" },
    noAdminOn("/ADMINS", "request.url_path == '/x/admin'"),
  ),
  c(
    "path-regex-other-case-deny",
    "Deny a rule's `cel` `request.url_path.matches('^/x/admin')` (default Allow); `/x/ADMIN`",
    NO_ADMIN_DENIED,
    noAdminOn("/ADMIN", "request.url_path.matches('^/x/admin')"),
    CEL_PATTERN_FIXED,
  ),
  c(
    "path-regex-format-deny",
    "Deny a rule's `cel` `request.url_path.matches('^/x/admin$')` (default Allow); `/x/admin.json`",
    NO_ADMIN_DENIED,
    noAdminOn("/admin.json", "request.url_path.matches('^/x/admin$')"),
    CEL_PATTERN_FIXED,
  ),
  c(
    "path-contains-other-case-deny",
    "Deny a rule's `cel` `request.url_path.contains('/admin')` (default Allow); `/x/ADMIN`",
    NO_ADMIN_DENIED,
    noAdminOn("/ADMIN", "request.url_path.contains('/admin')"),
    CEL_TEXT_FIXED,
  ),
  c(
    "path-ends-with-other-case-deny",
    "Deny a rule's `cel` `request.url_path.endsWith('admin')` (default Allow); `/x/Admin`",
    NO_ADMIN_DENIED,
    noAdminOn("/Admin", "request.url_path.endsWith('admin')"),
    CEL_TEXT_FIXED,
  ),
  c(
    "path-index-of-other-case-deny",
    "Deny a rule's `cel` `request.url_path.indexOf('admin') >= 0` (default Allow); `/x/ADMIN`",
    NO_ADMIN_DENIED,
    noAdminOn("/ADMIN", "request.url_path.indexOf('admin') >= 0"),
    CEL_TEXT_FIXED,
  ),
  c(
    "path-substring-other-case-deny",
    "Deny a rule's `cel` `request.url_path.substring(2) == '/admin'` (default Allow); `/x/ADMIN`",
    NO_ADMIN_DENIED,
    noAdminOn("/ADMIN", "request.url_path.substring(2) == '/admin'"),
    CEL_TEXT_FIXED,
  ),
  c(
    "path-text-mixed-case",
    "Deny a rule's `cel` `request.url_path.contains('/Admin')` (default Allow); `/x/admin-tools`: read as `/x/Admin-tools` (the text spelt as written), denied by the rule, not refused as a path no spelling takes",
    NO_ADMIN_DENIED,
    noAdminOn("/admin-tools", "request.url_path.contains('/Admin')"),
  ),
  c(
    "path-text-method-literal",
    "Allow a rule's `cel` `request.method == 'GET' && request.url_path.startsWith('/x')` (default Deny); GET `/x/get`: the method's literal makes no path reading",
    { status: 200, code: "allowed" },
    ruled(
      `{rules: [{name: get-x, action: Allow, cel: "request.method == 'GET' && request.url_path.startsWith('/x')"}]}`,
      {},
      false,
      "/get",
    ),
  ),
  c(
    "path-regex-other-path",
    "Deny a rule's `cel` `request.url_path.matches('^/x/admin$')` (default Allow); `/x/ADMINS`, which no upstream runs as `/x/admin`",
    { status: 200, code: "allowed" },
    noAdminOn("/ADMINS", "request.url_path.matches('^/x/admin$')"),
  ),
  c(
    "principal-host-every-reading-allow",
    "Allow `principal.cel` `request.host == 'public.example.com'` (default Deny), on a route for every host; Host `public.example.com:x`, which Envoy's virtual host reads with its `:x` and nginx or Express as `public.example.com`",
    { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" },
    onHost(
      `{defaultAction: Deny, rules: [{name: public, action: Allow, principal: {cel: "request.host == 'public.example.com'"}}]}`,
      "public.example.com:x",
    ),
    PRINCIPAL_HOST_FIXED,
  ),
  c(
    "principal-host-every-reading-deny",
    "Deny `principal.cel` `request.host.endsWith('.com.')` (default Allow), on a route for every host; Host `admin.example.com.`, whose trailing dot Envoy Gateway's listener keeps (stripTrailingHostDot unset)",
    { status: 403, code: "authz_denied", reason: "denied by authorization rule no-dot" },
    onHost(
      `{defaultAction: Allow, rules: [{name: no-dot, action: Deny, principal: {cel: "request.host.endsWith('.com.')"}}]}`,
      "admin.example.com.",
    ),
    PRINCIPAL_HOST_FIXED,
  ),
  c(
    "principal-host-one-reading",
    "Allow `principal.cel` `request.host == 'public.example.com'` (default Deny); Host `Public.Example.COM:8080`, which every reading takes as `public.example.com`",
    { status: 200, code: "allowed" },
    onHost(
      `{defaultAction: Deny, rules: [{name: public, action: Allow, principal: {cel: "request.host == 'public.example.com'"}}]}`,
      "Public.Example.COM:8080",
    ),
  ),
];
