/** redactUri: what of a JWKS URI may be shown in logs, events, the admin view and statuses (issue 12 situation 8). */
import { describe, expect, it } from "vitest";
import { redactUri } from "../../controller/keys/uri.ts";

describe("redactUri", () => {
  it("leaves a URI without secrets as it is", () =>
    expect(redactUri("https://idp.example/.well-known/jwks.json")).toBe("https://idp.example/.well-known/jwks.json"));
  it("hides userinfo, user name and password alike", () => {
    expect(redactUri("https://user:pw@idp.example/jwks")).toBe("https://redacted@idp.example/jwks");
    expect(redactUri("https://token@idp.example:8443/jwks")).toBe("https://redacted@idp.example:8443/jwks");
  });
  it("hides every query value but keeps the names", () => {
    expect(redactUri("https://idp.example/jwks?api_key=s3cret&tenant=acme&flag&empty=")).toBe(
      "https://idp.example/jwks?api_key=redacted&tenant=redacted&flag&empty=",
    );
  });
  it("hides a fragment", () => expect(redactUri("https://idp.example/jwks#token=s3cret")).toBe("https://idp.example/jwks#redacted"));
  it("says nothing of text that is not a URL", () => expect(redactUri("not a url with s3cret")).toBe("(not a URL)"));
});
