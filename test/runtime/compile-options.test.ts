/** The CompileOptions a command derives from its flags: here, `--self-service` and the listeners it leads to. */
import { describe, expect, it } from "vitest";
import { compileOptionsOf, selfServiceOf } from "../../controller/runtime/compile-options.ts";

describe("--self-service", () => {
  it("names the Service and the ext_authz listeners by serve's ports and the chart's container port names", () => {
    expect(selfServiceOf("portcullis/portcullis", { grpcPort: 10001, authzPort: 10002 })).toEqual({
      namespace: "portcullis",
      name: "portcullis",
      listeners: { grpc: { port: 10001, name: "grpc" }, http: { port: 10002, name: "authz" } },
    });
  });

  it("check and compile, which listen on nothing, assume serve's default ports", () => {
    expect(selfServiceOf("auth/gate", {}).listeners).toEqual({ grpc: { port: 9001, name: "grpc" }, http: { port: 9002, name: "authz" } });
  });

  it("is left out when the flag is not given", () => {
    const options = compileOptionsOf({ controllerName: "c", gatewayClass: [], geoipDatabase: [] }, () => {});
    expect(options.selfService).toBeUndefined();
    const given = compileOptionsOf({ controllerName: "c", gatewayClass: [], geoipDatabase: [], selfService: "a/b" }, () => {});
    expect(given.selfService).toMatchObject({ namespace: "a", name: "b" });
  });
});
