/** basicAuth: users and password hashes from an htpasswd Secret, checked as Envoy's basic_auth filter does. */
import { defineFeature } from "../feature.ts";
import { checkBasicAuth } from "./check.ts";
import { BasicAuthSchema, compileBasicAuth, type BasicAuthSpec, type CompiledBasicAuth } from "./compile.ts";

export const basicAuth = defineFeature<BasicAuthSpec, CompiledBasicAuth>({
  field: "basicAuth",
  label: "BasicAuth",
  order: 8,
  schema: BasicAuthSchema,
  compile: compileBasicAuth,
  upstreamHeaders: (config) => (config.forwardUsernameHeader === undefined ? [] : [config.forwardUsernameHeader]),
  summary: (config) => ({
    users: config.usernames,
    ...(config.forwardUsernameHeader === undefined ? {} : { forwardUsernameHeader: config.forwardUsernameHeader }),
  }),
  check: (config, request, where, _passed, ctx) =>
    checkBasicAuth(config, request, where, ctx.passwords, ctx.memo.verifiedPasswords, ctx.trace),
});
