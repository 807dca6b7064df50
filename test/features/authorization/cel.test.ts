/**
 * CEL principals are bounded (controller/features/authorization/cel.ts): what cannot be bounded is refused when
 * the policy compiles, and a request whose variables exceed the size the bound assumes is an
 * evaluation error, never an allow.
 */
import { describe, expect, it } from "vitest";
import { CEL_INPUT_LIMIT } from "../../../controller/features/authorization/cel-cost.ts";
import { compileCel, ENVOY_ATTRIBUTES, PRINCIPAL_VARIABLES } from "../../../controller/features/authorization/cel.ts";
import { searchedPath } from "../../../controller/features/authorization/cel-paths.ts";
import { builtRe2 } from "../../../controller/lib/regex.ts";

const compiled = (source: string) => {
  const r = compileCel(source, PRINCIPAL_VARIABLES);
  if (!r.ok) throw new Error(`${source}: ${r.error}`);
  return r.value.evaluate;
};
const refusal = (source: string) => {
  const r = compileCel(source, PRINCIPAL_VARIABLES);
  return r.ok ? "accepted" : r.error;
};
const request = (path: string, headers: Record<string, string> = {}) => ({
  request: { method: "GET", host: "h", path, headers, query: {} },
  jwt: {},
  apiKey: {},
  basicAuth: {},
  source: { address: "10.0.0.1" },
});

describe("CEL matches()", () => {
  it("answers a catastrophic-backtracking pattern over long input in linear time (RE2)", () => {
    const evaluate = compiled('request.path.matches("^([a-zA-Z0-9]+-?)+$")');
    expect(evaluate(request(`${"a".repeat(29)}!`))).toBe(false);
    expect(evaluate(request(`${"a1-".repeat(10_000)}!`))).toBe(false);
    expect(evaluate(request("abc-def-ghi"))).toBe(true);
  }, 30_000);

  it("reads the pattern as RE2 does, not as JavaScript: \\pL, \\z, (?m), . over characters beyond the BMP", () => {
    expect(compiled(String.raw`request.path.matches("^/\\pL+$")`)(request("/é"))).toBe(true);
    expect(compiled(String.raw`request.path.matches("^/\\pL+$")`)(request("/Ω"))).toBe(true);
    expect(compiled(String.raw`request.path.matches("^/\\pL+$")`)(request("/1"))).toBe(false);
    expect(compiled(String.raw`request.path.matches("/admin\\z")`)(request("/admin"))).toBe(true);
    expect(compiled(String.raw`request.headers["x-a"].matches("(?m)^b$")`)(request("/", { "x-a": "a\nb" }))).toBe(true);
    expect(compiled('request.path.matches("^/.$")')(request("/😀"))).toBe(true);
  });

  it("runs matches() on a claim (a dynamic value): a string is searched, anything else is an evaluation error", () => {
    const evaluate = compiled(String.raw`jwt.claims.email.matches("@example\\.com$")`);
    const withEmail = (email: unknown) => ({ ...request("/"), jwt: { provider: "p", claims: { email } } });
    expect(evaluate(withEmail("a@example.com"))).toBe(true);
    expect(evaluate(withEmail("a@exampleXcom"))).toBe(false);
    expect(() => evaluate(withEmail(5))).toThrow();
  });

  it("runs matches() on a parenthesised receiver", () => {
    expect(compiled('(request.path).matches("^/a")')(request("/ab"))).toBe(true);
    expect(compiled('((request.path + "z")).matches("bz$")')(request("/ab"))).toBe(true);
    expect(compiled('(request.path).matches("^/a")')(request("/b"))).toBe(false);
  });

  it("runs each call on its own pattern, with spaces around the call, inside comprehensions and alongside other calls", () => {
    const evaluate = compiled(
      'request.path.matches("^/a") && request.host . matches ( "^h$" ) && request.headers.exists(k, k.matches("^x-")) && !request.path.matches("z")',
    );
    expect(evaluate(request("/ab", { "x-b": "1" }))).toBe(true);
    expect(evaluate(request("/ab", { "y-b": "1" }))).toBe(false);
    expect(evaluate(request("/abz", { "x-b": "1" }))).toBe(false);
  });

  it("refuses a comment inside a matches() call, and the function it is run as, by name", () => {
    expect(refusal('request.path // c\n.matches("a")')).toContain('write matches() as text.matches("pattern")');
    expect(refusal('request.path.re2Search("a")')).toBe("the function re2Search() is not supported");
  });

  it("searches anywhere in the value, as RE2's matches does", () => {
    expect(compiled('request.path.matches("adm[i]n")')(request("/v1/admin/x"))).toBe(true);
  });

  it("accepts the counted repetition RE2 accepts (up to 1000)", () => {
    const evaluate = compiled(String.raw`request.headers["x-date"].matches("^\\d{4}-\\d{2}-\\d{2}$")`);
    expect(evaluate(request("/", { "x-date": "2026-11-30" }))).toBe(true);
    expect(evaluate(request("/", { "x-date": "2026-1-30" }))).toBe(false);
    const catastrophic = compiled("request.path.matches(r'^([a-z0-9]{1,3}-?)+$')");
    expect(catastrophic(request(`${"a".repeat(40)}!`))).toBe(false);
    expect(catastrophic(request("ab-cde-f"))).toBe(true);
    expect(refusal('request.path.matches("x{1,1001}")')).toContain("is not valid RE2: invalid repeat count");
  }, 30_000);
});

describe("CEL cost", () => {
  it("accepts expressions linear in their inputs", () => {
    for (const ok of [
      'apiKey.client == "dev" && request.headers["x-purpose"] == "read"',
      'request.headers.exists(k, k.startsWith("x-"))',
      'jwt.claims.groups.exists(g, g == "admin")',
      'request.path.split("/").join("-").size() < 100',
      'has(jwt.claims.sub) && jwt.claims.sub.lowerAscii().endsWith("@example.com")',
    ])
      expect(refusal(ok), ok).toBe("accepted");
  });

  it("refuses work that grows with the product of two inputs, or doubles a value again and again", () => {
    expect(refusal("jwt.claims.a.all(x, jwt.claims.b.all(y, x == y))")).toContain("worst case costs more than");
    expect(refusal("request.headers.exists(k, request.path.contains(k))")).toContain("worst case costs more than");
    expect(
      refusal(
        "cel.bind(a, request.path + request.path, cel.bind(b, a + a, cel.bind(c, b + b, cel.bind(d, c + c, cel.bind(e, d + d, e.size() > 0)))))",
      ),
    ).toContain("worst case costs more than");
    expect(refusal("[1].all(a, [1].all(b, [1].all(c, [1].all(d, a == d))))")).toBe("comprehensions nest at most 3 deep");
    // RE2's program for this pattern has over a hundred instructions, each of which may be live at every character of a 64 KiB path.
    expect(refusal('request.path.matches("[a-z0-9-]{1,63}x")')).toContain("worst case costs more than");
  });

  it("refuses functions it has no cost model for, and oversized expressions", () => {
    expect(refusal("foo(request.path)")).toBe("the function foo() is not supported");
    expect(refusal(Array.from({ length: 600 }, (_, i) => `request.path == "${i}"`).join(" || "))).toContain("maxAstNodes");
  });

  it("makes a variable larger than the bound assumes an evaluation error (which never allows)", () => {
    const evaluate = compiled('request.headers["x"] == "y"');
    expect(evaluate(request("/", { x: "y" }))).toBe(true);
    expect(() => evaluate(request("/", { x: "y", big: "b".repeat(CEL_INPUT_LIMIT) }))).toThrow("CEL variable request exceeds");
  });
});

describe("CEL variables", () => {
  const envoy = (source: string) => {
    const r = compileCel(source, ENVOY_ATTRIBUTES);
    return r.ok ? "accepted" : r.error;
  };

  it("refuses a variable or a field that does not exist, instead of a rule that never matches", () => {
    expect(refusal('reqest.path == "/"')).toBe("Unknown variable: reqest");
    expect(refusal('request.paht == "/"')).toBe("No such key: paht");
    expect(refusal('jwt.claims.sub == "alice" && user == "x"')).toBe("Unknown variable: user");
    expect(envoy("request.url_path == '/' && requets.method == 'GET'")).toBe("Unknown variable: requets");
  });

  it("refuses an expression whose value cannot be a boolean", () => {
    expect(refusal("request.path")).toBe("it evaluates to string, not to a boolean");
    expect(refusal("request.path == 1")).toContain("no such overload");
    expect(refusal("jwt.claims.level > 3")).toBe("accepted");
  });

  it("gives a rule's cel Envoy's request attributes, and Portcullis' variables only to principal.cel", () => {
    expect(envoy("request.headers['x-tenant'] == 'team-a'")).toBe("accepted");
    expect(envoy("request.method == 'POST' && request.path.startsWith('/admin')")).toBe("accepted");
    expect(envoy("request.query.contains('debug=1') && request.scheme == 'https' && request.host.endsWith('.example.com')")).toBe(
      "accepted",
    );
    expect(envoy("request.time.getHours() < 18 && has(request.referer)")).toBe("accepted");
    expect(envoy("'admin' in metadata.filter_metadata['envoy.filters.http.jwt_authn']['idp'].roles")).toBe("accepted");
    expect(envoy("apiKey.client == 'ci'")).toBe("Unknown variable: apiKey");
    expect(envoy("request.query['debug'] == '1'")).toBe("Cannot index type 'string'");
    expect(refusal("request.url_path == '/'")).toBe("No such key: url_path");
  });

  it("names the Envoy attributes Portcullis is not told, and why", () => {
    expect(envoy("source.address == '10.0.0.1'")).toContain("source is Envoy's downstream address with its port");
    expect(envoy("connection.mtls")).toContain("connection is an Envoy attribute of the connection or the response");
    expect(envoy("request.protocol == 'HTTP/2'")).toContain("request.protocol is an Envoy attribute");
    expect(envoy("request.size > 10")).toContain("request.size is the request body's size");
    expect(envoy("request.headers_bytes < 8192")).toContain("request.headers_bytes is the size of Envoy's own header map");
    expect(envoy("[1].exists(xds, xds > 0)")).toContain("xds is an Envoy attribute");
  });
});

describe("the request fields an expression reads (check.ts reads only those for bytes that are not UTF-8)", () => {
  const fields = (source: string) => {
    const r = compileCel(source, ENVOY_ATTRIBUTES);
    if (!r.ok) throw new Error(r.error);
    return r.value.requestFields === undefined ? "all" : [...r.value.requestFields].sort();
  };
  it("names each field written `request.<field>`, also under has() and inside comprehensions", () => {
    expect(
      fields("request.url_path == '/x' && has(request.headers.x) && request.headers.exists(k, k == 'x-a') && request.host == 'h'"),
    ).toEqual(["headers", "host", "url_path"]);
    expect(fields("metadata.filter_metadata.size() > 0")).toEqual([]);
  });
  it("counts `request` read any other way as reading every field", () => {
    expect(fields("request['path'] == '/x'")).toBe("all");
  });
});

describe("whether an expression may look request.query up by a name with an upper-case letter (line-readings.ts)", () => {
  const upper = (source: string) => {
    const r = compileCel(source, PRINCIPAL_VARIABLES);
    if (!r.ok) throw new Error(r.error);
    return r.value.queryNamesInUpperCase;
  };
  it("does not where every name it looks up is a literal without one, in every form", () => {
    expect(upper("request.query.user_id == 'a' && 'role' in request.query && has(request.query.x) && request.query['t'] == 'b'")).toBe(
      false,
    );
    expect(upper("request.path == '/x'")).toBe(false);
  });
  it("does for a literal name with one, in every form", () => {
    for (const source of [
      "request.query.userId == 'a'",
      "'userId' in request.query",
      "has(request.query.userId)",
      "request.query['USERID'] == 'a'",
    ]) {
      expect(upper(source), source).toBe(true);
    }
  });
  it("does where the names cannot be known: a computed key, the map passed on, reached through another name, request whole", () => {
    for (const source of [
      "request.query['user' + 'Id'] == 'a'",
      "request.query[request.headers['x-name']] == 'a'",
      "request.headers['x-name'] in request.query",
      "size(request.query) > 1",
      "request.query.exists(k, k == 'userId')",
      "cel.bind(q, request.query, q.userId == 'a')",
      "[request.query][0]['userId'] == 'a'",
      "cel.bind(r, request, r.query.role == 'a')",
      "request['query']['role'] == 'a'",
    ]) {
      expect(upper(source), source).toBe(true);
    }
  });
});

describe("the headers an expression names (check.ts reads each line of only these)", () => {
  const named = (source: string, variables = ENVOY_ATTRIBUTES) => {
    const r = compileCel(source, variables);
    if (!r.ok) throw new Error(r.error);
    return r.value.headersNamed === undefined ? "any" : [...r.value.headersNamed].sort();
  };
  it("names each header read by a literal key, lower-cased as Envoy looks it up, in every form", () => {
    expect(named("request.headers['X-Role'] == 'a' && request.headers.x_team == 'b' && request.headers[':authority'] == 'h'")).toEqual([
      ":authority",
      "x-role",
      "x_team",
    ]);
    expect(named("request.headers['x-a'].startsWith('b') || [1, 2].exists(i, request.headers['x-b'] == string(i))")).toEqual([
      "x-a",
      "x-b",
    ]);
    expect(named("request.headers['x-a'] == 'a'", PRINCIPAL_VARIABLES)).toEqual(["x-a"]);
  });
  it("names the headers Envoy's request.referer, useragent and id are", () => {
    expect(named("request.useragent.contains('curl') || request.referer == 'r' || request.id == 'i'")).toEqual([
      "referer",
      "user-agent",
      "x-request-id",
    ]);
  });
  it("reads no line where it asks only whether a header is there (`in`, has())", () => {
    expect(named("'x-a' in request.headers && has(request.headers.x_b)")).toEqual([]);
    expect(named("request.headers['x-key'] in request.headers")).toEqual(["x-key"]);
  });
  it("reads any header where the keys cannot be known: a computed key, the map passed to a function or macro, request whole", () => {
    expect(named("request.headers[request.headers['x-which']] == 'a'")).toBe("any");
    expect(named("request.headers['x-' + 'a'] == 'a'")).toBe("any");
    expect(named("cel.bind(h, request.headers, h['x-a'] == 'a')")).toBe("any");
    expect(named("size(request.headers) > 2")).toBe("any");
    expect(named("request.headers.exists(k, k == 'x-a')")).toBe("any");
    expect(named("request['headers']['x-a'] == 'a'")).toBe("any");
  });
  it("names the header whatever the spelling of its literal key: escapes, raw and triple-quoted strings", () => {
    for (const key of ["'x\\x2drole'", "'\\u0078-role'", "'x\\055role'", "r'x-role'", "'''x-role'''", '"""X-Role"""', "R'X-ROLE'"]) {
      expect(named(`request.headers[${key}] == 'admin'`), key).toEqual(["x-role"]);
    }
  });
  it("reads any header where request or its header map is reached through another name: bound, listed, in a map, chosen", () => {
    for (const source of [
      "cel.bind(r, request, r.headers['x-role'] == 'admin')",
      "[request][0].headers['x-role'] == 'admin'",
      "{'k': request.headers}['k']['x-role'] == 'admin'",
      "[request.headers].exists(h, h['x-role'] == 'admin')",
      "dyn(request.headers)['x-role'] == 'admin'",
      "request.headers[true ? 'x-role' : 'x-team'] == 'admin'",
    ]) {
      expect(named(source), source).toBe("any");
    }
  });
});

describe("the paths an expression may compare the request's path with (path-case-readings.ts reads the path as each)", () => {
  const paths = (source: string, variables = ENVOY_ATTRIBUTES) => {
    const r = compileCel(source, variables);
    if (!r.ok) throw new Error(r.error);
    return r.value.pathValues;
  };
  it("are its text literals starting with '/', cut at '?', where it reads request.path, url_path or :path", () => {
    expect(paths("request.path == '/admin' || request.path.startsWith('/admin?x=1')")).toEqual(["/admin"]);
    expect(paths("request.url_path.startsWith('/internal/') && request.method == 'GET'")).toEqual(["/internal/"]);
    expect(paths("request.headers[':path'] in ['/a', '/b', 'c']")).toEqual(["/a", "/b"]);
    expect(paths("request.path == '/admin' && request.headers['x-role'] != '/user'", PRINCIPAL_VARIABLES)).toEqual(["/admin", "/user"]);
  });
  it("also where it reads request or its headers by keys that cannot be known", () => {
    expect(paths("cel.bind(r, request, r.url_path == '/admin')")).toEqual(["/admin"]);
    expect(paths("dyn(request.headers)[':path'] == '/admin'")).toEqual(["/admin"]);
  });
  it("are none where it does not read the path, whatever its literals", () => {
    expect(paths("request.headers['x-next'] == '/admin'")).toEqual([]);
    expect(paths("request.host == 'a' && request.query.contains('/admin')")).toEqual([]);
  });
});

describe("the RegularExpression path values of an expression (pathPatterns)", () => {
  const patterns = (source: string) => {
    const r = compileCel(source, ENVOY_ATTRIBUTES);
    if (!r.ok) throw new Error(r.error);
    return r.value.pathPatterns.map((p) => p.value);
  };
  it("are its matches() patterns as searches, and each other text as one the path contains and ends with, where it reads the path", () => {
    expect(patterns("request.url_path.matches('^/admin') || request.path.endsWith('.json?x=1')")).toEqual([
      "(?s:.*)(?:^/admin)(?s:.*)",
      "(?s:.*)\\.json(?s:.*)",
      "(?s:.*)\\.json",
    ]);
    expect(patterns("dyn(request.headers)[':path'].matches('admin')")).toEqual(["(?s:.*)(?:admin)(?s:.*)"]);
    expect(patterns("request.path.contains('?') || request.path == ''")).toEqual([]);
  });
  it("take a text only where a contains(), startsWith() or endsWith() tests the path with it, or where a variable may stand for the path", () => {
    expect(
      patterns("request.method == 'GET' && request.path.startsWith('/x/' + 'admin') && request.headers['x-team'].endsWith('blue')"),
    ).toEqual(["(?s:.*)/x/(?s:.*)", "(?s:.*)/x/", "(?s:.*)admin(?s:.*)", "(?s:.*)admin"]);
    expect(patterns("request.headers[':path'].endsWith('admin')")).toEqual(["(?s:.*)admin(?s:.*)", "(?s:.*)admin"]);
    expect(patterns("['admin'].exists(p, request.url_path.contains(p))")).toEqual(["(?s:.*)admin(?s:.*)", "(?s:.*)admin"]);
    expect(patterns("cel.bind(r, request, r.url_path.contains('/admin'))")).toEqual(["(?s:.*)/admin(?s:.*)", "(?s:.*)/admin"]);
  });
  it("take a text a text computed from the path is compared with (==, in, indexOf), not one the path itself is (an Exact value already)", () => {
    expect(patterns("request.url_path.substring(2) == '/admin' || request.path.lowerAscii() in ['a']")).toEqual([
      "(?s:.*)/admin(?s:.*)",
      "(?s:.*)/admin",
      "(?s:.*)a(?s:.*)",
      "(?s:.*)a",
    ]);
    expect(patterns("request.url_path.lastIndexOf('x') > 0")).toEqual(["(?s:.*)x(?s:.*)", "(?s:.*)x"]);
    expect(patterns("request.path == '/Admin' || request.headers[':path'] in ['/B'] || '/C' == request.url_path")).toEqual([]);
  });
  it("are none where it does not read the path", () => {
    expect(patterns("request.headers['x-next'].matches('^/admin')")).toEqual([]);
  });
  it("take in full exactly the texts the pattern finds something in, a \\Q left open included", () => {
    const texts = ["/admin", "/ADMIN", "/x/admin", "/admin.json", "/a\nb", "a|b", "/admin)(x", ""];
    for (const pattern of ["^/admin", "admin$", "(?i)admin", "a|b", "^$", "\\badmin\\b", "(?m)^b", "\\Q)(\\E", "\\Qadmin)(x"]) {
      const searched = searchedPath(pattern);
      const search = builtRe2(pattern);
      for (const text of texts) expect(searched.regex.testExact(text), `${pattern} on ${JSON.stringify(text)}`).toBe(search.test(text));
    }
  });
});
