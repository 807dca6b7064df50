/** compileAuthorization: rules as Envoy Gateway's Authorization reads them, with every problem of every rule reported. */
import { describe, expect, it } from "vitest";
import { authorization } from "../../../controller/features/authorization/index.ts";
import { compilePolicy } from "../../support/world.ts";

const JWT = `jwt: {providers: [{name: idp, issuer: "https://idp.example.com", remoteJWKS: {uri: "https://idp.example.com/jwks"}}]}`;

describe("compileAuthorization", () => {
  it("defaults to Deny, names unnamed rules by position, upper-cases methods and lower-cases header names", () => {
    const outcome = compilePolicy(`
authorization:
  rules:
    - action: Allow
      operation: {methods: [get, Post], path: {type: PathPrefix, value: /reports/}}
      principal: {headers: [{name: X-Team, values: [a]}]}
    - {name: office, action: Deny, principal: {clientCIDRs: [10.0.0.0/8]}}
`);
    expect(outcome.accepted.status).toBe("True");
    const compiled = outcome.compiled(authorization)!;
    expect(compiled.defaultAction).toBe("Deny");
    expect(compiled.rules.map((r) => [r.name, r.action, r.methods])).toEqual([
      ["rule 0", "Allow", ["GET", "POST"]],
      ["office", "Deny", undefined],
    ]);
    // A PathPrefix matches whole segments: its trailing slash is dropped, as Envoy Gateway's path matcher does.
    expect(compiled.rules[0]!.path).toMatchObject({ type: "PathPrefix", value: "/reports", invert: false });
    expect(compiled.rules[0]!.principal!.headers).toEqual([{ name: "x-team", values: ["a"] }]);
    expect(compiled.rules[1]!.principal!.clientCIDRs!.contains("10.2.3.4")).toBe(true);
  });

  it("lists the headers the rules read line by line (headersRead), once each in rule order: those header matches name, then those CEL names", () => {
    const headers = compilePolicy(`
authorization:
  rules:
    - {action: Deny, principal: {headers: [{name: X-Role, values: [admin]}, {name: x-team, values: [b]}]}}
    - {action: Allow, principal: {headers: [{name: x-role, values: [user]}], clientCIDRs: [10.0.0.0/8]}}
`);
    expect(headers.compiled(authorization)!).toMatchObject({
      headersRead: ["x-role", "x-team"],
      headersNamedByCel: [],
      celReadsAnyHeader: false,
    });
    expect(
      compilePolicy("authorization: {rules: [{action: Allow, principal: {clientCIDRs: [10.0.0.0/8]}}]}").compiled(authorization)!
        .headersRead,
    ).toEqual([]);
    const cel = compilePolicy(`
authorization:
  rules:
    - {action: Deny, principal: {headers: [{name: x-role, values: [admin]}]}}
    - {action: Allow, cel: "request.method == 'GET' && request.headers['X-Plan'] == 'paid' && request.headers[':authority'] == 'h'"}
    - {action: Allow, principal: {cel: "request.headers['x-role'] == 'a' && request.headers.host == 'h' && request.headers.cookie != ''"}}
`);
    // Host, pseudo-headers and Cookie are read whole, never line by line.
    expect(cel.compiled(authorization)!).toMatchObject({
      headersRead: ["x-role", "x-plan"],
      headersNamedByCel: ["x-plan", "x-role"],
      celReadsAnyHeader: false,
    });
  });

  it("notes a CEL expression that reads headers by keys it does not name (celReadsAnyHeader); it names none, as it reads them all", () => {
    const bound = compilePolicy(`
authorization:
  rules:
    - {action: Deny, cel: "request.headers['x-a'] == 'a' || cel.bind(h, request.headers, h['x-b'] == 'b')"}
    - {action: Allow, cel: "request.headers['x-c'] == 'c'"}
`);
    expect(bound.compiled(authorization)!).toMatchObject({ headersRead: ["x-c"], headersNamedByCel: ["x-c"], celReadsAnyHeader: true });
  });

  it("warns of an Allow rule's header value holding ',', which never allows once each element is a reading; a Deny rule's, Cookie's and Host's are left alone", () => {
    const outcome = compilePolicy(`
authorization:
  defaultAction: Allow
  rules:
    - {name: ab, action: Allow, principal: {headers: [{name: Accept, values: ["a, b", c]}]}}
    - {name: no-ab, action: Deny, principal: {headers: [{name: x-role, values: ["a,b"]}]}}
    - {name: cookie, action: Allow, principal: {headers: [{name: cookie, values: ["a=1, b=2"]}, {name: host, values: ["h,i"]}]}}
`);
    expect(outcome.accepted.status).toBe("True");
    expect(outcome.warnings).toEqual([
      'Authorization: rule ab: the accept value "a, b" holds ","; each element between commas is read on its own too (an upstream may act on one), so this Allow value never lets a request through',
    ]);
  });

  it("reports every rule's problem, not just the first", () => {
    const outcome = compilePolicy(`
authorization:
  rules:
    - {action: Allow, principal: {}}
    - {action: Allow, operation: {path: {type: Exact, value: reports}}, principal: {clientCIDRs: [10.0.0.0/8]}}
    - {action: Deny, principal: {clientCIDRs: [10.0.0.0/33]}}
`);
    expect(outcome.accepted.status).toBe("False");
    for (const message of [
      "rules[0].principal: set at least one of clientCIDRs, jwt, headers, clientIPGeoLocations or cel",
      'rules[1].operation.path: "reports" does not start with /',
      "rules[2].principal.clientCIDRs: ",
    ]) {
      expect(outcome.accepted.message).toContain(`Authorization: ${message}`);
    }
  });

  it("a rule's jwt principal must name a provider of the policy's jwt", () => {
    const rule = (provider: string) => `${JWT}
authorization: {rules: [{action: Allow, principal: {jwt: {provider: ${provider}, scopes: [read]}}}]}`;
    expect(compilePolicy(rule("idp")).accepted.status).toBe("True");
    expect(compilePolicy(rule("other")).accepted.message).toBe(
      "Authorization: rules[0].principal.jwt.provider: other is not a jwt provider of this policy",
    );
    expect(compilePolicy("authorization: {rules: [{action: Allow, principal: {jwt: {provider: idp}}}]}").accepted.message).toBe(
      "Authorization: rules[0].principal.jwt.provider: idp is not a jwt provider of this policy",
    );
  });

  it("leaves the providers unchecked when jwt has problems of its own: jwt's problem is the one reported", () => {
    const outcome = compilePolicy(`
jwt: {providers: [{name: idp, remoteJWKS: {uri: "not a url"}}]}
authorization: {rules: [{action: Allow, principal: {jwt: {provider: other}}}]}`);
    expect(outcome.accepted.message).toBe("JWT: providers[0].remoteJWKS.uri: not a URL");
  });

  it("a rule needs a principal or a cel expression, and a cel expression must compile", () => {
    expect(compilePolicy("authorization: {rules: [{action: Allow}]}").accepted.message).toBe(
      "Authorization: rules[0]: set principal or cel",
    );
    expect(compilePolicy(`authorization: {rules: [{action: Allow, cel: "request.path ==="}]}`).accepted.message).toMatch(
      /^Authorization: rules\[0\]\.cel: /,
    );
  });
});
