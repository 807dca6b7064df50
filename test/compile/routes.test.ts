/** Route matches: plain ones are shared within a compile, the others are compiled one by one. */
import { describe, expect, it } from "vitest";
import { createMatchCompiler } from "../../controller/compile/routes.ts";

describe("createMatchCompiler", () => {
  it("shares one object per distinct plain match and keeps the others apart", () => {
    const compile = createMatchCompiler();
    const value = (m: Parameters<typeof compile>[0]) => {
      const r = compile(m);
      if (!r.ok) throw new Error(r.error);
      return r.value;
    };
    const prefix = value({ path: { type: "PathPrefix", value: "/v1/" } });
    expect(value({ path: { type: "PathPrefix", value: "/v1/" } })).toBe(prefix);
    expect(prefix).toEqual({ path: { type: "PathPrefix", value: "/v1" }, method: undefined, headers: [], queryParams: [] });
    expect(value({ path: { type: "Exact", value: "/v1/" } })).not.toBe(prefix);
    expect(value({ path: { type: "PathPrefix", value: "/v1/" }, method: "GET" })).not.toBe(prefix);
    const withHeader: Parameters<typeof compile>[0] = { path: { type: "PathPrefix", value: "/v1/" }, headers: [{ type: "Exact", name: "X-Tier", value: "gold" }] };
    expect(value(withHeader)).not.toBe(value(withHeader));
    expect(value(withHeader).headers).toEqual([{ type: "Exact", name: "x-tier", value: "gold" }]);
    expect(createMatchCompiler()({ path: { type: "PathPrefix", value: "/v1/" } })).not.toBe(compile({ path: { type: "PathPrefix", value: "/v1/" } }));
  });
  it("reports a bad match every time it is asked", () => {
    const compile = createMatchCompiler();
    for (let i = 0; i < 2; i++) expect(compile({ path: { type: "PathPrefix", value: "v1" } })).toEqual({ ok: false, error: 'path "v1" does not start with /' });
  });
});
