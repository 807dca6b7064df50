import { describe, expect, it } from "vitest";
import { anyFoldableName, foldedManagedHeader } from "../../controller/authz/folded-headers.ts";

describe("foldedManagedHeader: a header name servers fold into a managed one", () => {
  const managed = Object.freeze(["x-user-id", "x-user-group"]);

  it.each([
    ["X_User_Id", { x_user_id: "eve" }],
    ["X.User.Id", { "x.user.id": "eve" }],
    ["a mix of both", { "x_user.group": "admins" }],
  ])("finds %s, which CGI, WSGI or PHP servers read as a managed header", (_, headers) => {
    expect(foldedManagedHeader(headers, managed)).toBe(Object.keys(headers)[0]);
  });

  it("leaves the managed names themselves, names that fold into nothing managed, and every name when nothing is managed", () => {
    expect(foldedManagedHeader({ "x-user-id": "alice", x_request_id: "1", "x.other": "2" }, managed)).toBeUndefined();
    expect(foldedManagedHeader({ x_user_id: "eve" }, [])).toBeUndefined();
  });

  it("reads only the request's own names (not those of Object.prototype) and answers each list anew", () => {
    const headers = Object.create({ x_user_id: "inherited" }) as Record<string, string>;
    headers.host = "h";
    expect(foldedManagedHeader(headers, managed)).toBeUndefined();
    // A managed name that holds "_" itself: every request name is looked at.
    expect(foldedManagedHeader({ "x-tenant-id": "a" }, ["x_tenant_id"])).toBe("x-tenant-id");
    expect(foldedManagedHeader({ x_tenant_id: "a" }, ["x_tenant_id"])).toBeUndefined();
  });

  it("looks for '_' and '.' in the request's own names once, and reads a managed name holding one whatever that found", () => {
    expect(anyFoldableName({ host: "h", "content-length": "0", "x-api-key": "k" })).toBe(false);
    expect(anyFoldableName({ host: "h", x_user_id: "eve" })).toBe(true);
    expect(anyFoldableName({ "x.user": "eve" })).toBe(true);
    expect(anyFoldableName(Object.create({ x_user_id: "inherited" }) as Record<string, string>)).toBe(false);
    expect(foldedManagedHeader({ x_user_id: "eve" }, managed, anyFoldableName({ x_user_id: "eve" }))).toBe("x_user_id");
    expect(foldedManagedHeader({ "x-tenant-id": "a" }, ["x_tenant_id"], false)).toBe("x-tenant-id");
  });
});
