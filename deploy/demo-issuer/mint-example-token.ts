/**
 * Mints a JWT signed by the EXAMPLE issuer key, valid for 10 minutes, for trying the examples:
 *   node_modules/.bin/node deploy/demo-issuer/mint-example-token.ts [subject] [audience] [role,role...]
 * The key is published in this repository: never trust it outside these examples.
 */
import { readFileSync } from "node:fs";
import { importJWK, SignJWT } from "jose";

const jwk = JSON.parse(readFileSync(new URL("./example-idp-signing-key.jwk", import.meta.url), "utf8"));
const [subject = "alice", audience = "maas-gateway", roles = ""] = process.argv.slice(2);
const key = await importJWK(jwk, "ES256");
const token = await new SignJWT({ email: `${subject}@example.com`, department: "research", roles: roles === "" ? [] : roles.split(",") })
  .setProtectedHeader({ alg: "ES256", kid: jwk.kid, typ: "JWT" })
  .setIssuer("https://idp.example.com/dex")
  .setAudience(audience)
  .setSubject(subject)
  .setIssuedAt()
  .setExpirationTime("10m")
  .sign(key);
process.stdout.write(`${token}\n`);
