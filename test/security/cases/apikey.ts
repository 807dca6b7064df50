/**
 * API keys on /keys: extractFrom X-API-Key header, then `api_key` query parameter, then `apikey`
 * cookie; forwardClientIDHeader x-client-id. Variants of a real key, empty values, keys in several
 * places at once. (Timing is proved structurally in timing.test.ts, not by measuring.)
 */
import { toAuthzRequest } from "../../../controller/server/grpc.ts";
import { gatewayWithRoute, secret, securityPolicy } from "../../support/manifests.ts";
import { decider } from "../../support/world.ts";
import type { Ctx } from "../context.ts";
import { fromDecision, managedHeadersOf, type Case, type Expected, type Outcome } from "../outcome.ts";
import { HOST } from "../world.ts";

const ALICE: Expected = { status: 200, code: "allowed", upstream: { "x-client-id": "alice" } };
const invalid = (reason = "the API key is not valid"): Expected => ({ status: 401, code: "apikey_invalid", reason });
/** carol's key is `clé-ü-key`: non-ASCII, read from the same UTF-8 bytes on every port (issue 12 item 10). */
const CAROL: Expected = { status: 200, code: "allowed", upstream: { "x-client-id": "carol" } };
const CAROL_KEY = "clé-ü-key";
/** dave's key is `dave key`: a space, which a form may spell `+` and Envoy does not. */
const DAVE: Expected = { status: 200, code: "allowed", upstream: { "x-client-id": "dave" } };
const missing: Expected = { status: 401, code: "apikey_missing", reason: "no API key in the request" };
/** A key found only where Envoy's api_key_auth does not read it: Envoy finds none there and answers 401. */
const unread: Expected = { status: 401, code: "apikey_missing", reason: "not where the proxy reads it" };

/** GET /x on api.example.com with this Cookie header, under a policy reading alice's and bob's keys from the cookie `api_key`. */
async function keyCookie(cookie: string): Promise<Outcome> {
  const world = (underscoreCookieWorld ??= decider(
    `${gatewayWithRoute("api.example.com", { x: "/x" })}---\n${secret("keys", { alice: "alice-key", bob: "bob-key" })}---\n${securityPolicy(
      "p",
      { apiKeyAuth: { credentialRefs: [{ name: "keys" }], extractFrom: [{ cookies: ["api_key"] }], forwardClientIDHeader: "x-client-id" } },
      "x",
    )}`,
  ));
  return fromDecision(await world({ path: "/x", headers: { cookie } }), managedHeadersOf(world.result.snapshot.policies));
}
let underscoreCookieWorld: ReturnType<typeof decider> | undefined;

const PHP_COOKIE_NAME =
  "a cookie was read under its name as sent (and in any letter case) only, while PHP registers `api.key`, `api key` and `api_key[0]` as its $_COOKIE['api_key'] and keeps the first cookie of a name: bob's key there, the request allowed as alice; such a cookie is now read under PHP's name too";

function c(id: string, title: string, expect: Expected, run: (ctx: Ctx) => Promise<Outcome>, fixed?: string): Case {
  return { id: `apikey.${id}`, title, expect, run, ...(fixed === undefined ? {} : { fixed }) };
}
/** A case that sends `key` as X-API-Key to /keys. */
const h = (id: string, title: string, expect: Expected, key: string, fixed?: string) =>
  c(id, title, expect, (ctx) => ctx.check({ path: "/keys", headers: { "x-api-key": key } }), fixed);

export const apiKeyCases: readonly Case[] = [
  c("missing", "no key anywhere", missing, (ctx) => ctx.check({ path: "/keys" })),
  h("valid", "alice's key in X-API-Key", ALICE, "alice-key"),
  h("prefix", "alice's key with a character prepended", invalid(), "xalice-key"),
  h("suffix", "alice's key with a character appended", invalid(), "alice-keyx"),
  h("truncated", "alice's key without its last character", invalid(), "alice-ke"),
  h("case", "alice's key in upper case", invalid(), "ALICE-KEY"),
  h("first-char", "alice's key with the first character changed (same code path as the last: see timing)", invalid(), "blice-key"),
  h("last-char", "alice's key with the last character changed", invalid(), "alice-kez"),
  h("homoglyph", "alice's key with a Cyrillic а", invalid(), "\u0430lice-key"),
  h("client-id", "the client id instead of the key", invalid(), "alice"),
  h(
    "proto-client",
    "the key of the Secret's client named `__proto__` (a data key)",
    { status: 200, code: "allowed", upstream: { "x-client-id": "__proto__" } },
    "proto-client-key",
    "a Secret data key named __proto__ was dropped: that client's key was refused",
  ),
  ...["__proto__", "constructor", "toString", "hasOwnProperty"].map((name) =>
    h(`prototype-name-${name}`, `\`${name}\` as the key (a name every plain object answers to)`, invalid(), name),
  ),
  h("ows", "alice's key with surrounding spaces (optional whitespace is not part of a header value)", ALICE, "  alice-key  "),
  h("nul", "alice's key followed by NUL", invalid(), "alice-key\u0000"),
  h("huge", "a 60 KiB key", invalid(), "k".repeat(60 * 1024)),
  h(
    "bearer-prefixed",
    "`Bearer alice-key` in X-API-Key (a leading `Bearer ` is cut off, as Envoy's api_key_auth)",
    ALICE,
    "Bearer alice-key",
  ),
  h(
    "bearer-lower-case",
    "`bearer alice-key` (Envoy cuts off exactly `Bearer `; the rest is the key)",
    invalid(),
    "bearer alice-key",
    "a leading scheme was matched in any case and the key tried with and without it; Envoy's filter cuts off exactly `Bearer ` and looks up what remains, once",
  ),
  h("bearer-twice", "`Bearer Bearer alice-key`", invalid(), "Bearer Bearer alice-key"),
  c("query-space", "`?api_key=alice-key%20`", invalid(), (ctx) => ctx.check({ path: "/keys?api_key=alice-key%20" })),
  c("query-encoded", "`?api_key=alice%2Dkey` (the query's own percent-encoding is decoded)", ALICE, (ctx) =>
    ctx.check({ path: "/keys?api_key=alice%2Dkey" }),
  ),
  c("empty-header", "empty X-API-Key (absent), nothing else", missing, (ctx) => ctx.check({ path: "/keys", headers: { "x-api-key": "" } })),
  c("empty-query", "`?api_key=`", missing, (ctx) => ctx.check({ path: "/keys?api_key=" })),
  c("empty-cookie", "`Cookie: apikey=`", missing, (ctx) => ctx.check({ path: "/keys", headers: { cookie: "apikey=" } })),
  c("empty-header-then-query", "empty X-API-Key, then a valid `api_key` (the first source present is used)", ALICE, (ctx) =>
    ctx.check({ path: "/keys?api_key=alice-key", headers: { "x-api-key": "" } }),
  ),
  c("empty-query-then-cookie", "`?api_key=` and alice's key cookie (Envoy's api_key_auth goes on past an empty source)", ALICE, (ctx) =>
    ctx.check({ path: "/keys?api_key=", headers: { cookie: "apikey=alice-key" } }),
  ),
  c(
    "bearer-alone-then-query",
    "`X-API-Key: Bearer ` and a valid `api_key` (the proxy trims the line to `Bearer`, a key of no client: Envoy stops there)",
    invalid(),
    (ctx) => ctx.check({ path: "/keys?api_key=alice-key", headers: { "x-api-key": "Bearer " } }),
  ),
  c(
    "empty-line-then-other-line",
    "wire: an empty X-API-Key line, then bob's, with alice's key in `api_key` (Envoy reads the first line, empty, and takes alice's parameter; an upstream may read bob's line)",
    invalid("more than one header x-api-key was sent"),
    (ctx) =>
      ctx.envoy("/keys?api_key=alice-key", [
        ["x-api-key", ""],
        ["x-api-key", "bob-key"],
      ]),
  ),
  ...[
    ["nbsp", "\u00a0", "a no-break space"],
    ["bom", "\ufeff", "a byte order mark"],
    ["ideographic-space", "\u3000", "an ideographic space"],
  ].map(([id, space, name]) =>
    h(
      `unicode-space-${id}`,
      `alice's key with ${name} after it (the proxy trims only spaces and tabs: a key of no client)`,
      invalid(),
      `alice-key${space}`,
      "a header key was trimmed of every Unicode space (String.trim), so alice was authenticated where Envoy looks up the key with the space and answers 401",
    ),
  ),
  c(
    "header-and-query",
    "valid X-API-Key and a wrong `api_key` (Envoy reads the first source; an upstream reading the parameter reads the wrong key)",
    invalid("a different API key was sent in another place"),
    (ctx) => ctx.check({ path: "/keys?api_key=wrong", headers: { "x-api-key": "alice-key" } }),
    "the first source holding a key was read and the later ones left unread, as Envoy reads them, so alice was authenticated while an upstream reading `api_key` read another key; a later source holding a different key is now a second reading, refused",
  ),
  c(
    "header-and-cookie-other-client",
    "alice's key in X-API-Key and bob's in the `apikey` cookie (an upstream reading the cookie reads bob)",
    invalid("a different API key was sent in another place"),
    (ctx) => ctx.check({ path: "/keys", headers: { "x-api-key": "alice-key", cookie: "apikey=bob-key" } }),
    "a later source's key was never read: alice was authenticated while bob's key went upstream in the cookie",
  ),
  c(
    "header-and-cookie-after-comma",
    "alice's key in X-API-Key and `Cookie: theme=dark,apikey=bob-key` (Rack before 2.2 and RFC 2965 cookie parsers split at `,` too: bob's key)",
    invalid("a different API key was sent in another place"),
    (ctx) => ctx.check({ path: "/keys", headers: { "x-api-key": "alice-key", cookie: "theme=dark,apikey=bob-key" } }),
    "the Cookie header was split at `;` only, so bob's key after a `,` was never read: alice was authenticated while an upstream splitting at `,` too (Rack before 2.2, Tomcat's legacy cookie processor, Jetty's RFC 2965 mode) read bob's key; a pair's pieces split at `,` are now a reading too",
  ),
  c(
    "cookie-after-comma-only",
    "`Cookie: theme=dark,apikey=alice-key` alone (Envoy finds no `apikey` cookie; a parser splitting at `,` finds alice's)",
    unread,
    (ctx) => ctx.check({ path: "/keys", headers: { cookie: "theme=dark,apikey=alice-key" } }),
  ),
  c("cookie-comma-in-other-value", "`Cookie: theme=dark,light; apikey=alice-key` (a comma in another cookie's value)", ALICE, (ctx) =>
    ctx.check({ path: "/keys", headers: { cookie: "theme=dark,light; apikey=alice-key" } }),
  ),
  c("header-and-query-same-key", "alice's key in X-API-Key and in `api_key` (every source reads alice)", ALICE, (ctx) =>
    ctx.check({ path: "/keys?api_key=alice-key", headers: { "x-api-key": "alice-key" } }),
  ),
  c("header-and-empty-query", "alice's key in X-API-Key and an empty `api_key` (no key there on any reading)", ALICE, (ctx) =>
    ctx.check({ path: "/keys?api_key=", headers: { "x-api-key": "alice-key" } }),
  ),
  c("wrong-header-good-query", "wrong X-API-Key and a valid `api_key`", invalid(), (ctx) =>
    ctx.check({ path: "/keys?api_key=alice-key", headers: { "x-api-key": "wrong" } }),
  ),
  c("two-header-lines", "wire: two X-API-Key lines (alice's and bob's)", invalid("more than one header x-api-key was sent"), (ctx) =>
    ctx.envoy("/keys", [
      ["x-api-key", "alice-key"],
      ["x-api-key", "bob-key"],
    ]),
  ),
  c("query-twice", "`?api_key=alice-key&api_key=bob-key`", invalid("more than one param api_key was sent"), (ctx) =>
    ctx.check({ path: "/keys?api_key=alice-key&api_key=bob-key" }),
  ),
  c(
    "query-name-other-case-twice",
    "`?API_KEY=bob-key&api_key=alice-key` (Envoy reads alice's; ASP.NET Core reads parameter names in any case: api_key twice)",
    invalid("more than one param api_key was sent"),
    (ctx) => ctx.check({ path: "/keys?API_KEY=bob-key&api_key=alice-key" }),
    "query parameter names were compared case-sensitively, as Envoy compares them, so alice was authenticated while bob's key went upstream under a name ASP.NET Core (whose query names are case-insensitive) reads as api_key; a parameter whose name matches in any case is now a copy, and a repeated key parameter is refused",
  ),
  c(
    "query-name-encoded-other-case-twice",
    "`?api_key=alice-key&%41pi_key=bob-key` (the second name is `Api_key` once decoded, with no upper-case letter as sent)",
    invalid("more than one param api_key was sent"),
    (ctx) => ctx.check({ path: "/keys?api_key=alice-key&%41pi_key=bob-key" }),
    "a query was looked through for names in another letter case only when it held an upper-case letter as sent, so a percent-encoded one (`%41` is `A`) was missed: alice was authenticated while bob's key went upstream under a name ASP.NET Core reads as api_key; a query holding a `%` is now looked through too",
  ),
  c(
    "query-name-other-case-only",
    "`?Api_Key=alice-key` and no other key (only a reader of names in any case finds it; Envoy finds none)",
    unread,
    (ctx) => ctx.check({ path: "/keys?Api_Key=alice-key" }),
  ),
  c(
    "query-semicolon",
    "`?api_key=alice-key;api_key=bob-key` (one parameter split at `&`, two at `;`)",
    invalid("more than one param api_key was sent"),
    (ctx) => ctx.check({ path: "/keys?api_key=alice-key;api_key=bob-key" }),
  ),
  c(
    "query-php-name",
    "`?api_key=alice-key&api.key=bob-key` (PHP reads `api.key` as api_key: bob's key there)",
    invalid("more than one param api_key was sent"),
    (ctx) => ctx.check({ path: "/keys?api_key=alice-key&api.key=bob-key" }),
    "a parameter PHP renames was not read, so alice was authenticated while a PHP upstream read bob's key as api_key; it now counts as a second copy, refused as a repeated parameter",
  ),
  c(
    "query-php-name-first",
    "`?api.key=bob-key&api_key=alice-key` (PHP reads `api.key` as api_key, then the later `api_key` replaces it: alice's key on every reading)",
    ALICE,
    (ctx) => ctx.check({ path: "/keys?api.key=bob-key&api_key=alice-key" }),
  ),
  c(
    "query-only-after-semicolon",
    "`?x=1;api_key=alice-key` and no other key (Envoy splits the query at `&` only: its `x` is `1;api_key=alice-key`, and it finds no key)",
    unread,
    (ctx) => ctx.check({ path: "/keys?x=1;api_key=alice-key" }),
    'a key found only in a reading Envoy does not make (the query split at ";" too) authenticated alice, where Envoy\'s api_key_auth finds no key and answers 401; the key must be where Envoy reads it',
  ),
  c(
    "query-only-php-name",
    "`?api.key=alice-key` and no other key (only PHP reads `api.key` as api_key; Envoy finds no key)",
    unread,
    (ctx) => ctx.check({ path: "/keys?api.key=alice-key" }),
    "see apikey.query-only-after-semicolon",
  ),
  c(
    "query-only-leading-question-mark",
    "`??api_key=alice-key` (a form's reading drops the query's leading `?`; Envoy's first name is `?api_key`)",
    unread,
    (ctx) => ctx.check({ path: "/keys??api_key=alice-key" }),
    "see apikey.query-only-after-semicolon",
  ),
  c(
    "query-plus-read-as-space",
    "`?api_key=dave+key` where dave's key is `dave key` (a form reads `+` as a space; Envoy decodes only %XX and reads `dave+key`, no key)",
    invalid("more than one param api_key was sent"),
    (ctx) => ctx.check({ path: "/keys?api_key=dave+key" }),
    "see apikey.query-only-after-semicolon",
  ),
  c(
    "query-semicolon-then-cookie",
    "`?x=1;api_key=bob-key` with `Cookie: apikey=alice-key` (Envoy reads no parameter and takes alice's cookie; an upstream splitting at `;` sees bob's key)",
    unread,
    (ctx) => ctx.check({ path: "/keys?x=1;api_key=bob-key", headers: { cookie: "apikey=alice-key" } }),
    'bob\'s key, found only at a ";" of the query, authenticated bob while Envoy authenticates alice from her cookie; the readings disagree on who the client is, so the request is refused',
  ),
  c("query-space-encoded", "`?api_key=dave%20key` (dave's key `dave key`, encoded as every reading decodes it)", DAVE, (ctx) =>
    ctx.check({ path: "/keys?api_key=dave%20key" }),
  ),
  c("query-encoded-name", "`?%61pi_key=alice-key` (Envoy percent-decodes names too: its api_key is alice's key)", ALICE, (ctx) =>
    ctx.check({ path: "/keys?%61pi_key=alice-key" }),
  ),
  c("query-semicolon-in-value", "`?api_key=alice-key&x=1;y=2` (alice's key where Envoy reads it; `;` elsewhere)", ALICE, (ctx) =>
    ctx.check({ path: "/keys?api_key=alice-key&x=1;y=2" }),
  ),
  c(
    "query-dot-elsewhere",
    "`?api_key=alice-key&v=1.2&a.b=c` (alice's key where Envoy reads it; PHP renames only other names)",
    ALICE,
    (ctx) => ctx.check({ path: "/keys?api_key=alice-key&v=1.2&a.b=c" }),
  ),
  ...(["api.key", "api key", "api_key[0]"] as const).map((name) =>
    c(
      `cookie-php-name-${name === "api.key" ? "dot" : name === "api key" ? "space" : "array"}`,
      `\`Cookie: ${name}=bob-key; api_key=alice-key\` where the key cookie is \`api_key\` (Envoy reads alice's; PHP registers \`${name}\` as api_key first: bob's key there)`,
      invalid("more than one cookie api_key was sent"),
      () => keyCookie(`${name}=bob-key; api_key=alice-key`),
      PHP_COOKIE_NAME,
    ),
  ),
  c(
    "cookie-php-name-only",
    "`Cookie: api.key=alice-key` and no other key (only PHP reads it as api_key; Envoy finds none)",
    unread,
    () => keyCookie("api.key=alice-key"),
    "see apikey.cookie-php-name-dot",
  ),
  c(
    "cookie-php-name-encoded-dot",
    "`Cookie: api%2Ekey=bob-key; api_key=alice-key` (PHP 8.1.11 and later no longer percent-decode a cookie's name: its own cookie `api%2Ekey`)",
    { status: 200, code: "allowed", upstream: { "x-client-id": "alice" } },
    () => keyCookie("api%2Ekey=bob-key; api_key=alice-key"),
  ),
  c(
    "cookie-twice",
    "`Cookie: apikey=alice-key; apikey=bob-key`",
    invalid("more than one cookie apikey was sent"),
    (ctx) => ctx.check({ path: "/keys", headers: { cookie: "apikey=alice-key; apikey=bob-key" } }),
    "the first cookie was used and the second passed upstream unchecked; a repeated key cookie is refused like a repeated parameter",
  ),
  c(
    "cookie-name-other-case-twice",
    "`Cookie: APIKEY=bob-key; apikey=alice-key` (Envoy reads alice's; ASP.NET Core reads cookie names in any letter case: two apikey cookies)",
    invalid("more than one cookie apikey was sent"),
    (ctx) => ctx.check({ path: "/keys", headers: { cookie: "APIKEY=bob-key; apikey=alice-key" } }),
    "cookie names were compared case-sensitively, as Envoy compares them, so alice was authenticated while bob's key went upstream under a name an upstream reading names in any case (ASP.NET Core) takes for apikey; a cookie whose name matches in any case is now a copy, and a repeated key cookie is refused",
  ),
  c(
    "cookie-name-other-case-only",
    "`Cookie: ApiKey=alice-key` and no other key (only a reader of names in any case finds it; Envoy finds none)",
    unread,
    (ctx) => ctx.check({ path: "/keys", headers: { cookie: "ApiKey=alice-key" } }),
  ),
  c(
    "cookie-name-space-before-equals",
    "`Cookie: apikey =alice-key` (Envoy's cookie name runs to the `=`: `apikey ` is no apikey, and it finds no key)",
    unread,
    (ctx) => ctx.check({ path: "/keys", headers: { cookie: "apikey =alice-key" } }),
    "the Cookie header's names and values were trimmed, so a key cookie only that reading finds authenticated alice where Envoy's api_key_auth finds none and answers 401; the key must be where Envoy reads it",
  ),
  c(
    "cookie-name-tab-before",
    "`Cookie: x=1;<TAB>apikey=alice-key` (Envoy skips only spaces before a cookie name: its name begins with the tab)",
    unread,
    (ctx) => ctx.check({ path: "/keys", headers: { cookie: "x=1;\tapikey=alice-key" } }),
    "see apikey.cookie-name-space-before-equals",
  ),
  c(
    "cookie-quoted",
    '`Cookie: apikey="alice-key"` (Envoy and most servers remove the quotes; PHP keeps them: read two ways)',
    invalid("more than one cookie apikey was sent"),
    (ctx) => ctx.check({ path: "/keys", headers: { cookie: 'apikey="alice-key"' } }),
  ),
  c("cookie-spaces-before-name", "`Cookie: theme=dark;   apikey=alice-key` (spaces before a name: every reading's apikey)", ALICE, (ctx) =>
    ctx.check({ path: "/keys", headers: { cookie: "theme=dark;   apikey=alice-key" } }),
  ),
  c(
    "account-repeated-other-first",
    "alice's key on /account (CEL `request.query.account == apiKey.client`) with `?account=bob&account=alice` (issue 12 item 5)",
    { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" },
    (ctx) => ctx.check({ path: "/account?account=bob&account=alice", headers: { "x-api-key": "alice-key" } }),
    "CEL saw the last value of a repeated parameter while route matching and common upstreams read the first; CEL now reads the first, and a repeat with another value is decided on the last too",
  ),
  c(
    "account-repeated-own-first",
    "alice's key with `?account=alice&account=bob` (an upstream reading the last value would serve bob)",
    { status: 403, code: "authz_denied", reason: "reading the last value of a name in the query split at &)" },
    (ctx) => ctx.check({ path: "/account?account=alice&account=bob", headers: { "x-api-key": "alice-key" } }),
    "see apikey.account-repeated-other-first",
  ),
  c(
    "account-semicolon-after",
    'alice\'s key with `?account=alice&x=1;account=bob` (Rack 2 and Python before 3.9.2 split at ";" too: account is alice, then bob)',
    { status: 403, code: "authz_denied", reason: "reading the last value of a name in the query split at & and ;" },
    (ctx) => ctx.check({ path: "/account?account=alice&x=1;account=bob", headers: { "x-api-key": "alice-key" } }),
    'CEL\'s request.query was read split at "&" only (Envoy\'s reading: x is `1;account=bob`), so the rule saw account=alice alone while upstreams that also split at ";" serve bob (Rack, which keeps the last) or see both; the rules are now decided on that reading too, first and last values',
  ),
  c(
    "account-semicolon-before",
    'alice\'s key with `?x=1;account=bob&account=alice` (split at ";" too, account is bob, then alice: Flask on older Python reads bob)',
    { status: 403, code: "authz_denied", reason: "reading the first value of a name in the query split at & and ;" },
    (ctx) => ctx.check({ path: "/account?x=1;account=bob&account=alice", headers: { "x-api-key": "alice-key" } }),
    "see apikey.account-semicolon-after",
  ),
  c(
    "account-other-case-before",
    "alice's key with `?ACCOUNT=bob&account=alice` (Envoy's account is alice; ASP.NET Core reads names in any letter case, its first account is bob)",
    { status: 403, code: "authz_denied", reason: "reading ASP.NET Core's" },
    (ctx) => ctx.check({ path: "/account?ACCOUNT=bob&account=alice", headers: { "x-api-key": "alice-key" } }),
    "CEL's request.query was read with names as sent, so alice reached bob's account where an ASP.NET Core upstream (whose query names are case-insensitive) acts on bob; that reading is now decided too",
  ),
  c(
    "account-encoded-name-around",
    "alice's key with `?%61ccount=alice&account=bob&%61ccount=alice` (decoded, account is alice first and last; as sent, Envoy's route match and an upstream reading names as sent see account=bob)",
    { status: 403, code: "authz_denied", reason: "no authorization rule allows the request" },
    (ctx) => ctx.check({ path: "/account?%61ccount=alice&account=bob&%61ccount=alice", headers: { "x-api-key": "alice-key" } }),
    "CEL's request.query was only read percent-decoded (URLSearchParams), where the first and the last account are alice; it is now first read as Envoy's route match reads the query (names and values as sent: account is bob), then on every other reading",
  ),
  ...(
    [
      ["dot", "tenant.id"],
      ["space", "tenant+id"],
      ["encoded-dot", "tenant%2Eid"],
      ["bracket", "tenant[id"],
    ] as const
  ).map(([id, spelling], i) =>
    c(
      `tenant-php-${id}`,
      `alice's key on /tenant (CEL \`request.query.tenant_id == apiKey.client\`) with \`?tenant_id=alice&${spelling}=bob\` (PHP registers \`${spelling}\` as tenant_id: bob)`,
      { status: 403, code: "authz_denied", reason: "reading PHP's" },
      (ctx) => ctx.check({ path: `/tenant?tenant_id=alice&${spelling}=bob`, headers: { "x-api-key": "alice-key" } }),
      i === 0
        ? "no reading of the query read names as PHP (and Symfony, Laravel) registers them, with '.', ' ' and an unmatched '[' as '_', so the rule saw tenant_id alice alone while a PHP upstream serves bob; the rules are now decided on PHP's reading too"
        : "see apikey.tenant-php-dot",
    ),
  ),
  c(
    "account-php-leading-space",
    "alice's key with `?account=alice&+account=bob` (PHP drops a name's leading spaces: account is bob)",
    { status: 403, code: "authz_denied", reason: "reading PHP's" },
    (ctx) => ctx.check({ path: "/account?account=alice&+account=bob", headers: { "x-api-key": "alice-key" } }),
    "see apikey.tenant-php-dot",
  ),
  c(
    "account-php-nul",
    "alice's key with `?account=alice&account%00x=bob` (PHP ends a name at a NUL: account is bob)",
    { status: 403, code: "authz_denied", reason: "reading PHP's" },
    (ctx) => ctx.check({ path: "/account?account=alice&account%00x=bob", headers: { "x-api-key": "alice-key" } }),
    "see apikey.tenant-php-dot",
  ),
  c(
    "tenant-php-array",
    "alice's key with `?tenant_id=alice&tenant_id[]=bob` (PHP's tenant_id is an array, not alice)",
    { status: 403, code: "authz_denied", reason: "reading PHP's" },
    (ctx) => ctx.check({ path: "/tenant?tenant_id=alice&tenant_id[]=bob", headers: { "x-api-key": "alice-key" } }),
    "see apikey.tenant-php-dot",
  ),
  c(
    "tenant-php-own",
    "alice's key with `?tenant.id=bob&tenant_id=alice` (PHP's last tenant_id is alice, as every reading's)",
    ALICE,
    (ctx) => ctx.check({ path: "/tenant?tenant.id=bob&tenant_id=alice", headers: { "x-api-key": "alice-key" } }),
  ),
  c("tenant-dotted-value", "alice's key with `?tenant_id=alice&v=1.2` (a '.' in a value renames nothing)", ALICE, (ctx) =>
    ctx.check({ path: "/tenant?tenant_id=alice&v=1.2", headers: { "x-api-key": "alice-key" } }),
  ),
  c("account-semicolon-own", "alice's key with `?lang=en;x=1&account=alice` (every reading's account is alice)", ALICE, (ctx) =>
    ctx.check({ path: "/account?lang=en;x=1&account=alice", headers: { "x-api-key": "alice-key" } }),
  ),
  c("account-own", "alice's key with `?account=alice&account=alice`", ALICE, (ctx) =>
    ctx.check({ path: "/account?account=alice&account=alice", headers: { "x-api-key": "alice-key" } }),
  ),
  c(
    "utf8-header-wire",
    "wire: carol's non-ASCII key in X-API-Key, as UTF-8 bytes",
    CAROL,
    (ctx) => ctx.envoy("/keys", { "x-api-key": CAROL_KEY }),
    "header bytes were read as Latin-1 on the HTTP ports and as UTF-8 on gRPC and in the query, so a non-ASCII key matched on some ports only; every port now reads the bytes as UTF-8",
  ),
  c(
    "utf8-cookie-wire",
    "wire: carol's key in the `apikey` cookie, as UTF-8 bytes",
    CAROL,
    (ctx) => ctx.envoy("/keys", { cookie: `apikey=${CAROL_KEY}` }),
    "see apikey.utf8-header-wire",
  ),
  c(
    "utf8-forward-auth",
    "forward-auth: carol's key in X-API-Key, as UTF-8 bytes",
    CAROL,
    (ctx) => ctx.forward({ "x-forwarded-method": "GET", "x-forwarded-host": HOST, "x-forwarded-uri": "/keys", "x-api-key": CAROL_KEY }),
    "see apikey.utf8-header-wire",
  ),
  c("utf8-query", "carol's key percent-encoded in `api_key`", CAROL, (ctx) =>
    ctx.check({ path: `/keys?api_key=${encodeURIComponent(CAROL_KEY)}` }),
  ),
  c("utf8-grpc", "gRPC: carol's key in X-API-Key as raw_value bytes", CAROL, (ctx) =>
    ctx.check(
      toAuthzRequest({
        attributes: {
          request: {
            http: {
              method: "GET",
              host: HOST,
              path: "/keys",
              header_map: { headers: [{ key: "x-api-key", value: "", raw_value: Buffer.from(CAROL_KEY) }] },
            },
          },
        },
      }),
    ),
  ),
  c("latin1-bytes-wire", "wire: carol's key as Latin-1 bytes (é = 0xE9: not UTF-8)", invalid(), (ctx) =>
    ctx.raw(
      Buffer.concat([
        Buffer.from(`GET /keys HTTP/1.1\r\nhost: ${HOST}\r\nx-api-key: `),
        Buffer.from(CAROL_KEY, "latin1"),
        Buffer.from("\r\nconnection: close\r\n\r\n"),
      ]),
    ),
  ),
  c("cookie-other-name", "alice's key in a cookie of another name", missing, (ctx) =>
    ctx.check({ path: "/keys", headers: { cookie: "apikey2=alice-key" } }),
  ),
  c(
    "cookie-space-after-equals",
    "`Cookie: apikey= alice-key` (Envoy's value keeps the space: no client's key; servers that trim read alice's)",
    invalid("more than one cookie apikey was sent"),
    (ctx) => ctx.check({ path: "/keys", headers: { cookie: "apikey= alice-key" } }),
  ),
  c(
    "cookie-space-before-semicolon",
    "`Cookie: apikey=alice-key ; theme=dark` (a space Envoy keeps in the value, others trim)",
    invalid("more than one cookie apikey was sent"),
    (ctx) => ctx.check({ path: "/keys", headers: { cookie: "apikey=alice-key ; theme=dark" } }),
  ),
  c("query-trailing-encoded-space", "`?api_key=alice-key%20` (decoded with its space: no client's key)", invalid(), (ctx) =>
    ctx.check({ path: "/keys?api_key=alice-key%20" }),
  ),
  c("cookie-valid", "`Cookie: theme=dark; apikey=alice-key`", ALICE, (ctx) =>
    ctx.check({ path: "/keys", headers: { cookie: "theme=dark; apikey=alice-key" } }),
  ),
];
