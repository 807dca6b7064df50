/**
 * Mints a JWT signed by the EXAMPLE issuer key, valid for 10 minutes, for trying the examples:
 *   node_modules/.bin/node deploy/demo-issuer/mint-example-token.ts [subject] [audience] [role,role...]
 * The key is published in this repository: never trust it outside these examples.
 */
import { readFileSync } from "node:fs";
import { importJWK, SignJWT } from "jose";

const USAGE = `usage: node_modules/.bin/node deploy/demo-issuer/mint-example-token.ts [subject] [audience] [role,role...]
Prints a JWT of the example issuer (https://idp.example.com/dex), valid for 10 minutes:
subject alice, audience maas-gateway and no roles unless given (README, "Try it").
`;
const args = process.argv.slice(2);
// A flag is not a subject: "--help" would otherwise mint a token for the user "--help".
const flag = args.find((a) => a.startsWith("-"));
if (flag !== undefined) {
  const help = flag === "-h" || flag === "--help";
  (help ? process.stdout : process.stderr).write(help ? USAGE : `mint-example-token: unknown option ${flag}\n${USAGE}`);
  process.exit(help ? 0 : 2);
}
const jwk = JSON.parse(readFileSync(new URL("./example-idp-signing-key.jwk", import.meta.url), "utf8"));
const [subject = "alice", audience = "maas-gateway", roles = ""] = args;
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
