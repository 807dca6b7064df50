/**
 * Command line and environment → one validated, frozen Config. The only module that reads
 * process.env or argv; everything else receives the Config it needs.
 * Every flag `--some-flag` can also be given as PORTCULLIS_SOME_FLAG; a flag beats the variable.
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";
import { cidrSet } from "./compile/cidr.ts";

export const DEFAULT_CONTROLLER_NAME = "portcullis.io/gateway-controller";

const Port = z.coerce.number().int().min(0).max(65535);
/** What every command compiles with. */
const CompileOptions = {
  controllerName: z.string().min(1).default(DEFAULT_CONTROLLER_NAME),
  gatewayClass: z.array(z.string().min(1)).default([]),
};
/** What serve and check decide with. */
const DecideOptions = {
  onNoRoute: z.enum(["deny", "allow"]).default("deny"),
  xffTrustedHops: z.coerce.number().int().min(0).max(10).default(0),
  /** Repeatable, and each value may be a comma-separated list. */
  xffTrustedCidrs: z.preprocess(
    (v) => (Array.isArray(v) ? v.flatMap((s) => String(s).split(",").map((t) => t.trim()).filter((t) => t !== "")) : v),
    z.array(z.string().refine(isCidr, "not a CIDR such as 10.0.0.0/8")).default([]),
  ),
  jwksFetchTimeoutMs: z.coerce.number().int().min(100).max(60_000).default(5000),
};
const ServeSchema = z.object({
  command: z.literal("serve"),
  manifests: z.string().min(1).optional(),
  kubeconfig: z.string().min(1).optional(),
  bindAddress: z.string().min(1).default("0.0.0.0"),
  authzPort: Port.default(9002),
  forwardAuthPort: Port.default(9003),
  adminPort: Port.default(9090),
  grpcPort: Port.default(9001),
  ...CompileOptions,
  ...DecideOptions,
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  shutdownGraceSeconds: z.coerce.number().min(0).max(300).default(10),
  /** Seconds between SIGTERM and closing the ports: readiness fails first, so traffic moves away. */
  shutdownDelaySeconds: z.coerce.number().min(0).max(120).default(5),
  leaseNamespace: z.string().min(1).default("default"),
  leaseName: z.string().min(1).default("portcullis-status-writer"),
  leaseDurationSeconds: z.coerce.number().int().min(2).max(300).default(15),
  /** This replica's name on the Lease and on Events. */
  identity: z.string().min(1),
});
const CheckSchema = z.object({
  command: z.literal("check"),
  manifests: z.string().min(1),
  header: z.array(z.string().regex(/^[^:\s]+:/, "headers are written 'Name: value'")).default([]),
  gateway: z.string().regex(/^[^/\s]+\/[^/\s]+$/, "a Gateway is named namespace/name").optional(),
  ...CompileOptions,
  ...DecideOptions,
  method: z.string().regex(/^[A-Za-z]+$/, "METHOD is a word like GET"),
  url: z.url({ protocol: /^https?$/, error: "URL must be an absolute http(s) URL" }),
});
const CompileSchema = z.object({
  command: z.literal("compile"),
  manifests: z.string().min(1),
  ...CompileOptions,
});
const ConfigSchema = z.discriminatedUnion("command", [ServeSchema, CheckSchema, CompileSchema]);
export type Config = z.infer<typeof ConfigSchema>;
export type ServeConfig = z.infer<typeof ServeSchema>;
export type CheckConfig = z.infer<typeof CheckSchema>;
export type CompileConfig = z.infer<typeof CompileSchema>;

const OPTIONS = {
  manifests: { type: "string" },
  kubeconfig: { type: "string" },
  "bind-address": { type: "string" },
  "authz-port": { type: "string" },
  "forward-auth-port": { type: "string" },
  "admin-port": { type: "string" },
  "grpc-port": { type: "string" },
  "controller-name": { type: "string" },
  "gateway-class": { type: "string", multiple: true },
  "on-no-route": { type: "string" },
  "xff-trusted-hops": { type: "string" },
  "xff-trusted-cidrs": { type: "string", multiple: true },
  "log-level": { type: "string" },
  "shutdown-grace-seconds": { type: "string" },
  "shutdown-delay-seconds": { type: "string" },
  "jwks-fetch-timeout-ms": { type: "string" },
  "lease-namespace": { type: "string" },
  "lease-name": { type: "string" },
  "lease-duration-seconds": { type: "string" },
  identity: { type: "string" },
  header: { type: "string", short: "H", multiple: true },
  gateway: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export const USAGE = `Usage:
  portcullis serve   [--manifests DIR | --kubeconfig FILE]   (neither: in-cluster config)
                     [--authz-port 9002] [--forward-auth-port 9003] [--admin-port 9090] [--grpc-port 9001]
                     [--bind-address 0.0.0.0] [--controller-name NAME] [--gateway-class NAME]...
                     [--on-no-route deny|allow] [--xff-trusted-hops 0 | --xff-trusted-cidrs CIDR...] [--log-level info] [--shutdown-delay-seconds 5] [--shutdown-grace-seconds 10]
                     [--lease-namespace NS] [--lease-name NAME] [--lease-duration-seconds 15] [--identity ID]
  portcullis check   --manifests DIR [-H 'Name: value']... [--gateway NS/NAME] METHOD URL
                     prints the decision as JSON; exit 0 on allow, 1 on deny, 2 on bad usage
  portcullis compile --manifests DIR
                     prints every policy's status as YAML, exactly what would be written
Every flag can also be set as an environment variable: --authz-port is PORTCULLIS_AUTHZ_PORT.`;

export class UsageError extends Error {}

/** Parses argv (without node and script) and the environment; throws UsageError on bad input. */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Readonly<Config> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.values.help === true) throw new UsageError("");
  const [command, ...rest] = parsed.positionals;
  const raw: Record<string, unknown> = { command };
  for (const name of Object.keys(OPTIONS)) {
    if (name === "help") continue;
    const key = name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const fromFlag = (parsed.values as Record<string, unknown>)[name];
    const fromEnv = env[`PORTCULLIS_${name.toUpperCase().replace(/-/g, "_")}`];
    const multiple = (OPTIONS as Record<string, { multiple?: boolean }>)[name]!.multiple === true;
    const value = fromFlag ?? (fromEnv === undefined || fromEnv === "" ? undefined : multiple ? fromEnv.split(",").map((s) => s.trim()) : fromEnv);
    if (value !== undefined) raw[key] = value;
  }
  if (command === "serve") {
    // In a pod, the downward API names the replica and its namespace (see deploy/ and the chart).
    raw.identity ??= env.POD_NAME ?? `${hostname()}-${process.pid}`;
    raw.leaseNamespace ??= env.POD_NAMESPACE;
  }
  if (command === "check") {
    if (rest.length !== 2) throw new UsageError("check needs METHOD and URL");
    [raw.method, raw.url] = rest;
  } else if (rest.length > 0) {
    throw new UsageError(`unexpected arguments: ${rest.join(" ")}`);
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const message = result.error.issues
      .map((i) => (i.path.length === 0 ? i.message : `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`))
      .join("; ");
    throw new UsageError(command === undefined ? "a command is required: serve, check or compile" : message);
  }
  if (result.data.command !== "compile" && result.data.xffTrustedHops > 0 && result.data.xffTrustedCidrs.length > 0) {
    throw new UsageError("--xff-trusted-hops and --xff-trusted-cidrs exclude each other (as Envoy Gateway's numTrustedHops and trustedCIDRs)");
  }
  if (result.data.command === "serve" && result.data.manifests !== undefined && result.data.kubeconfig !== undefined) {
    throw new UsageError("--manifests and --kubeconfig exclude each other");
  }
  if (result.data.command === "serve" && result.data.manifests === undefined && result.data.kubeconfig === undefined && env.KUBERNETES_SERVICE_HOST === undefined) {
    throw new UsageError("serve needs --manifests DIR (standalone) or --kubeconfig FILE, or must run in a Kubernetes pod (in-cluster config)");
  }
  return Object.freeze(result.data);
}

function isCidr(text: string): boolean {
  try {
    cidrSet([text]);
    return true;
  } catch {
    return false;
  }
}
