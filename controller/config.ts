/**
 * Command line and environment → one validated, frozen Config. The only module that reads
 * process.env or argv; everything else receives the Config it needs.
 * Every flag `--some-flag` can also be given as PORTCULLIS_SOME_FLAG; a flag beats the variable.
 * Bad input is a UsageError whose message is plain language ("missing URL", "--authz-port must be
 * a port number from 0 to 65535 (got "70000")"), naming the flag or variable the user wrote.
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { z } from "zod";
import { camel, envName, FLAGS, GLOBAL_FLAGS, PARSE_OPTIONS, POSITIONALS } from "./flags.ts";
import { cidrSet } from "./lib/cidr.ts";

export const DEFAULT_CONTROLLER_NAME = "portcullis.io/gateway-controller";

/** serve's gRPC and HTTP ext_authz ports when not given (check and compile recognise `--self-service` by them too). */
export const DEFAULT_GRPC_PORT = 9001;
export const DEFAULT_AUTHZ_PORT = 9002;

const Port = z.coerce.number().int().min(0).max(65535);
/** A Kubernetes namespace name (an RFC 1123 label). */
const NamespaceName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
/** A GatewayClass controllerName (Gateway API's GatewayController: a domain, "/", a path; no "," here, which lists several). */
const GatewayController = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+;=:]+$/);
/** What every command compiles with. */
const CompileOptions = {
  controllerName: z.string().min(1).default(DEFAULT_CONTROLLER_NAME),
  gatewayClass: z.array(z.string().min(1)).default([]),
  /** MaxMind database files for `clientIPGeoLocations`, read at start-up. */
  geoipDatabase: z.array(z.string().min(1)).default([]),
  /** This Portcullis' own Service, "namespace/name": an extAuth naming it is the hook-up that brings requests here. */
  selfService: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/)
    .optional(),
};
/** A repeatable flag whose values may each be a comma-separated list, as one array. */
const listOf = (item: z.ZodType<string>) =>
  z.preprocess(
    (v) =>
      Array.isArray(v)
        ? v.flatMap((s) =>
            String(s)
              .split(",")
              .map((t) => t.trim())
              .filter((t) => t !== ""),
          )
        : v,
    z.array(item).default([]),
  );
/** What serve and check decide with. */
const DecideOptions = {
  onNoRoute: z.enum(["deny", "allow"]).default("deny"),
  onNoPolicy: z.enum(["allow", "deny"]).default("allow"),
  xffTrustedHops: z.coerce.number().int().min(0).max(10).default(0),
  xffTrustedCidrs: listOf(z.string().refine(isCidr)),
  /** Envoy Gateway's xForwardedFor.disableXForwardedForAppend: Envoy appends no X-Forwarded-For entry. */
  xffPeerNotAppended: z
    .preprocess((v) => (v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v), z.boolean())
    .default(false),
  /** Envoy Gateway's clientIPDetection.customHeader.name, lower-cased (an HTTP field name). */
  clientIpHeader: z
    .string()
    .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/)
    .transform((name) => name.toLowerCase())
    .optional(),
  jwksFetchTimeoutMs: z.coerce.number().int().min(100).max(60_000).default(5000),
};
const ServeSchema = z.object({
  command: z.literal("serve"),
  manifests: z.string().min(1).optional(),
  kubeconfig: z.string().min(1).optional(),
  /** Kubernetes mode: the only namespaces whose objects (Secrets included) are read; empty: every namespace. */
  watchNamespaces: listOf(NamespaceName),
  /** Kubernetes mode: GatewayClass controllerNames of Envoy Gateway besides gateway.envoyproxy.io/… (Gateway API's GatewayController form). */
  envoyGatewayControllerName: listOf(GatewayController),
  bindAddress: z.string().min(1).default("0.0.0.0"),
  authzPort: Port.default(DEFAULT_AUTHZ_PORT),
  forwardAuthPort: Port.default(9003),
  adminPort: Port.default(9090),
  grpcPort: Port.default(DEFAULT_GRPC_PORT),
  ...CompileOptions,
  ...DecideOptions,
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Fraction of allowed requests that get an audit line (denials always do). */
  auditAllowedSampleRate: z.coerce.number().min(0).max(1).default(0),
  /** Bound of each snapshot's verified-JWT cache, MiB of estimated heap (0: every token is verified on each request). */
  jwtCacheMib: z.coerce.number().int().min(0).max(4096).default(16),
  shutdownGraceSeconds: z.coerce.number().min(0).max(300).default(10),
  /** Seconds between SIGTERM/SIGINT and closing the ports: readiness fails first, so traffic moves away. */
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
  header: z.array(z.string().regex(/^[^:\s]+:/)).default([]),
  gateway: z
    .string()
    .regex(/^[^/\s]+\/[^/\s]+$/)
    .optional(),
  /** Print the decision's trace too (authz/trace.ts). */
  explain: z.preprocess((v) => (v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v), z.boolean()).default(false),
  ...CompileOptions,
  ...DecideOptions,
  method: z.string().regex(/^[A-Za-z]+$/),
  url: z.url({ protocol: /^https?$/ }),
});
const CompileSchema = z.object({
  command: z.literal("compile"),
  manifests: z.string().min(1),
  ...CompileOptions,
});
const SCHEMAS = { serve: ServeSchema, check: CheckSchema, compile: CompileSchema } as const;

/** The commands that read manifests and take flags. */
export type ActionName = keyof typeof SCHEMAS;
export const ACTIONS = Object.keys(SCHEMAS) as ActionName[];
export const SHELLS = ["bash", "zsh"] as const;
/** Every command, in the order help lists them. */
export const COMMANDS = [...ACTIONS, "version", "help", "completion"] as const;

export type ServeConfig = z.infer<typeof ServeSchema>;
export type CheckConfig = z.infer<typeof CheckSchema>;
export type CompileConfig = z.infer<typeof CompileSchema>;
export type Config =
  | ServeConfig
  | CheckConfig
  | CompileConfig
  | { readonly command: "version" }
  /** `topic` is the command whose help was asked for; undefined: every command's. */
  | { readonly command: "help"; readonly topic: ActionName | undefined }
  | { readonly command: "completion"; readonly shell: (typeof SHELLS)[number] };

const shapeOf = (command: ActionName): Readonly<Record<string, z.ZodType>> => SCHEMAS[command].shape;

/** A flag as help and shell completion show it. */
export interface FlagInfo {
  /** Without dashes: `authz-port`. */
  readonly name: string;
  readonly short: string | undefined;
  /** Placeholder of the value; undefined for a switch. */
  readonly value: string | undefined;
  readonly help: string;
  /** The value used when neither the flag nor its variable is set, as text; undefined: none. */
  readonly default: string | undefined;
  /** The only values accepted, when there is a fixed list. */
  readonly choices: readonly string[] | undefined;
  /** The environment variable that also sets it; undefined for help and version. */
  readonly env: string | undefined;
}

/** The flags `command` takes (its own, then help and version), in FLAGS order. */
export function flagsOf(command: ActionName): FlagInfo[] {
  const shape = shapeOf(command);
  const own = Object.entries(FLAGS)
    .filter(([name]) => camel(name) in shape)
    .map(([name, spec]): FlagInfo => {
      const schema = shape[camel(name)]!;
      const fallback = schema.safeParse(undefined);
      const shown =
        fallback.success && fallback.data !== undefined && !(Array.isArray(fallback.data) && fallback.data.length === 0)
          ? String(fallback.data)
          : undefined;
      return {
        name,
        short: spec.short,
        value: spec.value,
        help: spec.help,
        default: shown,
        choices: choicesOf(schema),
        env: envName(name),
      };
    });
  const global = Object.entries(GLOBAL_FLAGS).map(
    ([name, spec]): FlagInfo => ({
      name,
      short: spec.short,
      value: undefined,
      help: spec.help,
      default: undefined,
      choices: undefined,
      env: undefined,
    }),
  );
  return [...own, ...global];
}

function choicesOf(schema: z.ZodType): readonly string[] | undefined {
  const inner = schema instanceof z.ZodDefault ? schema.unwrap() : schema;
  return inner instanceof z.ZodEnum ? (inner.options as string[]) : undefined;
}

/** Bad usage; `command` is the command whose usage line should follow the message, if known. */
export class UsageError extends Error {
  readonly command: ActionName | undefined;
  constructor(message: string, command?: ActionName) {
    super(message);
    this.command = command;
  }
}

const isAction = (word: string | undefined): word is ActionName => word !== undefined && Object.hasOwn(SCHEMAS, word);
const listed = (words: readonly string[]) => `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;

/** Parses argv (without node and script) and the environment; throws UsageError on bad input. */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Readonly<Config> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof PARSE_OPTIONS; allowPositionals: true; tokens: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: PARSE_OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw new UsageError(plainParseError(e as NodeJS.ErrnoException), argv.find(isAction));
  }
  // parseArgs keeps the last of a single-valued flag given twice: `--manifests team-a --manifests
  // team-b` would enforce team-b alone, leaving team-a's routes without their policies.
  const given = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== "option" || token.value === undefined || PARSE_OPTIONS[token.name]?.multiple) continue;
    if (given.has(token.name)) throw new UsageError(`--${token.name} takes one value; it is given more than once`, argv.find(isAction));
    given.add(token.name);
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help === true) return Object.freeze({ command: "help", topic: isAction(command) ? command : undefined });
  if (parsed.values.version === true) return Object.freeze({ command: "version" });
  switch (command) {
    case undefined:
      throw new UsageError(`a command is required: ${listed(COMMANDS)}`);
    case "version":
      expectNoMore(rest);
      return Object.freeze({ command });
    case "help": {
      const [topic, ...more] = rest;
      expectNoMore(more);
      if (topic !== undefined && !isAction(topic) && !(COMMANDS as readonly string[]).includes(topic))
        throw new UsageError(`there is no command "${topic}"; the commands are ${listed(COMMANDS)}`);
      return Object.freeze({ command, topic: isAction(topic) ? topic : undefined });
    }
    case "completion": {
      const [shell, ...more] = rest;
      expectNoMore(more);
      if (shell !== "bash" && shell !== "zsh")
        throw new UsageError(
          shell === undefined ? `missing SHELL: ${listed(SHELLS)}` : `no completion for "${shell}": the shells are ${listed(SHELLS)}`,
        );
      return Object.freeze({ command, shell });
    }
  }
  if (!isAction(command)) throw new UsageError(`there is no command "${command}"; the commands are ${listed(COMMANDS)}`);

  const shape = shapeOf(command);
  const raw: Record<string, unknown> = { command };
  /** Where each value came from, to name it in an error the way the user wrote it. */
  const origin: Record<string, string> = {};
  for (const [name, spec] of Object.entries(FLAGS)) {
    const key = camel(name);
    const fromFlag = parsed.values[name];
    if (!(key in shape)) {
      if (fromFlag !== undefined) throw new UsageError(`${command} takes no --${name}`, command);
      continue;
    }
    const fromEnv = env[envName(name)];
    if (fromFlag !== undefined) {
      raw[key] = fromFlag;
      origin[key] = `--${name}`;
    } else if (fromEnv !== undefined && fromEnv !== "") {
      raw[key] = spec.multiple ? fromEnv.split(",").map((s) => s.trim()) : fromEnv;
      origin[key] = envName(name);
    }
  }
  if (command === "serve") {
    // In a pod, the downward API names the replica and its namespace (see deploy/ and the chart).
    raw.identity ??= env.POD_NAME ?? `${hostname()}-${process.pid}`;
    raw.leaseNamespace ??= env.POD_NAMESPACE;
  }
  // `compile deploy/examples`, `check deploy/examples GET URL`: the folder given without its flag.
  const folderFirst =
    raw.manifests === undefined && raw.kubeconfig === undefined && rest.length === (command === "check" ? 3 : 1) ? rest[0] : undefined;
  if (folderFirst !== undefined) {
    throw new UsageError(`unexpected argument: ${folderFirst} (a manifest folder is given as --manifests ${folderFirst})`, command);
  }
  if (command === "check") {
    if (rest.length < 2) throw new UsageError(rest.length === 0 ? "missing METHOD and URL" : "missing URL", command);
    expectNoMore(rest.slice(2), command);
    [raw.method, raw.url] = rest;
  } else {
    expectNoMore(rest, command);
  }
  const result = SCHEMAS[command].safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new UsageError([...new Set(result.error.issues.map((issue) => plainIssue(issue, raw, origin, shape)))].join("; "), command);
  }
  const config = result.data;
  if (config.command !== "compile" && config.xffTrustedHops > 0 && config.xffTrustedCidrs.length > 0) {
    throw new UsageError(
      "--xff-trusted-hops and --xff-trusted-cidrs exclude each other (as Envoy Gateway's numTrustedHops and trustedCIDRs)",
      command,
    );
  }
  if (config.command !== "compile" && config.xffPeerNotAppended && config.xffTrustedHops === 0 && config.xffTrustedCidrs.length === 0) {
    throw new UsageError(
      "--xff-peer-not-appended needs --xff-trusted-hops or --xff-trusted-cidrs (Envoy Gateway's disableXForwardedForAppend is a setting of xForwardedFor)",
      command,
    );
  }
  if (
    config.command !== "compile" &&
    config.clientIpHeader !== undefined &&
    (config.xffTrustedHops > 0 || config.xffTrustedCidrs.length > 0)
  ) {
    throw new UsageError(
      "--client-ip-header excludes --xff-trusted-hops and --xff-trusted-cidrs (as Envoy Gateway's customHeader excludes xForwardedFor)",
      command,
    );
  }
  if (config.command === "serve" && config.manifests !== undefined && config.kubeconfig !== undefined) {
    throw new UsageError("--manifests and --kubeconfig exclude each other: give one", command);
  }
  if (config.command === "serve" && config.manifests !== undefined && config.watchNamespaces.length > 0) {
    throw new UsageError("--watch-namespaces limits what is read from Kubernetes: it does not apply to --manifests", command);
  }
  if (config.command === "serve" && config.manifests !== undefined && config.envoyGatewayControllerName.length > 0) {
    throw new UsageError(
      "--envoy-gateway-controller-name names Envoy Gateway's GatewayClasses for the ClientTrafficPolicies Kubernetes mode watches: it does not apply to --manifests",
      command,
    );
  }
  if (
    config.command === "serve" &&
    config.manifests === undefined &&
    config.kubeconfig === undefined &&
    env.KUBERNETES_SERVICE_HOST === undefined
  ) {
    throw new UsageError(
      "serve needs --manifests DIR (standalone) or --kubeconfig FILE, or must run in a Kubernetes pod (in-cluster config)",
      command,
    );
  }
  return Object.freeze(config);
}

function expectNoMore(words: readonly string[], command?: ActionName): void {
  if (words.length > 0) throw new UsageError(`unexpected ${words.length === 1 ? "argument" : "arguments"}: ${words.join(" ")}`, command);
}

/** node:util parseArgs' messages, said plainly. */
function plainParseError(e: NodeJS.ErrnoException): string {
  const flag = /'(?:-\w, )?(--?[\w-]+)/.exec(e.message)?.[1] ?? "";
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown flag ${flag}`;
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE")
    return e.message.includes("does not take an argument") ? `${flag} takes no value` : `${flag} needs a value`;
  return e.message;
}

function plainIssue(
  issue: z.core.$ZodIssue,
  raw: Record<string, unknown>,
  origin: Record<string, string>,
  shape: Readonly<Record<string, z.ZodType>>,
): string {
  const key = String(issue.path[0]);
  const positional = POSITIONALS[key];
  const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const spec = FLAGS[flag];
  // The value as written; an element of a list is the one zod reports (lists may be split first).
  const value = issue.path.length > 1 ? issue.input : raw[key];
  if (value === undefined) return `missing ${positional?.label ?? `--${flag}${spec?.value === undefined ? "" : ` ${spec.value}`}`}`;
  const choices = choicesOf(shape[key]!);
  const expects = positional?.expects ?? (choices === undefined ? spec?.expects : `one of ${choices.join(", ")}`) ?? issue.message;
  return `${positional?.label ?? origin[key] ?? `--${flag}`} must be ${expects} (got ${JSON.stringify(value)})`;
}

function isCidr(text: string): boolean {
  try {
    cidrSet([text]);
    return true;
  } catch {
    return false;
  }
}
