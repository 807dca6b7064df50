/**
 * Envoy Gateway's own SecurityPolicy CRD, as its release ships it, read from a git clone of
 * envoyproxy/gateway (PORTCULLIS_ENVOY_GATEWAY_GIT; `make test` passes one) at the release tag and
 * checked against the digest of that release's file. Nothing of it is copied into this repository.
 * Without the clone the test fails, never skips.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";

export const ENVOY_GATEWAY_RELEASE = "v1.9.0";
const CRD_PATH = "charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_securitypolicies.yaml";
/** SHA-256 of that file at ENVOY_GATEWAY_RELEASE. */
const CRD_SHA256 = "6412914ec5b7c48f58b85f60a80767ba15a50c8d374480cf5f2d872e4a764466";

/** The CRD's YAML text; throws, saying what to set, when the clone or the release is missing or the file differs. */
export function envoyGatewaySecurityPolicyCrd(): string {
  const git = process.env.PORTCULLIS_ENVOY_GATEWAY_GIT;
  const hint = `set PORTCULLIS_ENVOY_GATEWAY_GIT to a git clone of https://github.com/envoyproxy/gateway holding tag ${ENVOY_GATEWAY_RELEASE}`;
  if (!git) throw new Error(`PORTCULLIS_ENVOY_GATEWAY_GIT is not set; ${hint}`);
  let text: string;
  try {
    text = execFileSync("git", ["-C", git, "show", `${ENVOY_GATEWAY_RELEASE}:${CRD_PATH}`], { encoding: "utf8", maxBuffer: 16 << 20 });
  } catch (e) {
    throw new Error(`cannot read ${CRD_PATH} at ${ENVOY_GATEWAY_RELEASE} from ${git}: ${(e as Error).message}; ${hint}`);
  }
  const digest = createHash("sha256").update(text).digest("hex");
  if (digest !== CRD_SHA256) throw new Error(`${CRD_PATH} at ${ENVOY_GATEWAY_RELEASE} in ${git} has SHA-256 ${digest}, not ${CRD_SHA256}`);
  return text;
}
