/**
 * The readings of a query (controller/snapshot/query-readings.ts): Envoy's route match, the last
 * value, the ";" split, percent-decoding and PHP's names, each as the upstream that reads it.
 */
import { describe, expect, it } from "vitest";
import { ENVOY_QUERY, OTHER_QUERY_READINGS, PHP_MAX_INPUT_VARS, paramIn, queryParamsIn } from "../../controller/snapshot/query-readings.ts";

describe("paramIn", () => {
  const [LAST, SEMI_FIRST, SEMI_LAST] = OTHER_QUERY_READINGS as [
    (typeof OTHER_QUERY_READINGS)[0],
    (typeof OTHER_QUERY_READINGS)[0],
    (typeof OTHER_QUERY_READINGS)[0],
  ];

  it("splits at & and the first =, without percent-decoding (Envoy's reading)", () => {
    expect(paramIn("a=1&b=x=y", "b", ENVOY_QUERY)).toBe("x=y");
    expect(paramIn("a%3Db=1", "a=b", ENVOY_QUERY)).toBeUndefined();
    expect(paramIn("a%3Db=1", "a%3Db", ENVOY_QUERY)).toBe("1");
    expect(paramIn("q=a+b", "q", ENVOY_QUERY)).toBe("a+b");
  });

  it("gives a name without = the empty value, and nothing without a query", () => {
    expect(paramIn("flag&x=1", "flag", ENVOY_QUERY)).toBe("");
    expect(paramIn(undefined, "flag", ENVOY_QUERY)).toBeUndefined();
    expect(paramIn("", "flag", ENVOY_QUERY)).toBeUndefined();
    expect(paramIn("", "flag", LAST)).toBeUndefined();
  });

  it("reads the first or the last value of a repeated name", () => {
    expect(paramIn("role=user&role=admin", "role", ENVOY_QUERY)).toBe("user");
    expect(paramIn("role=user&role=admin", "role", LAST)).toBe("admin");
  });

  it("splits at ; as well as & in the semicolon readings only", () => {
    expect(paramIn("role=admin;x=1", "role", ENVOY_QUERY)).toBe("admin;x=1");
    expect(paramIn("role=admin;x=1", "role", SEMI_FIRST)).toBe("admin");
    expect(paramIn("x=1;role=user&role=admin;role=staff", "role", SEMI_FIRST)).toBe("user");
    expect(paramIn("x=1;role=user&role=admin;role=staff", "role", SEMI_LAST)).toBe("staff");
  });
});

describe("paramIn: percent-decoded readings", () => {
  const decoded = (value: "first" | "last", semicolons: boolean) =>
    OTHER_QUERY_READINGS.find((r) => r.decoded && !r.phpNames && r.value === value && r.semicolons === semicolons)!;

  it("decodes names and values as a form is, + as a space", () => {
    expect(paramIn("rol%65=%61dmin", "role", decoded("first", false))).toBe("admin");
    expect(paramIn("q=a+b", "q", decoded("first", false))).toBe("a b");
    expect(paramIn("role=user&rol%65=admin", "role", decoded("last", false))).toBe("admin");
    expect(paramIn("role=%61dmin;x=1", "role", decoded("first", true))).toBe("admin");
  });

  it("reads every combination besides Envoy's once, PHP's (under max_input_vars too), Go's and Tomcat's", () => {
    expect(OTHER_QUERY_READINGS).toHaveLength(11);
    expect(new Set(OTHER_QUERY_READINGS.map((r) => `${r.value} ${r.semicolons} ${r.decoded} ${r.phpNames} ${r.drops}`)).size).toBe(11);
    expect(OTHER_QUERY_READINGS.some((r) => r.value === "first" && !r.semicolons && !r.decoded)).toBe(false);
    expect(OTHER_QUERY_READINGS.filter((r) => r.phpNames)).toEqual([
      expect.objectContaining({ value: "last", decoded: true, semicolons: false, drops: "none" }),
      expect.objectContaining({ value: "last", decoded: true, semicolons: false, drops: "past max_input_vars" }),
    ]);
  });
});

describe("paramIn: the pairs Go and Java servlets drop", () => {
  const GO = OTHER_QUERY_READINGS.find((r) => r.drops === "invalid escapes and ;")!;
  const TOMCAT = OTHER_QUERY_READINGS.find((r) => r.drops === "invalid escapes")!;

  it("drops a pair holding ';' (Go's net/url since 1.17), not Tomcat", () => {
    expect(paramIn("role=x;&role=admin&role=user", "role", GO)).toBe("admin");
    expect(paramIn("ro;le=x&role=admin", "role", GO)).toBe("admin");
    expect(paramIn("role=x;&role=admin&role=user", "role", TOMCAT)).toBe("x;");
  });

  it("drops a pair with an invalid percent-escape in its name or value (both)", () => {
    for (const reading of [GO, TOMCAT]) {
      expect(paramIn("role=%zz&role=admin&role=user", "role", reading)).toBe("admin");
      expect(paramIn("role=100%&role=admin", "role", reading)).toBe("admin");
      expect(paramIn("role=%4&role=admin", "role", reading)).toBe("admin");
      expect(paramIn("r%zzole=x&role=%61dmin", "role", reading)).toBe("admin");
      expect(paramIn("role=a+b%20c", "role", reading)).toBe("a b c");
    }
  });

  it("reads a query it drops nothing of as the decoded first value, parsed once", () => {
    const decodedFirst = OTHER_QUERY_READINGS.find((r) => r.decoded && r.drops === "none" && !r.semicolons && r.value === "first")!;
    expect(queryParamsIn("role=admin&role=user", GO)).toBe(queryParamsIn("role=admin&role=user", decodedFirst));
    expect(queryParamsIn("role=a;b", TOMCAT)).toBe(queryParamsIn("role=a;b", decodedFirst));
  });
});

describe("paramIn: PHP's reading under max_input_vars", () => {
  const LIMITED = OTHER_QUERY_READINGS.find((r) => r.drops === "past max_input_vars")!;
  const PHP = OTHER_QUERY_READINGS.find((r) => r.phpNames && r.drops === "none")!;
  const filler = (n: number) => Array.from({ length: n }, (_, i) => `x${i}=1`).join("&");

  it("reads the last value among the first PHP_MAX_INPUT_VARS pairs that are not empty", () => {
    const query = `role=user&role=admin&${filler(PHP_MAX_INPUT_VARS - 2)}&role=user`;
    expect(paramIn(query, "role", LIMITED)).toBe("admin");
    expect(paramIn(query, "role", PHP)).toBe("user");
    expect(paramIn(`role=admin&&&${filler(PHP_MAX_INPUT_VARS - 1)}&role=user`, "role", LIMITED)).toBe("admin");
    expect(paramIn(`role=admin&${filler(PHP_MAX_INPUT_VARS - 2)}&role=user`, "role", LIMITED)).toBe("user");
  });

  it("reads a query of at most PHP_MAX_INPUT_VARS pairs as PHP's reading does, parsed once", () => {
    const query = `role=admin&${filler(PHP_MAX_INPUT_VARS - 2)}&tenant.id=x`;
    expect(queryParamsIn(query, LIMITED)).toBe(queryParamsIn(query, PHP));
  });
});

describe("paramIn: PHP's reading of names", () => {
  const PHP = OTHER_QUERY_READINGS.find((r) => r.phpNames)!;

  it("reads '.' and ' ' ('+', %20) in a name as '_', and the last value of the name so read", () => {
    expect(paramIn("tenant_id=alice&tenant.id=bob", "tenant_id", PHP)).toBe("bob");
    expect(paramIn("tenant_id=alice&tenant+id=bob", "tenant_id", PHP)).toBe("bob");
    expect(paramIn("tenant_id=alice&tenant%20id=bob", "tenant_id", PHP)).toBe("bob");
    expect(paramIn("tenant_id=alice&tenant%2Eid=bob", "tenant_id", PHP)).toBe("bob");
    expect(paramIn("tenant.id=bob&tenant_id=alice", "tenant_id", PHP)).toBe("alice");
    expect(paramIn("a.b.c=1", "a_b_c", PHP)).toBe("1");
  });

  it("reads an unmatched '[' as '_', and every '.', ' ' and '[' after it (PHP 8)", () => {
    expect(paramIn("tenant_id=alice&tenant[id=bob", "tenant_id", PHP)).toBe("bob");
    expect(paramIn("tenant_id=alice&tenant%5Bid=bob", "tenant_id", PHP)).toBe("bob");
    expect(paramIn("a[b.c[d=1", "a_b_c_d", PHP)).toBe("1");
  });

  it("makes a name with '[' and a ']' after it an array, which replaces a string of that name and holds none", () => {
    expect(paramIn("tenant_id=alice&tenant_id[]=bob", "tenant_id", PHP)).toBeUndefined();
    expect(paramIn("tenant.id[x]=bob&tenant_id=alice", "tenant_id", PHP)).toBe("alice");
    expect(paramIn("tenant_id[x]=bob", "tenant_id[x]", PHP)).toBeUndefined();
  });

  it("drops leading spaces, ends a name at a NUL, and registers nothing for a name left empty", () => {
    expect(paramIn("role=user&+role=admin", "role", PHP)).toBe("admin");
    expect(paramIn("role=user&%20%20role=admin", "role", PHP)).toBe("admin");
    expect(paramIn("role=user&role%00junk=admin", "role", PHP)).toBe("admin");
    expect([...queryParamsIn("+=x&.=y&[a]=z&=w", PHP)]).toEqual([["_", "y"]]);
  });

  it("reads a query whose names PHP keeps as the decoded reading does, from the same parse", () => {
    const decodedLast = OTHER_QUERY_READINGS.find((r) => r.decoded && !r.phpNames && !r.semicolons && r.value === "last")!;
    expect(queryParamsIn("role=user&rol%65=admin", PHP)).toBe(queryParamsIn("role=user&rol%65=admin", decodedLast));
    expect(paramIn("role=user&rol%65=admin", "role", PHP)).toBe("admin");
  });
});
