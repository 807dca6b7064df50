import { describe, expect, it } from "vitest";
import { portsIn } from "../../bench/servers.ts";

describe("portsIn", () => {
  it("reads the ports of Portcullis' start-up line, not of any other line", () => {
    const log = [
      '{"level":30,"msg":"loading"}',
      '{"level":30,"authz":1,"forwardAuth":2,"admin":3,"grpc":4,"msg":"Portcullis listening"}',
      '{"level":30,"status":{"policy":"a/b"}}',
    ].join("\n");
    expect(portsIn(log)).toEqual({ authz: 1, admin: 3, forwardAuth: 2 });
  });

  it("is undefined until that line is complete", () => {
    expect(portsIn('{"level":30,"msg":"loading"}\n')).toBeUndefined();
    expect(portsIn('{"level":30,"authz":1,"forwardAuth":2,"adm')).toBeUndefined();
  });
});
