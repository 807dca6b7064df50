/** compileJwt's remote JWKS URIs (issue 12 situation 8): credentials refused, secrets never shown. */
import { describe, expect, it } from "vitest";
import { summarizeSnapshot } from "../../../controller/snapshot/summary.ts";
import { gatewayWithRoute } from "../../support/manifests.ts";
import { compileText } from "../../support/world.ts";

const withUri = (uri: string) => `${gatewayWithRoute("api.example.com")}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: p, namespace: apps}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}]
  jwt: {providers: [{name: idp, remoteJWKS: {uri: "${uri}"}}]}
`;
const compiled = (uri: string) => {
  const result = compileText(withUri(uri));
  const condition = result.statuses[0]!.ancestors[0]!.conditions[0]!;
  return { condition, shown: JSON.stringify({ statuses: result.statuses, summary: summarizeSnapshot(result.snapshot) }) };
};

describe("remote JWKS URIs", () => {
  it("a URI with user:password@ is Invalid (a fetch can never use them), and the password is not repeated", () => {
    const { condition, shown } = compiled("https://svc:hunter2@idp.example.com/jwks");
    expect([condition.status, condition.reason]).toEqual(["False", "Invalid"]);
    expect(condition.message).toBe(
      "JWT: providers[0].remoteJWKS.uri: https://redacted@idp.example.com/jwks has credentials (user:password@), which a JWKS fetch cannot use; remove them",
    );
    expect(shown).not.toContain("hunter2");
  });
  it("a URI with a secret in its query is accepted and fetched as written, but shown redacted", () => {
    const { condition, shown } = compiled("https://idp.example.com/jwks?api_key=s3cret");
    expect(condition.status).toBe("True");
    expect(shown).toContain("remote https://idp.example.com/jwks?api_key=redacted");
    expect(shown).not.toContain("s3cret");
  });
  it("text that is not a URL is not quoted back", () => {
    const { condition } = compiled("hunter2 is not a url");
    expect(condition.message).toBe("JWT: providers[0].remoteJWKS.uri: not a URL");
  });
});
